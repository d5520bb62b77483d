"""Differential tests against an independent reference (tests/reference_eval.py).

Random documents (nulls, missing keys, nested objects, arrays of scalars and of objects,
unicode, an untyped field holding mixed types) and random filters, sorts, paging and
pipelines.  MaterializedRepo (memory) and the SQLite, PostgreSQL and MongoDB ConnectedRepos
must each agree with the reference interpreter; a backend is skipped only where it raises
UnsupportedQueryError, and the skips are counted per reason.  The case counts are printed at
the end of the session
(``pytest_terminal_summary`` in conftest.py calls :func:`terminal_report`).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import reference_eval as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mongo import from_bson
from pydantic import Field

from xrepo.runtime import (
    ConnectedRepo,
    MaterializedRepo,
    RepoMetadata,
    SQLiteBackend,
    UnsupportedQueryError,
    XObjPrototype,
)
from xrepo.runtime.backends.postgres import PostgresBackend


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
        lite, pg = STATS[f"{kind}: compared on sqlite"], STATS[f"{kind}: compared on postgres"]
        mg = STATS[f"{kind}: compared on mongodb"]
        lines.append(
            f"  {kind}: {run} cases on memory + reference; also {lite} on SQLite, {pg} on "
            f"PostgreSQL, {mg} on MongoDB"
        )
        deviations = STATS[f"{kind}: mongodb: SecantusDB empty-array path deviation"]
        if deviations:
            lines.append(f"    mongodb: SecantusDB empty-array path cases set aside: {deviations}")
        for name in ("sqlite", "postgres", "mongodb"):
            prefix = f"{kind}: {name} skipped: "
            for key, n in sorted(STATS.items()):
                if key.startswith(prefix):
                    lines.append(f"    {name} skipped ({key[len(prefix) :]}): {n}")
    return lines


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
# The untyped field: scalars, arrays of scalars, or objects with some keys missing.
nested = st.one_of(
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries({}, optional={"k": scalars, "j": scalars}),
)
mixed = st.one_of(scalars, nested)


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
doc_lists = st.lists(documents(mixed), max_size=10)

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
# PostgreSQL: one database for the module, the table emptied before each example.  Lists are
# stored both ways: ``tags`` as a native text[], ``nums`` as a jsonb array.
PG_DDL = (
    "CREATE TABLE docs (id int8 PRIMARY KEY, a int8, x float8, s text, flag boolean, day date,"
    " tags text[] NOT NULL, nums jsonb, place jsonb, lines jsonb NOT NULL, extra jsonb)"
)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from pg import fresh_database, run_sql

    with fresh_database() as dsn:
        run_sql(dsn, PG_DDL)
        yield dsn


Backends = list[tuple[str, Any]]


@pytest.fixture(scope="module")
def mongo_docs(mongo_url: str) -> Iterator[tuple[str, str]]:
    """MongoDB: one database for the module, the collection emptied before each example."""
    from mongo import scratch_database

    with scratch_database(mongo_url, "xrepo_refdiff") as db:
        yield db


#: The session's server is SecantusDB (no XREPO_TEST_MONGO_URL). Where a path runs through an
#: array of objects SecantusDB differs from the reference's MongoDB semantics: a ``$project`` /
#: ``$addFields`` path ``"$lines.sku"`` gives no field where mongod gives ``[]`` or
#: ``[null]``, and ``{"lines.qty": null}`` does not match ``lines: []`` (nor
#: ``{"extra.k": null}`` ``extra: []`` or ``extra: [null]``).  Only those cases
#: are set aside (counted and printed); with a real mongod (XREPO_TEST_MONGO_URL) everything is
#: compared.
SECANTUS = not os.environ.get("XREPO_TEST_MONGO_URL")


def _through_empty_lines(flt: Any, docs: list[dict[str, Any]]) -> bool:
    """The filter (or pipeline) reads a dotted path through a field that some document holds
    as an array with no object in it (``lines: []``, or the untyped ``extra: [null]``)."""
    text = repr(flt)
    return any(
        isinstance(v, list)
        and not any(isinstance(e, dict) for e in v)
        and (f"'{k}." in text or f"'${k}." in text)  # filter path or pipeline expression
        for d in docs
        for k, v in d.items()
    )


def _without_empty_paths(pipe: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Any:
    """Rows without the fields computed from a path through the ``lines`` array."""
    computed = {
        k
        for stage in pipe
        for op in ("$project", "$addFields", "$set")
        for k, v in (stage.get(op) or {}).items()
        if isinstance(v, str) and v.startswith("$lines.")
    }
    return [{k: v for k, v in r.items() if k not in computed} for r in rows]


async def _repos(
    raw: list[dict[str, Any]],
    pg_dsn: str | None = None,
    mongo: tuple[str, str] | None = None,
) -> tuple[list[dict[str, Any]], MemDocs, Backends]:
    data = [{"id": i + 1, **r} for i, r in enumerate(raw)]
    docs = [Doc.model_validate(d).model_dump() for d in data]
    lite = SQLiteBackend(":memory:")
    await lite.execute(DDL)
    await SqlDocs(lite).bulk_create(data)
    backends: Backends = [("sqlite", lite)]
    if pg_dsn is not None:
        pg = PostgresBackend(pg_dsn, min_size=1, max_size=1)
        backends.append(("postgres", pg))
        await pg.execute("TRUNCATE docs")
        await SqlDocs(pg).bulk_create(data)
    if mongo is not None:
        from xrepo.runtime.backends.mongo import MongoBackend

        mg = MongoBackend(*mongo)
        backends.append(("mongodb", mg))
        await mg.connect()
        await mg.database["docs"].delete_many({})
        await SqlDocs(mg).bulk_create(data)
    return docs, MemDocs(data), backends


async def _close(backends: Backends) -> None:
    for _, backend in backends:
        await backend.close()


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
    pg_url: str,
    mongo_docs: tuple[str, str],
    raw: list[dict[str, Any]],
    flt: dict[str, Any] | None,
    sort: list[tuple[str, int]],
    skip: int,
    limit: int | None,
) -> None:
    async def run() -> None:
        docs, mem, backends = await _repos(raw, pg_url, mongo_docs)
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
            for name, backend in backends:
                sql = SqlDocs(backend)
                try:
                    found = await sql.list(flt, sort=sort, skip=skip, limit=limit)
                    n_sql = await sql.count(flt)
                except UnsupportedQueryError as exc:
                    STATS[f"filters: {name} skipped: {_reason(exc)}"] += 1
                    continue
                if (
                    name == "mongodb"
                    and SECANTUS
                    and ([m.id for m in found] != expected or n_sql != matched)
                    and _through_empty_lines(flt, docs)
                ):
                    STATS["filters: mongodb: SecantusDB empty-array path deviation"] += 1
                    continue
                assert [m.id for m in found] == expected, (name, flt, sort, skip, limit)
                assert [m.model_dump() for m in found] == want  # values round-trip, types kept
                assert n_sql == matched, (name, "count", flt)
                STATS[f"filters: compared on {name}"] += 1
        finally:
            await _close(backends)

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
    ordered = True
    if draw(st.booleans()):
        key = draw(st.sampled_from(SORTABLE))
        pipe.append({"$sort": {key: draw(st.sampled_from([1, -1])), "id": 1}})
        pipe += _paging(draw)
    shapes = ["group", "project", "add", "unwind", "count", "byCount", "unset"]
    shape = draw(st.sampled_from(shapes))
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
def test_pipelines_agree_with_reference(
    pg_url: str, mongo_docs: tuple[str, str], raw: list[dict[str, Any]], case: Any
) -> None:
    pipe, ordered = case

    async def run() -> None:
        docs, mem, backends = await _repos(raw, pg_url, mongo_docs)
        try:
            expected = ref.run_pipeline(docs, pipe)
            got = await mem.aggregate(pipe)
            assert _same(got, expected, ordered), ("memory", pipe, got, expected)
            STATS["pipelines: cases"] += 1
            for name, backend in backends:
                try:
                    got_sql = await SqlDocs(backend).aggregate(pipe)
                    if name == "mongodb":
                        got_sql = from_bson(got_sql)
                        last = pipe[-1] if pipe else {}
                        if "$count" in last and not expected and got_sql == [{last["$count"]: 0}]:
                            got_sql = []  # SecantusDB counts empty input as 0; mongod emits none
                except UnsupportedQueryError as exc:
                    STATS[f"pipelines: {name} skipped: {_reason(exc)}"] += 1
                    continue
                want = expected
                if name == "mongodb" and SECANTUS and not _same(got_sql, want, ordered):
                    got_sql, want = (
                        _without_empty_paths(pipe, got_sql),
                        _without_empty_paths(pipe, want),
                    )
                    STATS["pipelines: mongodb: SecantusDB empty-array path deviation"] += 1
                    if not _same(got_sql, want, ordered) and _through_empty_lines(pipe, docs):
                        continue
                assert _same(got_sql, want, ordered), (name, pipe, got_sql, expected)
                STATS[f"pipelines: compared on {name}"] += 1
        finally:
            await _close(backends)

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
