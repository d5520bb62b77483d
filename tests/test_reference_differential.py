"""Differential tests against an independent reference (tests/reference_eval.py).

Random documents (nulls, missing keys, nested objects, arrays of scalars and of objects,
unicode, an untyped field holding mixed types) and random filters, sorts, paging and
pipelines.  MaterializedRepo (memory) and the SQLite ConnectedRepo must each agree with the
reference interpreter; SQLite is skipped only where it raises UnsupportedQueryError, and the
skips are counted per reason.  The case counts are printed at the end of the session
(``pytest_terminal_summary`` in conftest.py calls :func:`terminal_report`).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import json
import re
from typing import Any

import pytest
import reference_eval as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from xrepo.runtime import (
    ConnectedRepo,
    MaterializedRepo,
    RepoMetadata,
    SQLiteBackend,
    UnsupportedQueryError,
    XObjPrototype,
)


class Place(XObjPrototype):
    city: str | None = None
    zip: int | None = None


class Line(XObjPrototype):
    sku: str | None = None
    qty: int | None = None


class Doc(XObjPrototype):
    id: int
    a: int | None = None
    x: float | None = None
    s: str | None = None
    flag: bool | None = None
    day: datetime.date | None = None
    tags: list[str] = Field(default_factory=list)
    nums: list[int] | None = None
    place: Place | None = None
    lines: list[Line] = Field(default_factory=list)
    extra: Any = None


META = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


class MemDocs(MaterializedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = create_model = update_model = Doc
    metadata = META


class SqlDocs(ConnectedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = create_model = update_model = Doc
    metadata = META


DDL = (
    "CREATE TABLE docs (id INTEGER PRIMARY KEY, a INTEGER, x REAL, s TEXT, flag INTEGER,"
    " day TEXT, tags TEXT, nums TEXT, place TEXT, lines TEXT, extra TEXT)"
)

# -- the reporting counters ------------------------------------------------------------------
STATS: collections.Counter[str] = collections.Counter()


def terminal_report() -> list[str]:
    """Lines for the end-of-session summary (empty when this module did not run)."""
    if not STATS:
        return []
    lines = ["reference differential:"]
    for kind in ("filters", "pipelines"):
        run = STATS[f"{kind}: cases"]
        both = STATS[f"{kind}: compared on both backends"]
        lines.append(f"  {kind}: {run} cases, {both} checked on memory + SQLite + reference")
        prefix = f"{kind}: SQL skipped: "
        for key, n in sorted(STATS.items()):
            if key.startswith(prefix):
                lines.append(f"    SQLite skipped ({key[len(prefix) :]}): {n}")
    return lines


def _known_sql_bug(docs: list[dict[str, Any]], query: Any) -> str | None:
    """Why SQLite is not compared on this case (a known, reported bug), or ``None``.

    Memory and the reference are still compared; each xfail test below pins one bug.
    """
    if any(isinstance(d["extra"], str | bool) for d in docs):
        return "known bug: bare str/bool in an untyped JSON column"
    if "extra" in json.dumps(query, default=str) and any(
        isinstance(d["extra"], list) and None in d["extra"] for d in docs
    ):
        return "known bug: null inside an untyped array"
    return None


def _reason(exc: Exception) -> str:
    """The message with names and values blanked, so that skips group by kind."""
    text = re.sub(r"'[^']*'", "…", str(exc))
    return re.sub(r"pipeline\[\d+\]", "pipeline[n]", text)


# -- documents ---------------------------------------------------------------------------------
WORDS = ["", "a", "B", "ab", "b", "é", "É", "e\u0301", "日本", "🙂", "a b"]
words = st.sampled_from(WORDS)
ints = st.integers(-2, 2)
floats = st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.0])
days = st.dates(datetime.date(2024, 1, 1), datetime.date(2024, 1, 3))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, words)
# The untyped field: scalars, arrays of scalars, or objects with some keys missing.  Bare
# strings and booleans at its top hit a known SQLite bug (see _known_sql_bug), so a third of
# the cases have them and the rest keep SQLite in the comparison.
nested = st.one_of(
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries({}, optional={"k": scalars, "j": scalars}),
)
mixed = st.one_of(scalars, nested)
sql_safe = st.one_of(st.none(), ints, floats, nested)


def nullable(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


def documents(extra: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Optional keys: a missing key becomes the model's default (null, or [] for lists)."""
    return st.fixed_dictionaries({}, optional={**FIELDS, "extra": extra})


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "a": nullable(ints),
    "x": nullable(floats),
    "s": nullable(words),
    "flag": nullable(st.booleans()),
    "day": nullable(days),
    "tags": st.lists(words, max_size=3),
    "nums": nullable(st.lists(ints, max_size=3)),
    "place": nullable(
        st.fixed_dictionaries({}, optional={"city": nullable(words), "zip": nullable(ints)})
    ),
    "lines": st.lists(
        st.fixed_dictionaries({}, optional={"sku": nullable(words), "qty": nullable(ints)}),
        max_size=3,
    ),
}
doc_lists = st.one_of(
    st.lists(documents(sql_safe), max_size=10),
    st.lists(documents(sql_safe), max_size=10),
    st.lists(documents(mixed), max_size=10),
)

