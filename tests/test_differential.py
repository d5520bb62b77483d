"""Differential test: random rows (with NULLs) and random filters/sorts/paging give the same ids
in the same order on the memory backend, on SQLite and on PostgreSQL (one database for the
module, the table emptied before each example)."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from xrepo.runtime import ConnectedRepo, MemoryBackend, RepoMetadata, SQLiteBackend, XObjPrototype
from xrepo.runtime.backends.postgres import PostgresBackend


class Place(XObjPrototype):
    city: str | None = None


class Row(XObjPrototype):
    id: int
    a: int | None = None
    b: float | None = None
    s: str | None = None
    d: decimal.Decimal | None = None
    day: datetime.date | None = None
    flag: bool | None = None
    tags: list[str] = Field(default_factory=list)
    place: Place | None = None


class RowRepo(ConnectedRepo[Row, Row, Row, dict[str, Any], str]):
    model = Row
    create_model = Row
    update_model = Row
    metadata = RepoMetadata(name="rows", collection="rows", primary_key=("id",))


DDL = """CREATE TABLE rows (id INTEGER PRIMARY KEY, a INTEGER, b REAL, s TEXT, d TEXT, day TEXT,
  flag INTEGER, tags TEXT, place TEXT)"""
PG_DDL = """CREATE TABLE rows (id int8 PRIMARY KEY, a int4, b float8, s varchar(20), d numeric,
  day date, flag boolean, tags jsonb NOT NULL, place jsonb)"""


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from pg import fresh_database, run_sql

    with fresh_database() as dsn:
        run_sql(dsn, PG_DDL)
        yield dsn


WORDS = ["", "a", "b", "ab", "Ab", "ba", "é", "É", "a b", "zz"]
ints = st.integers(-3, 3)
floats = st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.25])
words = st.sampled_from(WORDS)
decimals = st.sampled_from(["-1", "0", "0.10", "0.5", "1.00", "10", "2.50"]).map(decimal.Decimal)
days = st.dates(datetime.date(2023, 12, 30), datetime.date(2024, 1, 2))
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "a": ints,
    "b": floats,
    "s": words,
    "d": decimals,
    "day": days,
    "flag": st.booleans(),
    "tags": words,
    "place.city": words,
}
ORDERED = ["a", "b", "s", "d", "day", "flag", "id"]
REGEXES = ["^a", "b$", "a.?b", "[ab]+", "é", "^$", " "]


def nullable(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "a": nullable(ints),
            "b": nullable(floats),
            "s": nullable(words),
            "d": nullable(decimals),
            "day": nullable(days),
            "flag": nullable(st.booleans()),
            "tags": st.lists(words, max_size=3),
            "place": nullable(st.fixed_dictionaries({"city": nullable(words)})),
        }
    ),
    max_size=12,
)


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(VALUES)))
    value = VALUES[field]
    ops = ["$eq", "$ne", "$in", "$nin", "$exists", "plain", "null", "$not"]
    if field != "flag":
        ops += ["$gt", "$gte", "$lt", "$lte"]
    if field in ("s", "tags", "place.city"):
        ops.append("$regex")
    if field == "tags":
        ops += ["$size", "$all", "$elemMatch"]
    op = draw(st.sampled_from(ops))
    if op == "plain":
        return {field: draw(value)}
    if op == "null":
        return {field: draw(st.sampled_from([None, {"$ne": None}, {"$eq": None}]))}
    if op in ("$in", "$nin", "$all"):
        return {field: {op: draw(st.lists(nullable(value) if op != "$all" else value, max_size=3))}}
    if op == "$exists":
        return {field: {op: draw(st.booleans())}}
    if op == "$regex":
        return {
            field: {
                op: draw(st.sampled_from(REGEXES)),
                "$options": draw(st.sampled_from(["", "i"])),
            }
        }
    if op == "$size":
        return {field: {op: draw(st.integers(0, 3))}}
    if op == "$elemMatch":
        return {field: {op: {"$gte": draw(value), "$lt": draw(value)}}}
    if op == "$not":
        return {field: {op: {draw(st.sampled_from(["$eq", "$in"])): draw(value) if True else None}}}
    return {field: {op: draw(value)}}


def _fix_not(doc: dict[str, Any]) -> dict[str, Any]:
    ((field, cond),) = doc.items()
    if isinstance(cond, dict) and "$not" in cond and "$in" in cond["$not"]:
        cond = {"$not": {"$in": [cond["$not"]["$in"]]}}
    return {field: cond}


filters = st.recursive(
    leaf().map(_fix_not),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$nor": xs}, st.lists(inner, min_size=1, max_size=2)),
    ),
    max_leaves=5,
)
sorts = st.lists(st.tuples(st.sampled_from(ORDERED), st.sampled_from([1, -1])), max_size=2)
CASES = {"run": 0}


async def run_both(
    rows: list[dict[str, Any]], flt: dict[str, Any], sort: Any, skip: int, limit: int | None
) -> tuple[list[int], list[int], int, int]:
    data = [{"id": i + 1, **r} for i, r in enumerate(rows)]
    memory = RowRepo(MemoryBackend())
    await memory.bulk_create(data)
    async with SQLiteBackend(":memory:") as be:
        await be.execute(DDL)
        sql = RowRepo(be)
        await sql.bulk_create(data)
        got_sql = [r.id for r in await sql.list(flt, sort=sort, skip=skip, limit=limit)]
        count_sql = await sql.count(flt)
    got_mem = [r.id for r in await memory.list(flt, sort=sort, skip=skip, limit=limit)]
    return got_mem, got_sql, await memory.count(flt), count_sql


async def run_all(
    rows: list[dict[str, Any]],
    flt: dict[str, Any],
    sort: Any,
    skip: int,
    limit: int | None,
    pg_dsn: str,
) -> dict[str, tuple[list[int], int]]:
    """Per backend: the ids ``list`` returns and ``count``."""
    data = [{"id": i + 1, **r} for i, r in enumerate(rows)]
    memory = RowRepo(MemoryBackend())
    await memory.bulk_create(data)
    out = {}
    async with SQLiteBackend(":memory:") as be:
        await be.execute(DDL)
        sql = RowRepo(be)
        await sql.bulk_create(data)
        got_sql = [r.id for r in await sql.list(flt, sort=sort, skip=skip, limit=limit)]
        out["sqlite"] = got_sql, await sql.count(flt)
    async with PostgresBackend(pg_dsn, min_size=1, max_size=1) as pg:
        await pg.execute("TRUNCATE rows")
        repo = RowRepo(pg)
        await repo.bulk_create(data)
        got_pg = [r.id for r in await repo.list(flt, sort=sort, skip=skip, limit=limit)]
        out["postgres"] = got_pg, await repo.count(flt)
    got_mem = [r.id for r in await memory.list(flt, sort=sort, skip=skip, limit=limit)]
    out["memory"] = got_mem, await memory.count(flt)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=rows_strategy,
    flt=filters,
    sort=sorts,
    skip=st.integers(0, 3),
    limit=st.one_of(st.none(), st.integers(0, 5)),
)
def test_memory_sqlite_and_postgres_agree(
    pg_url: str,
    rows: list[dict[str, Any]],
    flt: dict[str, Any],
    sort: Any,
    skip: int,
    limit: int | None,
) -> None:
    got = asyncio.run(run_all(rows, flt, sort, skip, limit, pg_url))
    CASES["run"] += 1
    assert got["sqlite"] == got["memory"], ("sqlite", flt, sort, skip, limit)
    assert got["postgres"] == got["memory"], ("postgres", flt, sort, skip, limit)


@pytest.fixture(scope="module")
def rows_db(mongo_url: str) -> Iterator[tuple[str, str]]:
    """One MongoDB database for this module's examples (emptied by each), dropped after."""
    from mongo import scratch_database

    with scratch_database(mongo_url, "xrepo_diff") as db:
        yield db


