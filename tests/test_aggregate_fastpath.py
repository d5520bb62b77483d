"""The generated ``$group`` scan (runtime/aggregate/fastgroup.py) returns exactly what the
general, state-object grouper returns — same groups in the same order, same values *and types*
(``1`` vs ``1.0`` vs ``True``, Decimal widening), same errors — on random documents with nulls,
missing fields, mixed types, bools, Decimals, nested objects and arrays; hostile field names
never reach the generated source; stored read-only rows are read in place without being
changed; ``Pipeline.run_stored`` (the leading filter fused with the scan) agrees with ``run``."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from xrepo.runtime import (
    MaterializedRepo,
    QueryError,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)
from xrepo.runtime.aggregate import compile_pipeline
from xrepo.runtime.aggregate.engine import no_fetch
from xrepo.runtime.aggregate.expr import Scope, compile_expr
from xrepo.runtime.aggregate.fastgroup import compile_group
from xrepo.runtime.aggregate.stages import GroupStage, general_grouper, parse_stage
from xrepo.runtime.backends.readonly import freeze_row
from xrepo.runtime.query.predicate import compile_filter

D = decimal.Decimal
NAN = float("nan")
CASES = {"group": 0, "stored": 0}

# -- random documents --------------------------------------------------------------------------
scalars = st.sampled_from(
    [
        None, True, False, 0, 1, -2, 10**20, 1.0, 0.5, -0.0, 2.5, NAN, D("1"), D("2.5"), D("-0.1"),
        "", "a", "b", "A", "1", datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 12),
    ]
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["p", "q"]), inner, max_size=2)
    ),
    max_leaves=6,
)
docs = st.dictionaries(st.sampled_from(["a", "b", "g", "o", "arr"]), values, max_size=5)

KEYS: list[Any] = [
    None, "k", 1, True, "$a", "$g", "$o", "$o.p", "$o.p.q", "$arr.p", "$arr", "$$ROOT",
    {"x": "$a", "y": "$o.p"}, {"x": "$g"}, {"x": "$a", "c": 1, "n": {"m": "$b"}},
    {"$toLower": "$g"}, ["$a", "$b"],
]  # fmt: skip
ARGS: list[Any] = [
    "$a", "$b", "$g", "$o", "$o.p", "$o.p.q", "$arr", "$arr.p", "$$ROOT", "$$CURRENT.a",
    1, 0, 0.5, D("2"), "x", None, True, {"$add": ["$a", 1]}, {"$ifNull": ["$b", "$a"]},
]  # fmt: skip
OPS = ["$sum", "$avg", "$min", "$max", "$count", "$push", "$addToSet", "$first", "$last"]


@st.composite
def group_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"_id": draw(st.sampled_from(KEYS))}
    for i in range(draw(st.integers(0, 5))):
        op = draw(st.sampled_from(OPS))
        spec[f"f{i}"] = {op: {} if op == "$count" else draw(st.sampled_from(ARGS))}
    return spec


def typed(value: Any) -> Any:
    """A comparable form that keeps types apart (``1``, ``1.0``, ``True``, ``Decimal(1)``)."""
    if isinstance(value, dict):
        return ("dict", tuple((k, typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(typed(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, repr(value))


def outcome(run: Any, rows: list[dict[str, Any]]) -> Any:
    try:
        return typed(run(rows))
    except Exception as exc:  # both paths must fail the same way
        return ("raised", type(exc).__name__, str(exc))


def both(spec: dict[str, Any]) -> tuple[Any, Any]:
    stage = parse_stage(0, {"$group": spec}, None, None)
    assert isinstance(stage, GroupStage)
    general = general_grouper(
        compile_expr(spec["_id"], Scope("pipeline[0] ($group)")), stage.accumulators
    )
    return stage.run, general


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(docs, max_size=14), spec=group_specs(), frozen=st.booleans())
def test_fast_group_equals_general(
    rows: list[dict[str, Any]], spec: dict[str, Any], frozen: bool
) -> None:
    if frozen:  # the memory backend's stored rows: read-only dict subclasses
        rows = [freeze_row(r) for r in rows]
    fast, general = both(spec)
    CASES["group"] += 1
    assert outcome(fast, rows) == outcome(general, rows), spec


def test_report_group_cases() -> None:
    print(f"fast $group vs general: {CASES['group']} random cases compared")


# -- specific semantics ------------------------------------------------------------------------
def test_sum_widens_to_decimal_like_the_general_path() -> None:
    rows = [{"g": 1, "x": 0.1}, {"g": 1, "x": D("0.2")}, {"g": 1, "x": 0.3}, {"g": 1, "x": True}]
    spec = {"_id": "$g", "s": {"$sum": "$x"}, "a": {"$avg": "$x"}, "n": {"$sum": 1}}
    fast, general = both(spec)
    got = fast(rows)
    assert typed(got) == typed(general(rows))
    assert got == [{"_id": 1, "s": D("0.6"), "a": D("0.2"), "n": 4}]
    assert isinstance(got[0]["s"], D)


def test_missing_and_null_group_together_and_min_max_skip_them() -> None:
    rows = [{"v": 3}, {"g": None, "v": None}, {"g": 1}, {"g": 1.0, "v": 1}, {"g": True, "v": 2}]
    spec = {"_id": "$g", "lo": {"$min": "$v"}, "hi": {"$max": "$v"}, "f": {"$first": "$v"}}
    fast, general = both(spec)
    got = fast(rows)
    assert typed(got) == typed(general(rows))
    assert got == [
        {"_id": None, "lo": 3, "hi": 3, "f": 3},
        {"_id": 1, "lo": 1, "hi": 1, "f": None},
        {"_id": True, "lo": 2, "hi": 2, "f": 2},
    ]
    assert type(got[1]["_id"]) is int  # the first value seen for 1 == 1.0


def test_the_group_stage_runs_generated_code() -> None:
    stage = parse_stage(0, {"$group": {"_id": "$g", "n": {"$sum": 1}}}, None, None)
    assert stage.run is not None
    assert stage.run.__code__.co_filename == "<xrepo $group>"
    sbc = parse_stage(0, {"$sortByCount": "$g"}, None, None)
    rows = [{"g": "b"}, {"g": "a"}, {"g": "b"}, {}]
    assert sbc.run is not None and sbc.run(rows) == [
        {"_id": "b", "count": 2},
        {"_id": "a", "count": 1},
        {"_id": None, "count": 1},
    ]


HOSTILE = [
    "a']; __import__('os')  #",
    "line\nbreak",
    '"""',
    "\\n",
    "e[0]",
    "c0",
    "__class__",
    "r",
    "k",
    "{x}",
    "é ü",
]