# -- filters -----------------------------------------------------------------------------------
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "a": ints,
    "x": floats,
    "s": words,
    "flag": st.booleans(),
    "day": days,
    "tags": words,
    "nums": ints,
    "place.city": words,
    "place.zip": ints,
    "lines.sku": words,
    "lines.qty": ints,
    "extra": st.one_of(st.booleans(), ints, floats, words),
    "extra.k": st.one_of(st.booleans(), ints, floats, words),
}
STRINGS = {"s", "tags", "place.city", "lines.sku", "extra", "extra.k"}
ARRAYS = {"tags", "nums", "extra"}
REGEXES = ["^a", "b$", "a.?b", "[ab]+", "é", "^$", " ", "日"]
SORTABLE = ["a", "x", "s", "flag", "day", "place.city", "place.zip", "id"]


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(VALUES)))
    value = VALUES[field]
    ops = ["plain", "null", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]
    ops += ["$exists", "$not"]
    if not field.startswith("extra."):
        # Under an untyped field every sub-key is valid, so "extra.k__ne" is read as the key
        # "k__ne" (the parser prefers a known path to the suffix form).
        ops.append("suffix")
    if field in STRINGS:
        ops.append("$regex")
    if field in ARRAYS:
        ops += ["$size", "$all", "$elemMatch"]
    if field == "lines.sku":
        ops.append("lines$elemMatch")
    op = draw(st.sampled_from(ops))
    if op == "plain":
        return {field: draw(value)}
    if op == "null":
        return {field: draw(st.sampled_from([None, {"$ne": None}, {"$eq": None}]))}
    if op == "suffix":
        suffix = draw(st.sampled_from(["gte", "lt", "ne", "in"]))
        arg = draw(st.lists(value, max_size=2)) if suffix == "in" else draw(value)
        return {f"{field}__{suffix}": arg}
    if op in ("$in", "$nin"):
        return {field: {op: draw(st.lists(nullable(value), max_size=3))}}
    if op == "$all":
        return {field: {op: draw(st.lists(value, min_size=1, max_size=2))}}
    if op == "$exists":
        return {field: {op: draw(st.booleans())}}
    if op == "$regex":
        options = draw(st.sampled_from(["", "i"]))
        return {field: {op: draw(st.sampled_from(REGEXES)), "$options": options}}
    if op == "$size":
        return {field: {op: draw(st.integers(0, 3))}}
    if op == "$elemMatch":
        return {field: {op: {"$gte": draw(value), "$lt": draw(value)}}}
    if op == "lines$elemMatch":
        element = {"sku": draw(nullable(words)), "qty": {"$gte": draw(ints)}}
        return {"lines": {"$elemMatch": element}}
    if op == "$not":
        inner = draw(st.sampled_from(["$eq", "$gt", "$in"]))
        arg = [draw(value)] if inner == "$in" else draw(value)
        return {field: {"$not": {inner: arg}}}
    return {field: {op: draw(value)}}


filters = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$nor": xs}, st.lists(inner, min_size=1, max_size=2)),
    ),
    max_leaves=4,
)
sorts = st.lists(st.tuples(st.sampled_from(SORTABLE), st.sampled_from([1, -1])), max_size=2)


