"""``$unwind`` and ``$lookup`` pushed into the SQL prefix (SQLite and PostgreSQL).

``$unwind``: every case runs wholly in SQL (explain) and equals the memory engine
(MaterializedRepo over the same rows), with the stages after it still pushed.  ``$lookup``: the
pushed correlated subquery gives exactly the foreign rows the in-memory ``$lookup`` gives on the
same backend (the same pipeline with an unpushable stage in front), and what a hand-written
join gives.
"""

from __future__ import annotations

import datetime
import decimal
import sqlite3
from collections.abc import AsyncIterator, Iterator
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
from xrepo.runtime.backends.postgres import PostgresBackend

D1, D2, D3 = (datetime.date(2024, 1, d) for d in (1, 2, 3))


class Doc(XObjPrototype):
    id: int
    s: str | None = None
    tags: list[str] = Field(default_factory=list)
    nums: list[int] | None = None
    days: list[datetime.date] = Field(default_factory=list)
    cust: int | None = None


META = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


class SqlDocs(ConnectedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = create_model = update_model = Doc
    metadata = META


class MemDocs(MaterializedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = create_model = update_model = Doc
    metadata = META


ROWS: list[dict[str, Any]] = [
    {"id": 1, "s": "a", "tags": ["x", "y"], "nums": [3, 1], "days": [D2], "cust": 1},
    {"id": 2, "s": "b", "tags": [], "nums": None, "days": [], "cust": 2},
    {"id": 3, "s": None, "tags": ["y"], "nums": [], "days": [D1, D3], "cust": None},
    {"id": 4, "s": "a", "tags": ["x", "x", "z"], "nums": [5], "days": [D3], "cust": 9},
    {"id": 5, "s": "c", "tags": ["é"], "nums": [1, 1], "days": [], "cust": 1},
]
PRESERVE = {"preserveNullAndEmptyArrays": True}
#: (pipeline, whether its output order is determined)
UNWIND_CASES: list[tuple[list[dict[str, Any]], bool]] = [
    ([{"$unwind": "$tags"}], False),
    ([{"$sort": {"id": -1}}, {"$unwind": {"path": "$tags", "includeArrayIndex": "i"}}], True),
    (
        [
            {"$unwind": {"path": "$nums", "includeArrayIndex": "i", **PRESERVE}},
            {"$sort": {"id": 1, "i": 1}},
        ],
        True,
    ),
    (
        [
            {"$unwind": "$tags"},
            {"$group": {"_id": "$tags", "n": {"$sum": 1}, "low": {"$min": "$id"}}},
            {"$sort": {"n": -1, "_id": 1}},
        ],
        True,
    ),
    (
        [
            {"$unwind": "$days"},
            {"$match": {"days": {"$gte": D2}}},
            {"$project": {"id": 1, "days": 1}},
            {"$sort": {"days": 1, "id": 1}},
        ],
        True,
    ),
    (
        [
            {"$unwind": "$nums"},
            {"$group": {"_id": None, "total": {"$sum": "$nums"}, "top": {"$max": "$nums"}}},
        ],
        True,
    ),
    ([{"$unwind": "$s"}, {"$count": "n"}], True),
    ([{"$unwind": {"path": "$s", "includeArrayIndex": "i", **PRESERVE}}], False),
    (
        [
            {"$sort": {"id": 1}},
            {"$limit": 3},
            {"$unwind": {"path": "$tags", **PRESERVE}},
            {"$skip": 1},
        ],
        True,
    ),
    ([{"$unwind": "$tags"}, {"$unwind": "$days"}, {"$sortByCount": "$tags"}], False),
    (
        [
            {"$unwind": {"path": "$tags", **PRESERVE}},
            {"$project": {"id": 1, "t": "$tags"}},
            {"$match": {"t": None}},
            {"$sort": {"id": 1}},
        ],
        True,
    ),
    (
        [
            {"$unwind": {"path": "$nums", **PRESERVE}},
            {"$group": {"_id": "$nums", "ids": {"$sum": "$id"}}},
            {"$sort": {"_id": 1}},
        ],
        True,
    ),
]


def _canon(rows: list[dict[str, Any]], ordered: bool) -> list[Any]:
    out = [sorted(r.items()) for r in rows]
    return out if ordered else sorted(out, key=repr)


async def _check_unwind(repo: SqlDocs, dialect_marker: str) -> None:
    mem = MemDocs(ROWS)
    for pipe, ordered in UNWIND_CASES:
        plan = repo.explain_aggregate(pipe)
        assert plan["memory_stages"] == [], (pipe, plan)
        assert any(s == "$unwind" for s in plan["sql_stages"])
        got = await repo.aggregate(pipe)
        want = await mem.aggregate(pipe)
        assert _canon(got, ordered) == _canon(want, ordered), (pipe, got, want)
    plan = repo.explain_aggregate([{"$unwind": "$tags"}])
    assert dialect_marker in plan["sql"]


# -- SQLite ---------------------------------------------------------------------------------
SQLITE_DDL = (
    "CREATE TABLE docs (id INTEGER PRIMARY KEY, s TEXT, tags TEXT, nums TEXT, days TEXT,"
    " cust INTEGER)",
    "CREATE TABLE custs (id INTEGER PRIMARY KEY, name TEXT, since TEXT, vip INTEGER,"
    " score REAL, ref INTEGER)",
    "INSERT INTO custs VALUES (1, 'Ann', '2023-05-01', 1, 1.5, 1), (2, 'Bob', NULL, 0, NULL,"
    " NULL), (3, 'O''Neil', '2020-01-01', NULL, 2.0, NULL), (4, 'Al', NULL, 1, -1.0, 2)",
)


@pytest.fixture
async def sqlite_docs(tmp_path: Path) -> AsyncIterator[SqlDocs]:
    path = tmp_path / "d.db"
    with sqlite3.connect(path) as db:
        for ddl in SQLITE_DDL:
            db.execute(ddl)
    backend = SQLiteBackend(path)
    repo = SqlDocs(backend)
    await repo.bulk_create(ROWS)
    yield repo
    await backend.close()


async def test_sqlite_unwind_runs_in_sql_like_memory(sqlite_docs: SqlDocs) -> None:
    await _check_unwind(sqlite_docs, "json_each")


async def test_sqlite_unwind_equals_hand_written_sql(sqlite_docs: SqlDocs) -> None:
    pipe: list[dict[str, Any]] = [
        {"$unwind": {"path": "$tags", "includeArrayIndex": "i"}},
        {"$match": {"tags": {"$ne": "y"}}},
        {"$sort": {"id": 1, "i": 1}},
    ]
    be = sqlite_docs.backend
    assert isinstance(be, SQLiteBackend)
    want = await be.execute(
        "SELECT d.id, e.value, e.key FROM docs d, json_each(d.tags) e WHERE e.value <> 'y'"
        " ORDER BY d.id, e.key"
    )
    got = await sqlite_docs.aggregate(pipe)
    assert [(d["id"], d["tags"], d["i"]) for d in got] == [tuple(r) for r in want]


LOOKUPS: list[dict[str, Any]] = [
    {"from": "custs", "localField": "cust", "foreignField": "id", "as": "who"},
    # null and missing local values match null foreign values (MongoDB semantics)
    {"from": "custs", "localField": "cust", "foreignField": "ref", "as": "who"},
    {"from": "custs", "localField": "id", "foreignField": "ref", "as": "s"},
    {"from": "custs", "localField": "s", "foreignField": "name", "as": "named"},
]


async def _check_lookup(repo: SqlDocs) -> None:
    barrier: dict[str, Any] = {"$addFields": {"_z": 1}}  # no SQL form: the rest runs in memory
    for spec in LOOKUPS:
        tails: list[list[dict[str, Any]]] = [
            [{"$lookup": spec}],
            [{"$lookup": spec}, {"$project": {"id": 1, spec["as"]: 1}}, {"$limit": 4}],
            [{"$unwind": "$tags"}, {"$lookup": spec}, {"$match": {"tags": "x"}}],
        ]
        for tail in tails:
            pipe = [{"$sort": {"id": 1}}, *tail]
            plan = repo.explain_aggregate(pipe)
            assert plan["memory_stages"] == [], (pipe, plan)
            got = await repo.aggregate(pipe)
            in_memory = await repo.aggregate([{"$sort": {"id": 1}}, barrier, *tail])
            assert got == [{k: v for k, v in d.items() if k != "_z"} for d in in_memory], pipe
    # A stage reading the joined array is not pushed (the prefix ends at the $lookup).
    pipe = [{"$lookup": LOOKUPS[0]}, {"$unwind": "$who"}, {"$sort": {"who.name": 1, "id": 1}}]
    plan = repo.explain_aggregate(pipe)
    assert plan["sql_stages"] == ["$lookup"] and plan["memory_stages"] == ["$unwind", "$sort"]
    names = [d["who"]["name"] for d in await repo.aggregate(pipe)]
    assert names == ["Ann", "Ann", "Bob"]


async def test_sqlite_lookup_is_a_correlated_subquery_equal_to_memory(
    sqlite_docs: SqlDocs,
) -> None:
    first = [{"$lookup": LOOKUPS[0]}]
    assert sqlite_docs.explain_aggregate(first)["memory_stages"] == ["$lookup"]  # not described yet
    await sqlite_docs.aggregate(first)  # describes custs
    await _check_lookup(sqlite_docs)
    plan = sqlite_docs.explain_aggregate(first)
    assert "json_group_array" in plan["sql"] and plan["sql_stages"] == ["$lookup"]
    got = await sqlite_docs.aggregate([*first, {"$sort": {"id": 1}}])
    # the stored values, as SQLite's driver returns them (dates as text, bools as 0/1)
    assert got[0]["who"] == [
        {"id": 1, "name": "Ann", "since": "2023-05-01", "vip": 1, "score": 1.5, "ref": 1}
    ]
    assert [len(d["who"]) for d in got] == [1, 1, 0, 0, 1]


async def test_sqlite_lookup_into_a_view_stays_in_memory(sqlite_docs: SqlDocs) -> None:
    be = sqlite_docs.backend
    assert isinstance(be, SQLiteBackend)
    await be.execute("CREATE VIEW vcust AS SELECT id, name FROM custs")
    pipe = [
        {"$lookup": {"from": "vcust", "localField": "cust", "foreignField": "id", "as": "w"}},
        {"$sort": {"id": 1}},
    ]
    got = await sqlite_docs.aggregate(pipe)
    assert sqlite_docs.explain_aggregate(pipe)["memory_stages"] == ["$lookup", "$sort"]
    assert [[w["name"] for w in d["w"]] for d in got] == [["Ann"], ["Bob"], [], [], ["Ann"]]


# -- PostgreSQL -----------------------------------------------------------------------------
PG_DDL = """
CREATE TABLE docs (id int8 PRIMARY KEY, s text, tags text[], nums jsonb, days date[], cust int8);
CREATE TABLE custs (id int8 PRIMARY KEY, name varchar(20), since date, vip boolean,
                    score numeric(8, 2), w float4, meta jsonb, at timestamptz, ref int4);
INSERT INTO custs VALUES
  (1, 'Ann', '2023-05-01', true, 1.50, 0.1, '{"k": [1, 2.5]}', '2024-01-01 10:00:00.5+02', 1),
  (2, 'Bob', NULL, false, NULL, NULL, NULL, NULL, NULL),
  (3, 'O''Neil', '2020-01-01', NULL, 2.00, -1, '"x"', '2020-02-02 00:00:00+00', NULL),
  (4, 'Al', NULL, true, 1e5, '-Infinity', 'null', NULL, 2);
CREATE TABLE spans (id int8 PRIMARY KEY, span interval, codes int4[]);
INSERT INTO spans VALUES (1, '1 day', '{1,2}'), (2, NULL, NULL);
"""


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from pg import fresh_database, run_sql

    with fresh_database() as dsn:
        run_sql(dsn, PG_DDL)
        yield dsn


@pytest.fixture
async def pg_docs(pg_url: str) -> AsyncIterator[SqlDocs]:
    async with PostgresBackend(pg_url, min_size=1, max_size=2) as be:
        repo = SqlDocs(be)
        await be.fetch("DELETE FROM docs")
        await repo.bulk_create(ROWS)
        yield repo


async def test_postgres_unwind_runs_in_sql_like_memory(pg_docs: SqlDocs) -> None:
    await _check_unwind(pg_docs, "unnest")
    nums = pg_docs.explain_aggregate([{"$unwind": "$nums"}])
    assert "jsonb_array_elements_text" in nums["sql"] and "WITH ORDINALITY" in nums["sql"]


async def test_postgres_lookup_is_a_correlated_subquery_equal_to_memory(
    pg_docs: SqlDocs,
) -> None:
    be = pg_docs.backend
    assert isinstance(be, PostgresBackend)
    await pg_docs.aggregate([{"$lookup": LOOKUPS[0]}])
    await _check_lookup(pg_docs)
    plan = pg_docs.explain_aggregate([{"$lookup": LOOKUPS[0]}])
    assert "json_agg" in plan["sql"] and plan["sql_stages"] == ["$lookup"]
    got = await pg_docs.aggregate([{"$lookup": LOOKUPS[1]}, {"$sort": {"id": 1}}])
    want = await be.fetch(
        "SELECT d.id AS of_doc, c.* FROM docs d LEFT JOIN custs c"
        " ON c.ref = d.cust OR (d.cust IS NULL AND c.ref IS NULL) ORDER BY d.id, c.id"
    )
    joined: dict[int, list[dict[str, Any]]] = {}
    for r in want:
        row = dict(r)
        found = joined.setdefault(row.pop("of_doc"), [])
        if row["id"] is not None:
            found.append(row)
    assert {d["id"]: d["who"] for d in got} == joined
    ann = got[0]["who"][0]
    assert type(ann["score"]) is decimal.Decimal and ann["score"] == decimal.Decimal("1.50")
    assert ann["since"] == datetime.date(2023, 5, 1) and ann["meta"] == {"k": [1, 2.5]}
    assert ann["at"] == datetime.datetime(2024, 1, 1, 8, 0, 0, 500000, tzinfo=datetime.UTC)


async def test_postgres_unwind_equals_hand_written_sql(pg_docs: SqlDocs) -> None:
    pipe: list[dict[str, Any]] = [
        {"$unwind": {"path": "$tags", "includeArrayIndex": "i", **PRESERVE}},
        {"$sort": {"id": -1, "i": 1}},
    ]
    be = pg_docs.backend
    assert isinstance(be, PostgresBackend)
    want = await be.fetch(
        "SELECT d.id, t.v, t.n - 1 AS i FROM docs d"
        " LEFT JOIN LATERAL unnest(d.tags) WITH ORDINALITY AS t(v, n) ON true"
        " ORDER BY d.id DESC, t.n"
    )
    got = await pg_docs.aggregate(pipe)
    assert [(d["id"], d.get("tags", "gone"), d["i"]) for d in got] == [
        (r["id"], "gone" if r["i"] is None else r["v"], r["i"]) for r in want
    ]


async def test_lookup_keys_that_differ_in_type_stay_in_memory(
    sqlite_docs: SqlDocs, pg_docs: SqlDocs
) -> None:
    for repo in (sqlite_docs, pg_docs):
        await repo.aggregate([{"$lookup": LOOKUPS[0]}])
        spec = {"from": "custs", "localField": "s", "foreignField": "id", "as": "w"}
        pipe = [{"$lookup": spec}, {"$sort": {"id": 1}}]
        assert repo.explain_aggregate(pipe)["memory_stages"] == ["$lookup", "$sort"]
    for repo in (sqlite_docs, pg_docs):  # str never equals int: no match, no bind error
        got = await repo.aggregate([{"$lookup": spec}, {"$sort": {"id": 1}}])
        assert [d["w"] for d in got] == [[], [], [], [], []]


async def test_postgres_lookup_into_columns_without_exact_json_form_stays_in_memory(
    pg_docs: SqlDocs,
) -> None:
    spec = {"from": "spans", "localField": "cust", "foreignField": "id", "as": "span"}
    pipe = [{"$lookup": spec}, {"$sort": {"id": 1}}]
    got = await pg_docs.aggregate(pipe)
    assert pg_docs.explain_aggregate(pipe)["memory_stages"] == ["$lookup", "$sort"]
    assert got[0]["span"] == [{"id": 1, "span": datetime.timedelta(days=1), "codes": [1, 2]}]
    assert [len(d["span"]) for d in got] == [1, 1, 0, 0, 1]


class Tagged(XObjPrototype):
    id: int
    labels: set[str] = Field(default_factory=set)
    pairs: tuple[int, ...] = ()


class SqlTagged(ConnectedRepo[Tagged, Tagged, Tagged, dict[str, Any], str]):
    model = create_model = update_model = Tagged
    metadata = RepoMetadata(name="tagged", collection="tagged", primary_key=("id",))


async def test_set_fields_unwind_in_memory_tuples_in_sql(tmp_path: Path) -> None:
    # A set's order in memory is not its stored order: its $unwind stays in memory.
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tagged (id INTEGER PRIMARY KEY, labels TEXT, pairs TEXT)")
    backend = SQLiteBackend(path)
    try:
        repo = SqlTagged(backend)
        await repo.bulk_create([{"id": 1, "labels": {"a", "b"}, "pairs": (3, 4)}])
        sets = [{"$unwind": "$labels"}, {"$sortByCount": "$labels"}]
        assert repo.explain_aggregate(sets)["sql_stages"] == []
        assert sorted(d["_id"] for d in await repo.aggregate(sets)) == ["a", "b"]
        tuples = [{"$unwind": {"path": "$pairs", "includeArrayIndex": "i"}}]
        assert repo.explain_aggregate(tuples)["sql_stages"] == ["$unwind"]
        got = await repo.aggregate(tuples)
        assert [(d["pairs"], d["i"]) for d in got] == [(3, 0), (4, 1)]
    finally:
        await backend.close()