def _hostile_spec(name: str) -> dict[str, Any]:
    return {
        "_id": {name: "$" + name, "z": "$o." + name},
        "out " + name: {"$sum": "$" + name},
        "f " + name: {"$first": "$o." + name},
        "p " + name: {"$push": name},
    }


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_out_of_the_source(name: str) -> None:
    spec = _hostile_spec(name)
    rows = [
        {name: 2, "o": {name: "x"}},
        {name: 3.5, "o": {name: "x"}},
        {"o": {name: "y"}},
        {name: "not a number", "o": {}},
    ]
    stage = parse_stage(0, {"$group": spec}, None, None)
    assert isinstance(stage, GroupStage)
    compiled = compile_group(spec["_id"], stage.accumulators, Scope("t"))
    # The source depends on the shape only: the same as for a benign name.
    plain = _hostile_spec("plain")
    plain_stage = parse_stage(0, {"$group": plain}, None, None)
    assert isinstance(plain_stage, GroupStage)
    assert (
        compiled.source == compile_group(plain["_id"], plain_stage.accumulators, Scope("t")).source
    )
    assert "plain" not in compiled.source
    fast, general = both(spec)
    assert typed(fast(rows)) == typed(general(rows))
    assert fast(rows)[0] == {
        "_id": {name: 2, "z": "x"},
        "out " + name: 2,
        "f " + name: "x",
        "p " + name: [name],
    }


def test_same_shape_reuses_compiled_code() -> None:
    a = compile_group("$x", [], Scope("t"))
    b = compile_group("$y", [], Scope("t"))
    assert a.source == b.source


def test_unknown_field_still_rejected() -> None:
    with pytest.raises(QueryError, match="unknown field 'nope'"):
        parse_stage(1, {"$group": {"_id": "$nope"}}, frozenset({"a"}), None)
    with pytest.raises(QueryError, match="unknown field 'nope'"):
        parse_stage(1, {"$group": {"_id": None, "s": {"$sum": "$nope.x"}}}, frozenset({"a"}), None)


# -- through the engine: stored rows, read in place ----------------------------------------------
class Item(XObjPrototype):
    id: int
    g: str | None = None
    n: int | None = None
    x: float | None = None
    amount: decimal.Decimal | None = None
    ok: bool | None = None
    tags: list[str] = Field(default_factory=list)
    deleted_at: datetime.datetime | None = None