# -- running -----------------------------------------------------------------------------------
async def _repos(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], MemDocs, SQLiteBackend]:
    data = [{"id": i + 1, **r} for i, r in enumerate(raw)]
    docs = [Doc.model_validate(d).model_dump() for d in data]
    backend = SQLiteBackend(":memory:")
    await backend.execute(DDL)
    await SqlDocs(backend).bulk_create(data)
    return docs, MemDocs(data), backend


def _full_sort(sort: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The repo appends the primary key as a tiebreaker (unless already sorted on)."""
    seen = [name for name, _ in sort]
    keys: list[tuple[str, int]] = []
    for name, direction in sort:
        if name not in [k for k, _ in keys]:
            keys.append((name, direction))
    return keys if "id" in seen else [*keys, ("id", 1)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=doc_lists,
    flt=st.one_of(st.none(), filters),
    sort=sorts,
    skip=st.integers(0, 3),
    limit=st.one_of(st.none(), st.integers(0, 5)),
)
def test_filters_agree_with_reference(
    raw: list[dict[str, Any]],
    flt: dict[str, Any] | None,
    sort: list[tuple[str, int]],
    skip: int,
    limit: int | None,
) -> None:
    async def run() -> None:
        docs, mem, backend = await _repos(raw)
        try:
            want = ref.query(docs, flt, _full_sort(sort), skip, limit)
            expected = [d["id"] for d in want]
            matched = len(ref.filter_docs(docs, flt))
            found = await mem.list(flt, sort=sort, skip=skip, limit=limit)
            got = [m.id for m in found]
            assert got == expected, ("memory", flt, sort, skip, limit)
            assert [m.model_dump() for m in found] == want
            assert await mem.count(flt) == matched, ("memory count", flt)
            STATS["filters: cases"] += 1
            known = _known_sql_bug(docs, flt)
            if known is not None:
                STATS[f"filters: SQL skipped: {known}"] += 1
                return
            sql = SqlDocs(backend)
            try:
                found = await sql.list(flt, sort=sort, skip=skip, limit=limit)
                n_sql = await sql.count(flt)
            except UnsupportedQueryError as exc:
                STATS[f"filters: SQL skipped: {_reason(exc)}"] += 1
                return
            assert [m.id for m in found] == expected, ("sqlite", flt, sort, skip, limit)
            assert [m.model_dump() for m in found] == want  # values round-trip, types kept
            assert n_sql == matched, ("sqlite count", flt)
            STATS["filters: compared on both backends"] += 1
        finally:
            await backend.close()

    asyncio.run(run())


# -- pipelines ---------------------------------------------------------------------------------
GROUP_KEYS: list[Any] = [
    None,
    "$a",
    "$s",
    "$flag",
    "$day",
    "$place.city",
    {"a": "$a", "f": "$flag"},
]
ACCS: dict[str, Any] = {
    "n": {"$sum": 1},
    "c": {"$count": {}},
    "sa": {"$sum": "$a"},
    "sx": {"$sum": "$x"},
    "av": {"$avg": "$x"},
    "mn": {"$min": "$s"},
    "mx": {"$max": "$day"},
    "me": {"$max": "$extra"},
    "fa": {"$first": "$a"},
    "ls": {"$last": "$s"},
    "pu": {"$push": "$a"},
    "set_f": {"$addToSet": "$flag"},
}
ADDED: dict[str, Any] = {
    "total": {"$add": ["$a", "$x"]},
    "label": {"$concat": ["$s", "-"]},
    "low": {"$toLower": "$s"},
    "city": {"$ifNull": ["$place.city", "none"]},
    "big": {"$gt": ["$a", 0]},
    "ntags": {"$size": "$tags"},
    "skus": "$lines.sku",
    "pick": {"$cond": [{"$eq": ["$flag", True]}, "$s", "$a"]},
}
PROJECTIONS: list[dict[str, Any]] = [
    {"id": 1, "r": "$place.city", "t": "$tags"},
    {"id": 1, "skus": "$lines.sku", "q": "$lines.qty", "e": "$extra.k"},
    {"lines": 0, "extra": 0, "place": 0},
    {"id": 1, "s": 1, "flag": 1},
]


def _paging(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if draw(st.booleans()):
        out.append({"$skip": draw(st.integers(0, 3))})
    if draw(st.booleans()):
        out.append({"$limit": draw(st.integers(1, 5))})
    return out


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bool]:
    """A pipeline and whether its output order is fully determined (input is in id order)."""
    pipe: list[dict[str, Any]] = []
    if draw(st.booleans()):
        pipe.append({"$match": draw(filters)})
    nested_sort = False
    ordered = True
    if draw(st.booleans()):
        key = draw(st.sampled_from(SORTABLE))
        nested_sort = "." in key
        pipe.append({"$sort": {key: draw(st.sampled_from([1, -1])), "id": 1}})
        pipe += _paging(draw)
    shapes = ["group", "project", "add", "unwind", "count", "byCount", "unset"]
    shape = draw(st.sampled_from(shapes))
    if shape in ("group", "count", "byCount") and nested_sort:
        # Known SQL pushdown bug (test_known_bug_nested_sort_then_group): a $sort on a nested
        # path, then a stage that drops the ORDER BY, can leave an unused SQL parameter.
        # Drop this once fixed.
        shape = "unset"
    if shape == "group":
        key = draw(st.sampled_from(GROUP_KEYS))
        names = draw(st.lists(st.sampled_from(sorted(ACCS)), min_size=1, max_size=4, unique=True))
        pipe.append({"$group": {"_id": key, **{n: ACCS[n] for n in names}}})
        ordered = False
        if isinstance(key, str) and draw(st.booleans()):
            pipe.append({"$sort": {"_id": draw(st.sampled_from([1, -1]))}})
            pipe += _paging(draw)
            ordered = True
    elif shape == "project":
        pipe.append({"$project": draw(st.sampled_from(PROJECTIONS))})
    elif shape == "add":
        names = draw(st.lists(st.sampled_from(sorted(ADDED)), min_size=1, max_size=3, unique=True))
        op = draw(st.sampled_from(["$addFields", "$set"]))
        pipe.append({op: {n: ADDED[n] for n in names}})
        if draw(st.booleans()):
            pipe.append({"$match": {names[0]: {"$ne": None}}})
    elif shape == "unwind":
        path = draw(st.sampled_from(["$tags", "$nums", "$lines"]))
        spec: Any = path
        if draw(st.booleans()):
            spec = {"path": path, "preserveNullAndEmptyArrays": draw(st.booleans())}
        pipe.append({"$unwind": spec})
        if path != "$lines" and draw(st.booleans()):
            pipe.append({"$group": {"_id": path, "n": {"$sum": 1}, "ids": {"$push": "$id"}}})
            ordered = False
        else:
            pipe += _paging(draw)
    elif shape == "count":
        pipe.append({"$count": "total"})
    elif shape == "byCount":
        pipe.append({"$sortByCount": draw(st.sampled_from(["$s", "$flag", "$a", "$day"]))})
        ordered = False
    else:
        pipe.append({"$unset": draw(st.sampled_from(["extra", ["lines", "tags"]]))})
        pipe += _paging(draw)
    return pipe, ordered


def canon(value: Any, key: str = "") -> Any:
    """Comparable form: floats rounded, sets (``set_*`` fields) sorted, dict order ignored."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: canon(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [canon(v) for v in value]
        return sorted(items, key=repr) if key.startswith("set_") else items
    return value


def _unordered(rows: list[dict[str, Any]]) -> list[str]:
    def flat(v: Any) -> Any:
        if isinstance(v, dict):
            return sorted((k, flat(x)) for k, x in v.items())
        if isinstance(v, list):
            return [flat(x) for x in v]
        return (type(v).__name__, v)

    return sorted(repr(flat(canon(r))) for r in rows)


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]], ordered: bool) -> bool:
    if ordered:
        return canon(got) == canon(want)
    return _unordered(got) == _unordered(want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=doc_lists, case=pipelines())
