"""SQLite pushdown: what runs in SQL, what runs in memory, and that values stay parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from xrepo.runtime import (
    ConnectedRepo,
    MaterializedRepo,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)


class Item(XObjPrototype):
    id: int
    kind: str | None = Field(default=None, alias='ki"nd; --')
    qty: int | None = None
    price: float | None = None
    tags: list[str] = Field(default_factory=list)


META = RepoMetadata(name="items", collection='it"ems', primary_key=("id",))


class Items(ConnectedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = META


class MemItems(MaterializedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = META


ROWS = [
    {"id": i, "kind": k, "qty": q, "price": p, "tags": t}
    for i, (k, q, p, t) in enumerate(
        [("a", 1, 1.0, ["x"]), ("b", 2, 2.5, []), ("a", None, 4.0, ["y", "x"]),
         ("c", 3, None, ["z"]), (None, 5, 0.5, [])],
        start=1,
    )
]  # fmt: skip


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[Items]:
    path = tmp_path / "i.db"
    with sqlite3.connect(path) as db:
        db.execute(
            'CREATE TABLE "it""ems" (id INTEGER PRIMARY KEY, "ki""nd; --" TEXT, qty INTEGER, '
            "price REAL, tags TEXT)"
        )
    backend = SQLiteBackend(path)
    items = Items(backend)
    await items.bulk_create(ROWS)
    yield items
    await backend.close()


WHOLE = [
    {"$match": {"qty": {"$gte": 1}}},
    {"$group": {"_id": "$kind", "n": {"$sum": 1}, "total": {"$sum": "$qty"},
                "avg": {"$avg": "$price"}, "top": {"$max": "$price"}, "low": {"$min": "$qty"}}},
    {"$sort": {"total": -1}},
    {"$limit": 2},
]  # fmt: skip


async def test_match_group_sort_limit_runs_wholly_in_sql(repo: Items) -> None:
    plan = repo.explain_aggregate(WHOLE)
    assert plan["backend"] == "SQLiteBackend"
    assert plan["sql_stages"] == ["$match", "$group", "$sort", "$limit"]
    assert plan["memory_stages"] == []
    assert "GROUP BY" in plan["sql"] and "ORDER BY" in plan["sql"] and "LIMIT" in plan["sql"]
    assert await repo.aggregate(WHOLE) == [
        {"_id": None, "n": 1, "total": 5, "avg": 0.5, "top": 0.5, "low": 5},
        {"_id": "c", "n": 1, "total": 3, "avg": None, "top": None, "low": 3},
    ]
    assert await MemItems(ROWS).aggregate(WHOLE) == await repo.aggregate(WHOLE)


async def test_push_runs_the_tail_in_memory(repo: Items) -> None:
    pipe = [
        {"$match": {"kind": {"$ne": None}}},
        {"$group": {"_id": "$kind", "ids": {"$push": "$id"}}},
        {"$sort": {"_id": 1}},
    ]
    plan = repo.explain_aggregate(pipe)
    assert plan["sql_stages"] == ["$match"]
    assert plan["memory_stages"] == ["$group", "$sort"]
    assert [s["runs_in"] for s in plan["stages"]] == ["sql", "memory", "memory"]
    assert await repo.aggregate(pipe) == [
        {"_id": "a", "ids": [1, 3]},
        {"_id": "b", "ids": [2]},
        {"_id": "c", "ids": [4]},
    ]


async def test_prefix_stops_at_the_first_unpushable_stage(repo: Items) -> None:
    pipe = [
        {"$match": {"id": {"$lte": 4}}},
        {"$project": {"id": 1, "qty": 1, "k": "$kind"}},
        {"$addFields": {"double": {"$multiply": ["$qty", 2]}}},
        {"$sort": {"id": 1}},  # after an in-memory stage: in memory too
    ]
    plan = repo.explain_aggregate(pipe)
    assert plan["sql_stages"] == ["$match", "$project"]
    assert plan["memory_stages"] == ["$addFields", "$sort"]
    rows = await repo.aggregate(pipe)
    assert rows[0] == {"id": 1, "qty": 1, "k": "a", "double": 2}
    assert rows[2] == {"id": 3, "qty": None, "k": "a", "double": None}


async def test_match_after_paging_wraps_a_subquery(repo: Items) -> None:
    pipe = [{"$sort": {"id": 1}}, {"$limit": 3}, {"$match": {"qty": {"$gte": 2}}}, {"$count": "n"}]
    plan = repo.explain_aggregate(pipe)
    assert plan["memory_stages"] == []
    assert "AS _s1" in plan["sql"]
    assert await repo.aggregate(pipe) == [{"n": 1}]
    assert await MemItems(ROWS).aggregate(pipe) == [{"n": 1}]


async def test_later_match_with_a_type_mismatch_stays_in_memory(repo: Items) -> None:
    pipe = [{"$group": {"_id": "$kind", "n": {"$sum": 1}}}, {"$match": {"n": "2"}}]
    plan = repo.explain_aggregate(pipe)
    assert plan["sql_stages"] == ["$group"] and plan["memory_stages"] == ["$match"]
    assert await repo.aggregate(pipe) == []  # "2" is not 2, as in MongoDB


async def test_values_are_parameters_and_identifiers_are_quoted(repo: Items) -> None:
    hostile = "a' OR 1=1 --"
    pipe = [{"$match": {"kind": hostile}}, {"$group": {"_id": "$kind", "n": {"$sum": 1}}}]
    plan = repo.explain_aggregate(pipe)
    assert hostile not in plan["sql"] and hostile in plan["params"]
    assert '"ki""nd; --"' in plan["sql"] and '"it""ems"' in plan["sql"]
    assert await repo.aggregate(pipe) == []
    rows = await repo.aggregate([{"$group": {"_id": "$kind", "n": {"$sum": 1}}}])
    assert sorted(r["n"] for r in rows) == [1, 1, 1, 2]


async def test_array_membership_in_a_pushed_match(repo: Items) -> None:
    pipe = [{"$match": {"tags": "x"}}, {"$unwind": "$tags"}, {"$sortByCount": "$tags"}]
    plan = repo.explain_aggregate(pipe)
    assert plan["sql_stages"] == ["$match", "$unwind", "$sortByCount"]
    assert "json_each" in plan["sql"]
    assert await repo.aggregate(pipe) == [{"_id": "x", "count": 2}, {"_id": "y", "count": 1}]


def test_memory_backend_explain() -> None:
    plan = MemItems(ROWS).explain_aggregate(WHOLE)
    assert plan["backend"] == "MemoryBackend"
    assert [s["runs_in"] for s in plan["stages"]] == ["backend", "memory", "memory", "memory"]
    assert plan["sql"] is None and plan["sql_stages"] == []