class Items(MaterializedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = RepoMetadata(name="items", collection="items", primary_key=("id",))


class SoftItems(MaterializedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = RepoMetadata(name="items", collection="items", primary_key=("id",), soft_delete=True)


item_rows = st.lists(
    st.fixed_dictionaries(
        {
            "g": st.none() | st.sampled_from(["a", "b", "c"]),
            "n": st.none() | st.integers(-3, 3),
            "x": st.none() | st.sampled_from([0.5, -1.0, 2.25]),
            "amount": st.none() | st.sampled_from([D("1.5"), D("-2")]),
            "ok": st.none() | st.booleans(),
            "tags": st.lists(st.sampled_from(["p", "q"]), max_size=2),
            "deleted_at": st.none() | st.just(datetime.datetime(2024, 1, 1)),
        }
    ),
    max_size=12,
)
PIPES: list[list[dict[str, Any]]] = [
    [{"$group": {"_id": "$g", "s": {"$sum": "$n"}, "a": {"$avg": "$x"}, "c": {"$count": {}}}}],
    [{"$group": {"_id": None, "m": {"$sum": "$amount"}, "t": {"$addToSet": "$tags"}}}],
    [{"$match": {"n": {"$gte": 0}}}, {"$group": {"_id": "$ok", "ids": {"$push": "$id"}}}],
    [{"$sortByCount": "$g"}],
    [{"$match": {"ok": True}}, {"$sort": {"id": -1}}, {"$limit": 3}],
    [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}}],
    [{"$sort": {"x": 1, "id": 1}}],
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=item_rows, soft=st.booleans())
def test_run_stored_fuses_the_filter_and_agrees_with_run(
    rows: list[dict[str, Any]], soft: bool
) -> None:
    data = [{"id": i, **r} for i, r in enumerate(rows)]
    repo = (SoftItems if soft else Items)(data)
    plan = repo.plan()
    stored = [freeze_row(Item.model_validate(d).model_dump()) for d in data]

    async def run() -> None:
        for pipe in PIPES:
            compiled = compile_pipeline(plan.table, pipe, plan.alive)
            fused = await compiled.run_stored(iter(stored), frozenset(Item.model_fields), no_fetch)
            where = compile_filter(compiled.where)
            plain = await compiled.run(where.scan(stored), no_fetch)
            via_repo = await repo.aggregate(pipe)
            assert typed(fused) == typed(plain) == typed(via_repo), pipe
            CASES["stored"] += 1

    asyncio.run(run())


def test_report_stored_cases() -> None:
    print(f"run_stored vs run vs repo.aggregate: {CASES['stored']} pipelines compared")


async def test_results_are_the_callers_and_the_store_is_untouched() -> None:
    data = [
        {"id": 1, "g": "a", "n": 1, "tags": ["p", "q"]},
        {"id": 2, "g": "b", "n": 2, "tags": []},
    ]
    repo = Items(data)
    before = await repo.aggregate([{"$sort": {"id": 1}}])
    # Pass-through pipelines return copies the caller may change.
    out = await repo.aggregate([{"$match": {"g": "a"}}])
    assert type(out[0]) is dict
    out[0]["g"] = "changed"
    # Stages that write build new documents from the read-only stored rows.
    for pipe in (
        [{"$addFields": {"n": 9, "extra.deep": 1}}],
        [{"$set": {"tags": "$g"}}, {"$unset": "g"}],
        [{"$project": {"g": 0}}],
        [{"$project": {"id": 1, "m": {"$add": ["$n", 1]}}}],
        [{"$unwind": {"path": "$tags", "includeArrayIndex": "i"}}],
        [{"$group": {"_id": "$g", "docs": {"$push": "$$ROOT"}}}],
    ):
        await repo.aggregate(pipe)
    assert await repo.aggregate([{"$sort": {"id": 1}}]) == before
    assert [r["g"] for r in before] == ["a", "b"]


# -- SQLite pushdown: a $sort made moot by a grouping stage binds no stray parameters -------------
async def test_sort_on_a_json_path_before_count_and_group_on_sqlite(tmp_path: Path) -> None:
    from test_aggregate_stages import ROWS, SALES_DDL, SqlSales

    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.execute(SALES_DDL)
    backend = SQLiteBackend(path)
    try:
        repo = SqlSales(backend)
        await repo.bulk_create(ROWS)
        sort = {"$sort": {"place.city": 1, "id": 1}}
        assert await repo.aggregate([sort, {"$count": "total"}]) == [{"total": 5}]
        got = await repo.aggregate([sort, {"$group": {"_id": "$region", "n": {"$sum": 1}}}])
        assert sorted((r["_id"] or "", r["n"]) for r in got) == [
            ("", 1), ("north", 2), ("south", 1), ("west", 1)
        ]  # fmt: skip
        plan = repo.explain_aggregate([sort, {"$count": "total"}])
        assert plan["memory_stages"] == []
        # Paged: the order matters inside the subquery and stays.
        top = await repo.aggregate([sort, {"$limit": 2}, {"$count": "total"}])
        assert top == [{"total": 2}]
    finally:
        await backend.close()
