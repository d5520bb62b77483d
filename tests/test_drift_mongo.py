"""Scripted drift on MongoDB: structure inferred from documents, so besides the structural
classes there is statistical drift (a type's share, a field's presence or null ratio)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from drift_cli import baseline, live_check, write_config
from pymongo import MongoClient
from pymongo.collection import Collection

Docs = Collection[dict[str, Any]]


def _new_docs(n: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"name": f"n{i}", **fields} for i in range(n)]


SCENARIOS: dict[str, tuple[Callable[[Docs], object], set[tuple[str, str | None, str, str]]]] = {
    "a new field appears in new documents": (
        lambda c: c.insert_many(_new_docs(10, age=1, email="x@example.com")),
        {("people", "email", "additive", "field_added")},
    ),
    "a field's type changes in new documents (union)": (
        lambda c: c.insert_many(_new_docs(40, age="forty")),
        {
            ("people", "age", "additive", "type"),  # int → int | str
            ("people", "age", "statistical", "type_share"),
        },
    ),
    "a field disappears": (
        lambda c: c.update_many({}, {"$unset": {"age": ""}}),
        {("people", "age", "breaking", "field_removed")},
    ),
    "a field is missing from new documents": (
        lambda c: c.insert_many(_new_docs(40)),
        {
            ("people", "age", "breaking", "may_be_missing"),
            ("people", "age", "additive", "required"),
            ("people", "age", "statistical", "presence"),
        },
    ),
    "new documents carry null": (
        lambda c: c.insert_many(_new_docs(20, age=None)),
        {
            ("people", "age", "breaking", "nullable"),
            ("people", "age", "additive", "required"),
            ("people", "age", "statistical", "null_ratio"),
            ("people", "age", "statistical", "type_share"),  # null is one of the types
        },
    ),
    "a collection appears": (
        lambda c: c.database["orders"].insert_one({"total": 3}),
        {("orders", None, "additive", "collection_added")},
    ),
}


def _project(tmp_path: Path, db: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Docs:
    url, name = db
    monkeypatch.setenv("XREPO_DRIFT_MONGO", url)
    write_config(
        tmp_path,
        f'name = "docs"\nkind = "mongo"\nurl_env = "XREPO_DRIFT_MONGO"\ndatabase = "{name}"\n'
        "minority_threshold = 0.2",
    )
    client: MongoClient[dict[str, Any]] = MongoClient(url)
    people = client[name]["people"]
    people.insert_many([{"name": f"p{i}", "age": 20 + i} for i in range(40)])
    return people


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_mongo_drift(
    scenario: str,
    mongo_db: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mutate, expected = SCENARIOS[scenario]
    people = _project(tmp_path, mongo_db, monkeypatch)
    baseline(tmp_path)
    mutate(people)
    code, changes = live_check(tmp_path)
    assert changes == expected
    assert code == 1


def test_a_minority_type_is_statistical_drift_only(
    mongo_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the source's minority_threshold the type stays `int` (a warning, no union): the
    only signal is the share of str moving past --stat-threshold."""
    people = _project(tmp_path, mongo_db, monkeypatch)
    baseline(tmp_path)
    people.insert_many(_new_docs(8, age="eight"))  # 8 of 48: 17% str
    code, changes = live_check(tmp_path)
    assert changes == {("people", "age", "statistical", "type_share")}
    assert code == 1
    assert live_check(tmp_path, "--fail-on", "additive") == (0, changes)
    # a higher threshold does not see it
    assert live_check(tmp_path, "--stat-threshold", "0.2") == (0, set())