def test_pipelines_agree_with_reference(raw: list[dict[str, Any]], case: Any) -> None:
    pipe, ordered = case

    async def run() -> None:
        docs, mem, backend = await _repos(raw)
        try:
            expected = ref.run_pipeline(docs, pipe)
            got = await mem.aggregate(pipe)
            assert _same(got, expected, ordered), ("memory", pipe, got, expected)
            STATS["pipelines: cases"] += 1
            known = _known_sql_bug(docs, pipe)
            if known is not None:
                STATS[f"pipelines: SQL skipped: {known}"] += 1
                return
            try:
                got_sql = await SqlDocs(backend).aggregate(pipe)
            except UnsupportedQueryError as exc:
                STATS[f"pipelines: SQL skipped: {_reason(exc)}"] += 1
                return
            assert _same(got_sql, expected, ordered), ("sqlite", pipe, got_sql, expected)
            STATS["pipelines: compared on both backends"] += 1
        finally:
            await backend.close()

    asyncio.run(run())


# -- the reference itself, on hand-checked cases -----------------------------------------------
def test_reference_follows_mongodb_on_known_cases() -> None:
    docs: list[dict[str, Any]] = [
        {"id": 1, "tags": ["a", "b"], "v": None, "o": {"k": 1}, "l": [{"q": 1}, {"r": 2}]},
        {"id": 2, "tags": [], "o": None, "l": []},
        {"id": 3, "tags": ["b"], "v": 1, "o": {"k": True}, "l": [{"q": 3}]},
    ]

    def ids(flt: dict[str, Any]) -> list[int]:
        return [d["id"] for d in ref.filter_docs(docs, flt)]

    assert ids({"tags": "a"}) == [1]
    assert ids({"tags": ["b"]}) == [3]  # whole-array equality
    assert ids({"v": None}) == [1, 2]  # null or missing
    assert ids({"v": {"$exists": True}}) == [1, 3]
    assert ids({"o.k": 1}) == [1]  # True is not 1
    assert ids({"o.k": {"$gte": 0}}) == [1]
    assert 1 in ids({"l.q": None})  # an element lacks q
    assert ids({"l.q": {"$gt": 2}}) == [3]
    assert ids({"tags": {"$size": 0}}) == [2]
    assert ids({"tags": {"$ne": "b"}}) == [2]
    assert ids({"l": {"$elemMatch": {"r": 2}}}) == [1]
    assert ids({"$nor": [{"v": 1}, {"tags": "a"}]}) == [2]
    assert [d["id"] for d in ref.sort_docs(docs, [("v", -1), ("id", 1)])] == [3, 1, 2]
    grouped = ref.run_pipeline(docs, [{"$unwind": "$tags"}, {"$sortByCount": "$tags"}])
    assert grouped == [{"_id": "b", "count": 2}, {"_id": "a", "count": 1}]
    assert ref.run_pipeline(docs, [{"$match": {"id": 9}}, {"$count": "n"}]) == []


