"""The memory backend's fast paths return exactly what the plain paths return.

* generated predicates (inline typed comparisons, shared range reads, indexing known keys)
  against a straightforward interpreter of the AST;
* hash-index lookups (primary key, unique, declared index; ``$eq`` and ``$in``) against the
  same backend without indexes, also after updates and deletes;
* heap top-k and raw sort keys against the plain stable multi-pass sort with null-aware keys;
* read-only stored rows: no copies handed out, yet no caller can change what is stored.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import operator
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from xrepo.runtime import MaterializedRepo, MemoryBackend, RepoMetadata, XObjPrototype
from xrepo.runtime.backends.base import Collection
from xrepo.runtime.backends.readonly import ReadOnlyDict, thaw
from xrepo.runtime.query import (
    And,
    Compare,
    In,
    MatchAll,
    Node,
    Nor,
    Not,
    Or,
    Query,
    SortKey,
    parse_filter,
    parse_sort,
)
from xrepo.runtime.query.predicate import _leaf, _simple, compile_filter
from xrepo.runtime.query.sort import _key, order_rows
from xrepo.runtime.query.values import MISSING, getter

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTC = datetime.UTC
NAIVE = datetime.datetime(2024, 1, 1, 12)
AWARE = datetime.datetime(2024, 1, 1, 12, tzinfo=UTC)


class Place(XObjPrototype):
    city: str | None = None


class Doc(XObjPrototype):
    id: int
    a: int | None = None
    f: float | None = None
    s: str | None = None
    day: datetime.date | None = None
    at: datetime.datetime | None = None
    flag: bool | None = None
    tags: list[str] = Field(default_factory=list)
    place: Place | None = None
    meta: dict[str, Any] | None = None


TOP = ("id", "a", "f", "s", "day", "at", "flag", "tags", "place", "meta")

# Stored values include ones a validated repo would never hold: the compiled code must treat
# them exactly as the plain path does (no match, never an exception).
ODD = st.sampled_from(["2", True, False, 1.5, 0, 2, None, [1, 2], NAIVE, AWARE])
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.integers(0, 6),
    "a": st.one_of(st.integers(-2, 3), ODD),
    "f": st.one_of(st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3]), ODD),
    "s": st.one_of(st.sampled_from(["", "a", "b", "ab", "é"]), ODD),
    "day": st.one_of(st.dates(datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)), ODD),
    "at": st.sampled_from([NAIVE, AWARE, None, NAIVE + datetime.timedelta(hours=1), "x"]),
    "flag": st.one_of(st.booleans(), ODD),
    "tags": st.one_of(st.lists(st.sampled_from(["a", "b", None]), max_size=3), ODD),
    "place": st.one_of(
        st.none(),
        st.sampled_from(["Oslo", 3]),
        st.fixed_dictionaries({}, optional={"city": st.sampled_from(["Oslo", "Rome", None, 1])}),
    ),
    "meta": st.one_of(st.none(), st.fixed_dictionaries({"k": st.sampled_from([1, "1", True])})),
}
rows_st = st.lists(st.fixed_dictionaries({}, optional=VALUES), max_size=10)

FILTER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.integers(0, 6),
    "a": st.integers(-2, 3),
    "f": st.sampled_from([-1.5, 0.0, 0.5, 2, 3.0]),
    "s": st.sampled_from(["", "a", "ab", "b"]),
    "day": st.dates(datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)),
    "at": st.sampled_from([NAIVE, AWARE]),
    "flag": st.booleans(),
    "place.city": st.sampled_from(["Oslo", "Rome", ""]),
    "tags": st.sampled_from(["a", "b"]),
    "meta.k": st.sampled_from([1, "1", True]),
}
ORDERED = ["id", "a", "f", "s", "day", "at", "place.city", "meta.k"]


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(FILTER_VALUES)))
    value = FILTER_VALUES[field]
    ops = ["$eq", "$ne", "$in", "$nin", "null", "notnull", "$exists"]
    if field in ORDERED:
        ops += ["$gt", "$gte", "$lt", "$lte", "range"]
    op = draw(st.sampled_from(ops))
    if op == "null":
        return {field: None}
    if op == "notnull":
        return {field: {"$ne": None}}
    if op == "$exists":
        return {field: {"$exists": draw(st.booleans())}}
    if op in ("$in", "$nin"):
        return {field: {op: draw(st.lists(st.one_of(st.none(), value), max_size=3))}}
    if op == "range":
        lo, hi = draw(st.sampled_from([("$gte", "$lt"), ("$gt", "$lte")]))
        return {field: {lo: draw(value), hi: draw(value)}}
    return {field: {op: draw(value)}}


filters_st = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$nor": xs}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda x: {"$and": [x, x]}, inner),
    ),
    max_leaves=5,
)

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def reference(node: Node, row: Mapping[str, Any]) -> bool:
    """The plain path: one node at a time, no code generation."""
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, And):
        return all(reference(n, row) for n in node.items)
    if isinstance(node, Or):
        return any(reference(n, row) for n in node.items)
    if isinstance(node, Nor):
        return not any(reference(n, row) for n in node.items)
    if isinstance(node, Not):
        return not reference(node.where, row)
    if isinstance(node, Compare) and node.op == "ne":
        return not reference(Compare(node.field, "eq", node.value), row)
    if isinstance(node, In) and node.negate:
        return not reference(In(node.field, node.values), row)
    if isinstance(node, Compare | In) and _simple(node.field):
        v = getter(node.field.path, False)(row)
        v = None if v is MISSING else v
        if isinstance(node, In):
            members: Any
            try:
                members = frozenset(node.values)
            except TypeError:
                members = node.values
            return v in members
        if node.op == "eq":
            return v is None if node.value is None else bool(v == node.value)
        try:
            return _CMP[node.op](v, node.value)
        except TypeError:
            return False
    return _leaf(node)(row)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # the same error on both paths counts as agreement
        return type(exc)


@SETTINGS
@given(rows=rows_st, flt=filters_st)
def test_generated_predicate_matches_plain_interpreter(
    rows: list[dict[str, Any]], flt: dict[str, Any]
) -> None:
    node = parse_filter(Doc, flt)
    full = [{k: r.get(k) for k in TOP} for r in rows]  # every key present, as stored rows are
    sparse = compile_filter(node)
    indexed = compile_filter(node, frozenset(TOP))
    for data, compiled in ((rows, sparse), (full, sparse), (full, indexed)):
        _agree(node, data, compiled, flt)


def _agree(node: Node, data: list[dict[str, Any]], compiled: Any, flt: Any) -> None:
    expected = _outcome(lambda: [r for r in data if reference(node, r)])
    assert _outcome(lambda: [r for r in data if compiled.test(r)]) == expected, flt
    assert _outcome(lambda: compiled.scan(data)) == expected, flt
    ids = _outcome(lambda: compiled.scan_items(list(enumerate(data))))
    if isinstance(expected, list):
        assert ids == [i for i, r in enumerate(data) if any(r is e for e in expected)]
    else:
        assert ids == expected


def test_range_on_one_field_is_one_read_and_exact() -> None:
    node = parse_filter(Doc, {"a": {"$gte": 1, "$lt": 3}})
    compiled = compile_filter(node, frozenset(TOP))
    assert compiled.source.count("r[c0]") == 3  # once per generated function
    rows = [{"a": v} for v in (0, 1, 2, 3, 1.5, True, "2", None, NAIVE)]
    assert [r["a"] for r in compiled.scan(rows)] == [1, 2, 1.5, True]


def test_aware_naive_datetimes_never_raise() -> None:
    compiled = compile_filter(parse_filter(Doc, {"at": {"$gt": NAIVE}}))
    assert compiled.scan([{"at": AWARE}, {"at": NAIVE + datetime.timedelta(1)}]) == [
        {"at": NAIVE + datetime.timedelta(1)}
    ]


HOSTILE = "x'] or __import__('os').system('echo pwned') or r['\n\"\\"


class Hostile(XObjPrototype):
    id: int
    name: str | None = Field(default=None, alias=HOSTILE)
    inner: Place | None = Field(default=None, alias="in\"ner')")


def test_hostile_names_and_values_never_reach_the_source() -> None:
    flt = {
        "name": {"$in": [HOSTILE, "b"]},
        "inner.city": HOSTILE,
        "$or": [{"name": {"$gt": HOSTILE}}, {"id": 3}],
    }
    compiled = compile_filter(parse_filter(Hostile, flt), frozenset({"id", HOSTILE}))
    assert HOSTILE not in compiled.source and "pwned" not in compiled.source
    assert "ner'" not in compiled.source
    rows = [
        {"id": 3, HOSTILE: HOSTILE, "in\"ner')": {"city": HOSTILE}},
        {"id": 4, HOSTILE: HOSTILE, "in\"ner')": {"city": HOSTILE}},
        {"id": 3, HOSTILE: "b", "in\"ner')": {"city": "x"}},
    ]
    assert [r["id"] for r in compiled.scan(rows)] == [3]


# -- hash indexes -----------------------------------------------------------------------------
class Item(XObjPrototype):
    id: int
    code: str | None = None
    cat: int | None = None
    n: float | None = None


INDEXED = Collection(
    "items",
    primary_key=("id",),
    unique=(("code",),),
    indexes=(("cat",), ("cat", "n")),
    fields=("id", "code", "cat", "n"),
)
PLAIN = Collection("items", fields=("id", "code", "cat", "n"))

items_st = st.lists(
    st.fixed_dictionaries(
        {
            "code": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])),
            "cat": st.one_of(st.none(), st.sampled_from([0, 1, 2, True])),
            "n": st.one_of(st.none(), st.sampled_from([1, 1.0, 2.5, 0])),
        }
    ),
    max_size=12,
)
index_filters = st.lists(
    st.one_of(
        st.builds(lambda v: {"id": v}, st.integers(0, 12)),
        st.builds(lambda v: {"id": {"$in": v}}, st.lists(st.integers(0, 12), max_size=4)),
        st.builds(lambda v: {"code": v}, st.sampled_from(["a", "b", "z", None])),
        st.builds(lambda v: {"cat": v}, st.sampled_from([0, 1, 2, None])),
        st.builds(
            lambda v: {"cat": {"$in": v}}, st.lists(st.sampled_from([0, 1, None]), max_size=3)
        ),
        st.builds(lambda v: {"n": v}, st.sampled_from([1, 1.0, 2.5])),
        st.builds(lambda v: {"cat": {"$ne": v}}, st.sampled_from([0, 1])),
    ),
    min_size=1,
    max_size=3,
).map(lambda parts: {"$and": parts})


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for i, r in enumerate(rows):
        code = r["code"]
        if code is not None and code in seen:
            r = {**r, "code": None}
        if code is not None:
            seen.add(code)
        out.append({"id": i, **r})
    return out


async def _both(rows: list[dict[str, Any]], flt: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    fast, plain = MemoryBackend(), MemoryBackend()
    fast.insert_now(INDEXED, rows)
    plain.insert_now(PLAIN, rows)
    where = parse_filter(Item, flt)
    for be, coll in ((fast, INDEXED), (plain, PLAIN)):
        await be.update(coll, parse_filter(Item, {"id": {"$in": [1, 3]}}), {"cat": 2})
        await be.delete(coll, parse_filter(Item, {"id": 2}))
        await be.update(coll, parse_filter(Item, {"cat": 0}), {"n": 2.5})
    got = await fast.select(INDEXED, Query(where))
    want = await plain.select(PLAIN, Query(where))
    assert await fast.count(INDEXED, where) == await plain.count(PLAIN, where)
    return got, want


@SETTINGS
@given(rows=items_st, flt=index_filters)
def test_index_lookups_equal_full_scans(rows: list[dict[str, Any]], flt: dict[str, Any]) -> None:
    got, want = asyncio.run(_both(_dedupe(rows), flt))
    assert got == want, flt
    assert [type(r["cat"]) for r in got] == [type(r["cat"]) for r in want]


def test_index_is_used_for_equality_and_in() -> None:
    be = MemoryBackend()
    be.insert_now(INDEXED, [{"id": i, "code": f"c{i}", "cat": i % 3} for i in range(30)])
    table = be._table(INDEXED)
    assert be._lookup(table, parse_filter(Item, {"id": 4})) == [4]
    assert be._lookup(table, parse_filter(Item, {"code": {"$in": ["c7", "c2", "zz"]}})) == [2, 7]
    assert be._lookup(table, parse_filter(Item, {"cat": 1})) == list(range(1, 30, 3))
    assert be._lookup(table, parse_filter(Item, {"cat": {"$in": [None, 1]}})) is None
    assert be._lookup(table, parse_filter(Item, {"cat": {"$gt": 1}})) is None


# -- sorting ----------------------------------------------------------------------------------
DAYS = [datetime.date(2024, 1, d) for d in (1, 2, 3)]
CITY = st.sampled_from(["x", "y", None])
ANY_K = st.sampled_from([1, "1", True, None, 2.5])
SORTABLE = ["id", "a", "f", "s", "day", "flag", "place.city", "meta.k"]
sort_rows_st = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.integers(0, 3),
            "a": st.one_of(st.none(), st.integers(-2, 2)),
            "f": st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 0.5, 2])),
            "s": st.one_of(st.none(), st.sampled_from(["", "a", "B", "b"])),
            "day": st.one_of(st.none(), st.sampled_from(DAYS)),
            "flag": st.one_of(st.none(), st.booleans()),
            "place": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"city": CITY})),
            "meta": st.one_of(st.none(), st.fixed_dictionaries({"k": ANY_K})),
        },
    ),
    max_size=14,
)
sorts_st = st.lists(st.tuples(st.sampled_from(SORTABLE), st.sampled_from([1, -1])), max_size=3)


def plain_sort(rows: list[dict[str, Any]], keys: tuple[SortKey, ...]) -> list[dict[str, Any]]:
    out = list(rows)
    for k in reversed(keys):
        out.sort(key=_key(k), reverse=k.direction == -1)
    return out


@SETTINGS
@given(rows=sort_rows_st, sort=sorts_st, limit=st.one_of(st.none(), st.integers(0, 6)))
def test_top_k_and_raw_keys_equal_the_plain_sort(
    rows: list[dict[str, Any]], sort: list[tuple[str, int]], limit: int | None
) -> None:
    keys = parse_sort(Doc, sort)
    want = plain_sort(rows, keys)
    want = want if limit is None else want[:limit]
    got = order_rows(rows, keys, limit)
    assert [id(r) for r in got] == [id(r) for r in want], (sort, limit)


def test_ties_keep_insertion_order_in_top_k() -> None:
    rows = [{"id": i, "a": i % 2, "f": None if i % 3 == 0 else 1.0} for i in range(50)]
    for spec in ([("a", -1)], [("f", -1), ("a", 1)], [("f", 1)], [("a", 1), ("f", -1)]):
        keys = parse_sort(Doc, spec)
        assert order_rows(rows, keys, 7) == plain_sort(rows, keys)[:7]


# -- read-only stored rows --------------------------------------------------------------------
class Person(XObjPrototype):
    id: int
    name: str
    tags: list[str] = Field(default_factory=list)
    place: Place | None = None
    meta: dict[str, Any] | None = None


class PersonPatch(XObjPrototype):
    name: str | None = None


class People(MaterializedRepo[Person, Person, PersonPatch, dict[str, Any], str]):
    model = Person
    create_model = Person
    update_model = PersonPatch
    metadata = RepoMetadata(name="people", collection="people", primary_key=("id",))


async def test_rows_are_not_copied_yet_cannot_be_changed() -> None:
    seed = {"id": 1, "name": "ann", "tags": ["a"], "place": {"city": "Oslo"}, "meta": {"k": [1]}}
    repo = People([seed])
    seed["tags"].append("leak")
    (row,) = await repo.list_rows()
    (again,) = await repo.list_rows({"id": 1})
    assert row is again  # the stored row itself, no copy per read
    assert row["tags"] == ["a"]
    for mutate in (
        lambda: row.__setitem__("name", "x"),
        lambda: row.update(name="x"),
        lambda: row.pop("name"),
        lambda: row["tags"].append("x"),
        lambda: row["tags"].__setitem__(0, "x"),
        lambda: row["place"].__setitem__("city", "x"),
        lambda: row["meta"]["k"].append(2),
    ):
        with pytest.raises(TypeError, match="read-only"):
            mutate()
    mine = dict(row)
    mine["name"] = "changed"
    deep = copy.deepcopy(row)
    deep["meta"]["k"].append(2)
    assert type(deep) is dict and type(deep["meta"]["k"]) is list
    assert thaw(row) == {**row} and type(thaw(row)["tags"]) is list
    assert pickle.loads(pickle.dumps(row)) == row
    assert (await repo.read(1)) == Person(
        id=1, name="ann", tags=["a"], place=Place(city="Oslo"), meta={"k": [1]}
    )
    model = await repo.read(1)
    assert model is not None
    model.tags.append("mine")  # typed results are fresh containers
    assert (await repo.list_rows())[0]["tags"] == ["a"]
    await repo.update(1, {"name": "bob"})
    assert row["name"] == "ann"  # what a caller holds is a snapshot; writes replace rows
    assert (await repo.list_rows())[0]["name"] == "bob"


async def test_unfreezable_values_are_copied_out() -> None:
    coll = Collection("odd", fields=("id", "bag"))
    be = MemoryBackend()
    be.insert_now(coll, [{"id": 1, "bag": {1, 2}}])
    (row,) = await be.select(coll, Query())
    row["bag"].add(3)
    (again,) = await be.select(coll, Query())
    assert again["bag"] == {1, 2}


async def test_list_rows_and_list_agree() -> None:
    repo = People([{"id": i, "name": f"n{i % 4}", "tags": ["t"] * (i % 3)} for i in range(20)])
    flt: Any = {"name": {"$in": ["n1", "n2"]}}
    sort: Any = [("name", -1)]
    rows = await repo.list_rows(flt, sort=sort, limit=5, skip=1)
    models = await repo.list(flt, sort=sort, limit=5, skip=1)
    assert [Person.model_validate(r) for r in rows] == models
    assert isinstance(rows[0], ReadOnlyDict)
