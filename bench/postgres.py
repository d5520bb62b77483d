"""PostgreSQL runtime benchmark: xrepo's ConnectedRepo against raw asyncpg and SQLAlchemy 2.

In one run, on a table of ``--rows`` rows (default 10,000; also 1/10 of that) of 10 columns
(int, text, numeric, bool, date, timestamptz, text[], jsonb):

* raw asyncpg ``fetch`` of the rows (records, nothing validated) — the floor;
* xrepo ``repo.list`` into validated pydantic models;
* raw ``fetch`` plus per-row ``Model.model_validate(dict(record))`` (the obvious hand-written way);
* the SQLAlchemy 2 async ORM (asyncpg driver) selecting the same rows as mapped objects;

and ``--bulk`` rows (default 100,000) written by xrepo ``bulk_create`` (plain dicts validated
into create models, or create models the caller already holds; validated read models with
generated keys out) against raw ``copy_records_to_table`` of pre-built tuples.

Goals (issue 4): list ≤ 2.2× raw fetch and ≥ 2.5× faster than the ORM; bulk_create ≤ 1.5× raw
COPY.  Timings are the best of ``--repeat`` runs, the contenders taking turns.  The benchmark
makes its own database on the server of ``--dsn`` (default: ``XREPO_TEST_PG_DSN`` or the local
test server) and drops it.
``--rows 200 --bulk 2000 --repeat 1`` is a CI smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import decimal
import gc
import importlib
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import Field

from xrepo.runtime import ConnectedRepo, RepoMetadata, XObjPrototype
from xrepo.runtime.backends.postgres import PostgresBackend

DEFAULT_DSN = os.environ.get("XREPO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS_DDL = """(
  id serial PRIMARY KEY, name text NOT NULL, email text, score numeric(10, 2), active boolean,
  born date, created timestamptz, qty int4, tags text[] NOT NULL, meta jsonb
)"""
DDL = "; ".join(f"CREATE TABLE {t} {COLUMNS_DDL}" for t in ("people", "bulk_raw", "bulk_repo"))
COLUMNS = ["name", "email", "score", "active", "born", "created", "qty", "tags", "meta"]


class Meta(XObjPrototype):
    city: str | None = None
    level: int | None = None


class Person(XObjPrototype):
    id: int | None = None
    name: str
    email: str | None = None
    score: decimal.Decimal | None = None
    active: bool | None = None
    born: datetime.date | None = None
    created: datetime.datetime | None = None
    qty: int | None = None
    tags: list[str] = Field(default_factory=list)
    meta: Meta | None = None


class People(ConnectedRepo[Person, Person, Person, dict[str, Any], str]):
    model = create_model = update_model = Person
    metadata = RepoMetadata(name="people", collection="people", primary_key=("id",))


class BulkPeople(People):
    metadata = RepoMetadata(name="bulk", collection="bulk_repo", primary_key=("id",))


def make_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return [
        {
            "name": f"person {i}",
            "email": f"p{i}@example.org",
            "score": decimal.Decimal(rnd.randrange(0, 100000)) / 100,
            "active": rnd.random() < 0.5,
            "born": datetime.date(1950, 1, 1) + datetime.timedelta(days=rnd.randrange(20000)),
            "created": base + datetime.timedelta(seconds=rnd.randrange(10**7)),
            "qty": rnd.randrange(1000),
            "tags": rnd.sample(["red", "green", "blue", "cyan"], rnd.randrange(3)),
            "meta": {"city": rnd.choice(["Oslo", "Rome", "Lima"]), "level": rnd.randrange(5)},
        }
        for i in range(n)
    ]


async def best(runs: Sequence[Callable[[], Awaitable[Any]]], repeat: int) -> list[float]:
    """The best time of each of ``runs``, taken in turns (round robin): a busy machine then
    slows every contender alike instead of whichever ran during the busy spell."""
    for run in runs:
        await run()  # warm: prepared statements, caches, codecs
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, taken in zip(runs, times, strict=True):
            gc.collect()  # each run starts from the same heap
            started = time.perf_counter()
            await run()
            taken.append(time.perf_counter() - started)
    return [min(taken) for taken in times]


def sqlalchemy_select(dsn: str) -> tuple[Any, Callable[[int], Awaitable[Any]]] | None:
    try:
        sa = importlib.import_module("sqlalchemy")
        sa_async = importlib.import_module("sqlalchemy.ext.asyncio")
        orm = importlib.import_module("sqlalchemy.orm")
        pg = importlib.import_module("sqlalchemy.dialects.postgresql")
    except ImportError:
        return None

    class Base(orm.DeclarativeBase):  # type: ignore[name-defined,misc]
        pass

    class PersonRow(Base):
        __tablename__ = "people"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.Text)
        email = sa.Column(sa.Text)
        score = sa.Column(sa.Numeric(10, 2))
        active = sa.Column(sa.Boolean)
        born = sa.Column(sa.Date)
        created = sa.Column(sa.DateTime(timezone=True))
        qty = sa.Column(sa.Integer)
        tags = sa.Column(pg.ARRAY(sa.Text))
        meta = sa.Column(pg.JSONB)

    engine = sa_async.create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"))
    sessions = sa_async.async_sessionmaker(engine, expire_on_commit=False)

    async def run(n: int) -> Any:
        async with sessions() as session:
            stmt = sa.select(PersonRow).where(PersonRow.id <= n).order_by(PersonRow.id)
            return (await session.execute(stmt)).scalars().all()

    return engine, run


async def bench(dsn: str, rows: int, bulk: int, repeat: int) -> list[tuple[str, float, str]]:
    asyncpg = importlib.import_module("asyncpg")
    admin = await asyncpg.connect(dsn)
    name = f"xrepo_bench_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    db = dsn.rsplit("/", 1)[0] + "/" + name
    out: list[tuple[str, float, str]] = []
    try:
        conn = await asyncpg.connect(db)
        await conn.execute(DDL)
        await conn.close()
        backend = PostgresBackend(db, min_size=1, max_size=2)
        repo = People(backend)
        await repo.bulk_create(make_rows(rows))
        # The floor is asyncpg as shipped: its own codecs (jsonb arrives as text, undecoded).
        pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
        peer = sqlalchemy_select(db)
        for n in sorted({max(rows // 10, 1), rows}):
            sql = "SELECT * FROM people WHERE id <= $1 ORDER BY id"

            async def raw(n: int = n, sql: str = sql) -> Any:
                async with pool.acquire() as c:
                    return await c.fetch(sql, n)

            async def listed(n: int = n) -> Any:
                return await repo.list({"id": {"$lte": n}}, sort=[("id", 1)])

            async def per_row(n: int = n, sql: str = sql) -> Any:
                async with pool.acquire() as c:
                    recs = await c.fetch(sql, n)
                out = []
                for r in recs:
                    row = dict(r)
                    if row["meta"] is not None:
                        row["meta"] = json.loads(row["meta"])
                    out.append(Person.model_validate(row))
                return out

            assert len(await listed()) == n
            contenders: list[Callable[[], Awaitable[Any]]] = [raw, listed, per_row]
            if peer is not None:

                async def orm(n: int = n, select_orm: Any = peer[1]) -> Any:
                    return await select_orm(n)

                contenders.append(orm)
            t_raw, t_list, t_row, *t_peer = await best(contenders, repeat)
            out.append((f"raw asyncpg fetch, {n:,} rows", t_raw, "1.00× (floor)"))
            out.append((f"xrepo list → models, {n:,} rows", t_list, f"{t_list / t_raw:.2f}× raw"))
            out.append(
                (f"fetch + per-row model_validate, {n:,}", t_row, f"{t_row / t_raw:.2f}× raw")
            )
            for t_orm in t_peer:
                out.append(
                    (
                        f"SQLAlchemy 2 async ORM, {n:,} rows",
                        t_orm,
                        f"{t_orm / t_raw:.2f}× raw; xrepo {t_orm / t_list:.2f}× faster",
                    )
                )
        if peer is not None:
            await peer[0].dispose()
        data = make_rows(bulk, seed=11)
        # Raw asyncpg takes jsonb as JSON text.
        records = [tuple(json.dumps(r[c]) if c == "meta" else r[c] for c in COLUMNS) for r in data]

        async def raw_copy() -> None:
            async with pool.acquire() as c:
                await c.execute("TRUNCATE bulk_raw")
                await c.copy_records_to_table("bulk_raw", records=records, columns=COLUMNS)

        bulk_repo = BulkPeople(backend)

        async def created() -> None:
            await backend.execute("TRUNCATE bulk_repo RESTART IDENTITY")
            made = await bulk_repo.bulk_create(data)
            assert len(made) == bulk and made[-1].id == bulk

        given = [Person.model_validate(r) for r in data]

        async def created_from_models() -> None:
            await backend.execute("TRUNCATE bulk_repo RESTART IDENTITY")
            made = await bulk_repo.bulk_create(given)
            assert len(made) == bulk and made[-1].id == bulk

        t_copy, t_bulk, t_models = await best([raw_copy, created, created_from_models], repeat)
        out.append((f"raw copy_records_to_table, {bulk:,} rows", t_copy, "1.00× (floor)"))
        out.append((f"xrepo bulk_create, {bulk:,} dicts", t_bulk, f"{t_bulk / t_copy:.2f}× raw"))
        out.append(
            (
                f"xrepo bulk_create, {bulk:,} create models",
                t_models,
                f"{t_models / t_copy:.2f}× raw",
            )
        )
        await pool.close()
        await backend.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        results = asyncio.run(bench(args.dsn, args.rows, args.bulk, args.repeat))
    except OSError as exc:
        print(f"bench/postgres.py: cannot reach PostgreSQL at {args.dsn}: {exc}", file=sys.stderr)
        return 2
    width = max(len(label) for label, _, _ in results)
    print(f"PostgreSQL runtime benchmark (best of {args.repeat})")
    for label, seconds, ratio in results:
        print(f"  {label:<{width}}  {seconds * 1000:9.1f} ms   {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