# -- known bugs found by this file (strict xfail: they fail loudly once fixed) ----------------
def _sqlite_round_trip(extra: Any) -> Any:
    async def run() -> Any:
        _, _, backend = await _repos([{"extra": extra}])
        try:
            (doc,) = await SqlDocs(backend).list()
            return doc.extra
        finally:
            await backend.close()

    return asyncio.run(run())


@pytest.mark.xfail(strict=True, reason="SQLite stores a bare str/bool in a JSON column unencoded")
def test_known_bug_untyped_scalars_in_sqlite() -> None:
    # "1" comes back as the int 1, False as 0; json_extract on "a" fails (malformed JSON).
    got = [_sqlite_round_trip(v) for v in ("1", False, "a")]
    assert got == ["1", False, "a"] and [type(v) for v in got] == [str, bool, str]


@pytest.mark.xfail(strict=True, reason="pushdown keeps the JSON-path param of a dropped ORDER BY")
def test_known_bug_nested_sort_then_group() -> None:
    async def run() -> Any:
        _, _, backend = await _repos([{"x": 1.0}])
        try:
            pipe = [
                {"$sort": {"place.city": 1, "id": 1}},
                {"$skip": 0},
                {"$group": {"_id": None, "av": {"$avg": "$x"}}},
            ]
            return await SqlDocs(backend).aggregate(pipe)
        finally:
            await backend.close()

    assert asyncio.run(run()) == [{"_id": None, "av": 1.0}]


@pytest.mark.xfail(strict=True, reason="SQL null test on an untyped field ignores JSON arrays")
def test_known_bug_null_inside_untyped_array() -> None:
    async def run() -> Any:
        _, _, backend = await _repos([{"extra": [None, 1]}])
        try:
            return [d.id for d in await SqlDocs(backend).list({"extra": None})]
        finally:
            await backend.close()

    assert asyncio.run(run()) == [1]  # MongoDB: an array holding null matches {f: null}