MONGO_CASES = {"run": 0}


async def run_mongo(
    where: tuple[str, str],
    rows: list[dict[str, Any]],
    flt: dict[str, Any],
    sort: Any,
    skip: int,
    limit: int | None,
) -> tuple[list[int], int]:
    from xrepo.runtime.backends.mongo import MongoBackend

    data = [{"id": i + 1, **r} for i, r in enumerate(rows)]
    async with MongoBackend(*where) as be:
        await be.database["rows"].delete_many({})
        repo = RowRepo(be)
        await repo.bulk_create(data)
        got = [r.id for r in await repo.list(flt, sort=sort, skip=skip, limit=limit)]
        return got, await repo.count(flt)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=rows_strategy,
    flt=filters,
    sort=sorts,
    skip=st.integers(0, 3),
    limit=st.one_of(st.none(), st.integers(0, 5)),
)
def test_mongodb_agrees_with_memory_and_sqlite(
    rows_db: tuple[str, str],
    rows: list[dict[str, Any]],
    flt: dict[str, Any],
    sort: Any,
    skip: int,
    limit: int | None,
) -> None:
    got_mem, got_sql, n_mem, n_sql = asyncio.run(run_both(rows, flt, sort, skip, limit))
    got_mongo, n_mongo = asyncio.run(run_mongo(rows_db, rows, flt, sort, skip, limit))
    MONGO_CASES["run"] += 1
    assert got_mongo == got_mem == got_sql, (flt, sort, skip, limit)
    assert n_mongo == n_mem == n_sql, flt


def test_report_cases() -> None:
    print(f"differential cases run: {CASES['run']} (MongoDB column: {MONGO_CASES['run']})")
