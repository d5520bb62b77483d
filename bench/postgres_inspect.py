"""PostgreSQL inspection: xrepo vs SQLAlchemy reflection vs sqlacodegen, as ratios in one run.

Builds, in a fresh database it creates and drops, N tables x 20 columns whose foreign keys chain
through the tables (t1 -> t0, t2 -> t1, ...), then times:

- xrepo ``inspect_postgres`` (the CLI's entry point) with ``sample_rows=0`` (the fixed catalog
  queries only), and with the default sampling (one extra query per table: the optional step);
- SQLAlchemy 2 ``MetaData.reflect()`` on a sync psycopg2 engine — as users call it (it follows
  foreign keys recursively, so a deep chain exhausts Python's default recursion limit) and with
  ``resolve_fks=False`` (the same tables, no recursion) so a ratio exists even when it crashes;
- sqlacodegen's declarative generator (reflect + generate, as its CLI runs), in process.

A peer that crashes is reported as such; the recursion limit is deliberately left at Python's
default. Usage: ``python bench/postgres_inspect.py [--tables 1000] [--dsn postgresql://...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from xrepo.runtime.introspect.postgres import inspect_postgres

DEFAULT_DSN = os.environ.get("XREPO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
_TYPES = (
    "text",
    "varchar(80)",
    "integer",
    "bigint",
    "numeric(12,2)",
    "boolean",
    "timestamptz",
    "timestamp",
    "date",
    "jsonb",
    "uuid",
    "double precision",
    "smallint",
    "bytea",
    "interval",
    "text[]",
    "char(2)",
)


def schema_sql(tables: int) -> str:
    """N tables of 20 columns: id, a FK to the previous table, and 18 typed columns."""
    out: list[str] = []
    for i in range(tables):
        cols = [
            "id serial PRIMARY KEY",
            "prev_id integer" + (f" REFERENCES t{i - 1} (id)" if i else ""),
        ]
        cols += [f"c{j:02d} {_TYPES[(i + j) % len(_TYPES)]}" for j in range(18)]
        out.append(f"CREATE TABLE t{i} ({', '.join(cols)});")
        out.append(f"CREATE INDEX t{i}_c00 ON t{i} (c00);")
    return "\n".join(out)


def _db_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


def timed(label: str, fn: Callable[[], Any]) -> float | None:
    start = time.perf_counter()
    try:
        fn()
    except RecursionError:
        elapsed = time.perf_counter() - start
        print(f"  {label:<44} CRASHED: RecursionError after {elapsed:.2f} s")
        return None
    elapsed = time.perf_counter() - start
    print(f"  {label:<44} {elapsed:8.3f} s")
    return elapsed


def sqlalchemy_reflect(url: str, *, resolve_fks: bool) -> None:
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        MetaData().reflect(bind=engine, resolve_fks=resolve_fks)
    finally:
        engine.dispose()


def sqlacodegen_run(url: str) -> None:
    from sqlacodegen.generators import DeclarativeGenerator
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        metadata = MetaData()
        generator = DeclarativeGenerator(metadata, engine, set())
        metadata.reflect(engine, None, True, None)  # what its CLI does
        generator.generate()
    finally:
        engine.dispose()


def ratio(peer: float | None, ours: float) -> str:
    return "n/a (crashed)" if peer is None else f"{peer / ours:6.1f}x"


async def setup(admin: str, name: str, tables: int) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(_db_url(admin, name))
    try:
        await conn.execute(schema_sql(tables))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def teardown(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="an admin DSN (databases are made here)")
    args = parser.parse_args()
    name = f"xrepo_bench_{uuid.uuid4().hex[:8]}"
    url = _db_url(args.dsn, name)
    print(
        f"PostgreSQL inspection: {args.tables} tables x 20 columns, FKs chained; "
        f"recursion limit {sys.getrecursionlimit()}"
    )
    start = time.perf_counter()
    asyncio.run(setup(args.dsn, name, args.tables))
    print(f"  (schema built in {time.perf_counter() - start:.1f} s)")
    try:
        snap: list[Any] = [None]

        def ours(sample_rows: int) -> None:
            snap[0] = None  # the previous run's snapshot is not this run's garbage
            snap[0] = inspect_postgres(url, name="b", sample_rows=sample_rows)

        ours(0)  # warm-up: imports, the server's catalog caches
        xrepo = timed("xrepo inspect (catalog, sample_rows=0)", lambda: ours(0))
        xrepo_sampled = timed("xrepo inspect (+ sampling, sample_rows=1000)", lambda: ours(1000))
        assert len(snap[0].collections) == args.tables
        sa = timed(
            "SQLAlchemy MetaData.reflect()", lambda: sqlalchemy_reflect(url, resolve_fks=True)
        )
        sa_flat = timed(
            "SQLAlchemy reflect(resolve_fks=False)",
            lambda: sqlalchemy_reflect(url, resolve_fks=False),
        )
        codegen = timed("sqlacodegen (reflect + generate)", lambda: sqlacodegen_run(url))
        assert xrepo is not None and xrepo_sampled is not None
        print("ratios (peer time / xrepo catalog time; goal: reflection >= 10x):")
        print(f"  SQLAlchemy reflect()                 {ratio(sa, xrepo)}")
        print(f"  SQLAlchemy reflect(resolve_fks=False) {ratio(sa_flat, xrepo)}")
        print(f"  sqlacodegen                          {ratio(codegen, xrepo)}")
        print(f"  xrepo with sampling / without        {xrepo_sampled / xrepo:6.1f}x")
    finally:
        asyncio.run(teardown(args.dsn, name))


if __name__ == "__main__":
    main()
