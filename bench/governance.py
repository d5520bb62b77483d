"""Governance benchmark: what the repo seam's ACL, audit and statistics cost, and what cache
hits save, on the memory backend, SQLite and (when reachable) PostgreSQL.

One run prints two comparisons over a table of ``--rows`` rows (default 10,000):

* **overhead** — the same workload with governance *off* (no ACL, no audit, statistics off,
  cache off, ``user_id=None``) and *on* (an ACL whose row rule ``{"tenant": "$user_id"}`` and
  hidden field ``salary`` apply to the caller, audit to a sink — in memory for the memory
  backend, ``DatabaseAuditSink`` in the same database for SQLite / PostgreSQL —, statistics
  on, cache off).  Every row belongs to the caller's tenant, so both modes return the same
  rows and the ratio on ÷ off is the cost of governance itself, not of a smaller result.
  Operations: read by id, list with a filter + limit, count, aggregate (``$match`` +
  ``$group``), create, update, delete — one row each, and a *mix* row running them
  interleaved.  Goal: on ÷ off ≤ 1.5× per operation on the memory backend; writes on SQL
  backends pay for the before-image and the audit insert, reported as measured.
* **cache hits** — read / list / count / aggregate with a cache (``MemoryCache``; ``RedisCache``
  when Redis at 127.0.0.1:6379 answers) over a fixed set of distinct calls, warmed once, then
  repeated (all hits) against the same calls uncached: ratio uncached ÷ hit, higher is better.

Timings are per call: the best of ``--repeat`` runs of ``--ops`` calls, each run after
``gc.collect()`` (loaded data frozen first), off and on interleaved.  SQLite runs in WAL mode
with ``synchronous=NORMAL``.  PostgreSQL: the benchmark makes its own database on the server
of ``--dsn`` (default: ``XREPO_TEST_PG_DSN`` or the local test server) and drops it.
``--rows 200 --ops 20 --repeat 1`` is a CI smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from xrepo.runtime import (
    ACL,
    Cache,
    ConnectedRepo,
    DatabaseAuditSink,
    MaterializedRepo,
    MemoryAuditSink,
    MemoryCache,
    PostgresBackend,
    RedisCache,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)

DEFAULT_DSN = os.environ.get("XREPO_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/0"
TENANT = "acme"
CATEGORIES = [f"cat{i:02d}" for i in range(20)]
RULES: list[dict[str, Any]] = [
    {
        "role": "member",
        "permissions": ["create", "read", "update", "delete", "list"],
        "conditions": {"row": {"tenant": "$user_id"}, "hidden": ["salary"]},
    }
]
AGGREGATE: list[dict[str, Any]] = [
    {"$match": {"age": {"$gte": 30}}},
    {"$group": {"_id": "$category", "total": {"$sum": "$score"}, "n": {"$sum": 1}}},
]
LIST_LIMIT = 20
#: Distinct calls per cached operation (each warmed once, then hit).
CACHE_KEYS = 20
SQL_DDL = (
    "CREATE TABLE people (id {int} PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, "
    "age INTEGER NOT NULL, score {float} NOT NULL, category TEXT NOT NULL, salary INTEGER)",
    "CREATE INDEX people_category ON people (category)",
)
OPS = ("read", "list", "count", "aggregate", "create", "update", "delete")
READS = ("read", "list", "count", "aggregate")


class Person(XObjPrototype):
    id: int
    tenant: str
    name: str
    age: int
    score: float
    category: str
    #: Hidden by the ACL, so it must accept None.
    salary: int | None = None


class PersonUpdate(XObjPrototype):
    name: str | None = None
    age: int | None = None
    score: float | None = None
    category: str | None = None
    salary: int | None = None


META = RepoMetadata(
    name="people",
    collection="people",
    primary_key=("id",),
    indexes=(("category",),),
    enable_statistics=False,  # "off" means off: no latency recording either
)
GOVERNED = META.model_copy(update={"enable_audit": True, "enable_statistics": True})
CACHED = META.model_copy(update={"cache_enabled": True, "cache_ttl": 3600.0})


class MemPeople(MaterializedRepo[Person, Person, PersonUpdate, dict[str, Any], str]):
    model = create_model = Person
    update_model = PersonUpdate
    metadata = META


class MemGoverned(MemPeople):
    metadata = GOVERNED


class MemCached(MemPeople):
    metadata = CACHED


class SqlPeople(ConnectedRepo[Person, Person, PersonUpdate, dict[str, Any], str]):
    model = create_model = Person
    update_model = PersonUpdate
    metadata = META


class SqlGoverned(SqlPeople):
    metadata = GOVERNED


class SqlCached(SqlPeople):
    metadata = CACHED


def make_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [
        {
            "id": i,
            "tenant": TENANT,
            "name": f"person {i}",
            "age": rnd.randint(18, 80),
            "score": round(rnd.random() * 1000, 3),
            "category": rnd.choice(CATEGORIES),
            "salary": rnd.randrange(30_000, 150_000),
        }
        for i in range(1, n + 1)
    ]


def governed(repo: Any, sink: Any) -> Any:
    repo.acl = ACL(RULES, lambda user_id: ["member"])
    repo.audit_sink = sink
    return repo


# -- the workload ---------------------------------------------------------------------------
Call = Callable[[int], Awaitable[Any]]


def calls(repo: Any, user: str | None, n_rows: int, new_base: int) -> dict[str, Call]:
    """One call per operation, the i-th call's arguments derived from ``i``; writes touch the
    ids ``new_base + i`` only (created, updated, then deleted: the table ends as it began)."""

    async def read(i: int) -> Any:
        return await repo.read(1 + (i * 7919) % n_rows, user_id=user)

    async def list_(i: int) -> Any:
        flt = {"category": CATEGORIES[i % len(CATEGORIES)], "age": {"$gte": 30 + i % 20}}
        return await repo.list(flt, limit=LIST_LIMIT, user_id=user)

    async def count(i: int) -> Any:
        return await repo.count({"category": CATEGORIES[i % len(CATEGORIES)]}, user_id=user)

    async def aggregate(i: int) -> Any:
        return await repo.aggregate(AGGREGATE, user_id=user)

    async def create(i: int) -> Any:
        row = {
            "id": new_base + i,
            "tenant": TENANT,
            "name": f"new {i}",
            "age": 20 + i % 50,
            "score": float(i),
            "category": CATEGORIES[i % len(CATEGORIES)],
        }  # no salary: a hidden field may not be written
        return await repo.create(row, user_id=user)

    async def update(i: int) -> Any:
        return await repo.update(new_base + i, {"score": i + 0.5}, user_id=user)

    async def delete(i: int) -> Any:
        assert await repo.delete(new_base + i, user_id=user)

    return {
        "read": read,
        "list": list_,
        "count": count,
        "aggregate": aggregate,
        "create": create,
        "update": update,
        "delete": delete,
    }


async def timed(run: Awaitable[None]) -> float:
    gc.collect()  # each run starts from the same heap
    started = time.perf_counter()
    await run
    return time.perf_counter() - started


async def overhead(
    modes: dict[str, dict[str, Call]], ops: int, repeat: int
) -> dict[str, dict[str, float]]:
    """Best seconds per call, per mode and operation (plus ``mix``); modes interleaved."""
    best: dict[str, dict[str, float]] = {m: {} for m in modes}

    async def batch(c: dict[str, Call], n: int) -> None:
        for op in c:
            for i in range(n):
                await c[op](i)

    async def mixed(c: dict[str, Call], n: int) -> None:
        for i in range(n):
            for op in OPS:
                await c[op](i)

    for c in modes.values():  # warm: plans, prepared statements, the audit table
        await batch(c, min(ops, 3))
    for _ in range(repeat):
        for mode, c in modes.items():
            for op in OPS:  # the write ops in this order: create, update, delete the same ids
                t = await timed(batch({op: c[op]}, ops)) / ops
                best[mode][op] = min(best[mode].get(op, t), t)
            t = await timed(mixed(c, ops)) / ops
            best[mode]["mix"] = min(best[mode].get("mix", t), t)
    return best


async def cache_hits(
    plain: dict[str, Call], cached: dict[str, Call], cache: Cache, ops: int, repeat: int
) -> dict[str, tuple[float, float]]:
    """(uncached, hit) seconds per call for each read operation over ``CACHE_KEYS`` calls."""
    out: dict[str, tuple[float, float]] = {}
    keys = min(CACHE_KEYS, ops)
    for op in READS:

        async def uncached(op: str = op) -> None:
            for i in range(ops):
                await plain[op](i % keys)

        async def hits(op: str = op) -> None:
            for i in range(ops):
                await cached[op](i % keys)

        await uncached()
        await hits()  # warm: the first `keys` calls miss and fill the cache
        misses = cache.misses
        t_plain = min([await timed(uncached()) for _ in range(repeat)])
        t_hit = min([await timed(hits()) for _ in range(repeat)])
        assert cache.misses == misses, f"{op}: the timed cached calls must all be hits"
        out[op] = (t_plain / ops, t_hit / ops)
    return out


async def same_answers(off: dict[str, Call], on: dict[str, Call]) -> None:
    """Governed and ungoverned calls return the same rows (salary hidden under governance)."""
    a, b = await off["read"](3), await on["read"](3)
    assert a.model_dump(exclude={"salary"}) == b.model_dump(exclude={"salary"})
    assert b.salary is None and a.salary is not None
    assert [p.id for p in await off["list"](5)] == [p.id for p in await on["list"](5)]
    assert await off["count"](1) == await on["count"](1)
    # Float sums may differ in the last bits: the two queries can scan in different orders.
    assert _rounded(await off["aggregate"](0)) == _rounded(await on["aggregate"](0))


def _rounded(groups: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((g["_id"], round(g["total"], 6), g["n"]) for g in groups)


# -- backends -------------------------------------------------------------------------------
Result = tuple[dict[str, dict[str, float]], dict[str, dict[str, tuple[float, float]]]]


async def run_backend(
    off_repo: Any,
    on_repo: Any,
    cached_repo_of: Callable[[Cache], Any],
    caches: dict[str, Callable[[], Awaitable[Cache]]],
    n_rows: int,
    ops: int,
    repeat: int,
) -> Result:
    base = n_rows + 1_000_000
    off = calls(off_repo, None, n_rows, base)
    on = calls(on_repo, TENANT, n_rows, base)
    await same_answers(off, on)
    # Loaded rows, models and modules are not garbage: frozen, the per-run gc.collect() scans
    # only what the calls themselves allocate.
    gc.collect()
    gc.freeze()
    over = await overhead({"off": off, "on": on}, ops, repeat)
    hits: dict[str, dict[str, tuple[float, float]]] = {}
    for name, make in caches.items():
        cache = await make()
        try:
            cached = calls(cached_repo_of(cache), None, n_rows, base)
            hits[name] = await cache_hits(off, cached, cache, ops, repeat)
        finally:
            if isinstance(cache, RedisCache):  # leave nothing behind on the shared server
                keys = [k async for k in cache.client.scan_iter(match=f"{cache.prefix}*")]
                if keys:
                    await cache.client.delete(*keys)
                await cache.aclose()
    return over, hits


def cache_makers(redis_ok: bool) -> dict[str, Callable[[], Awaitable[Cache]]]:
    async def memory() -> Cache:
        return MemoryCache()

    async def redis() -> Cache:
        # A fresh prefix: nothing cached by an earlier run can be hit; the keys expire.
        return RedisCache(REDIS_URL, prefix=f"xrepo:bench:{uuid.uuid4().hex[:8]}:")

    return {"MemoryCache": memory, "RedisCache": redis} if redis_ok else {"MemoryCache": memory}


async def bench_memory(rows: list[dict[str, Any]], ops: int, repeat: int, redis_ok: bool) -> Result:
    off = MemPeople(rows)
    on = governed(MemGoverned(), MemoryAuditSink())
    on.backend = off.backend  # one store: both modes read and write the same rows

    def cached(cache: Cache) -> Any:
        repo = MemCached()
        repo.backend = off.backend
        repo.cache = cache
        return repo

    return await run_backend(off, on, cached, cache_makers(redis_ok), len(rows), ops, repeat)


async def bench_sql(
    backend: Any, rows: list[dict[str, Any]], ops: int, repeat: int, redis_ok: bool
) -> Result:
    off = SqlPeople(backend)
    await off.bulk_create(rows)
    on = governed(SqlGoverned(backend), DatabaseAuditSink(backend))

    def cached(cache: Cache) -> Any:
        repo = SqlCached(backend)
        repo.cache = cache
        return repo

    return await run_backend(off, on, cached, cache_makers(redis_ok), len(rows), ops, repeat)


async def bench_sqlite(rows: list[dict[str, Any]], ops: int, repeat: int, redis_ok: bool) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        backend = SQLiteBackend(Path(tmp) / "bench.db")
        await backend.connect()
        try:
            # WAL without fsync per commit (the usual production setting): otherwise every
            # write costs one disk flush in both modes and the overhead disappears in it.
            await backend.execute("PRAGMA journal_mode=WAL")
            await backend.execute("PRAGMA synchronous=NORMAL")
            for sql in SQL_DDL:
                await backend.execute(sql.format(int="INTEGER", float="REAL"))
            return await bench_sql(backend, rows, ops, repeat, redis_ok)
        finally:
            await backend.close()


async def bench_postgres(
    dsn: str, rows: list[dict[str, Any]], ops: int, repeat: int, redis_ok: bool
) -> Result:
    asyncpg = importlib.import_module("asyncpg")
    admin = await asyncpg.connect(dsn, timeout=5)
    name = f"xrepo_bench_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        backend = PostgresBackend(dsn.rsplit("/", 1)[0] + "/" + name, min_size=1, max_size=2)
        await backend.connect()
        try:
            for sql in SQL_DDL:
                await backend.execute(sql.format(int="integer", float="double precision"))
            return await bench_sql(backend, rows, ops, repeat, redis_ok)
        finally:
            await backend.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def redis_reachable() -> bool:
    try:
        aioredis = importlib.import_module("redis.asyncio")
    except ImportError:
        return False
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


# -- report ---------------------------------------------------------------------------------
def us(seconds: float) -> str:
    return f"{seconds * 1e6:10.1f}"


def print_overhead(results: dict[str, Result]) -> None:
    head = f"{'backend':<12}{'operation':<11}{'off µs':>10}{'on µs':>10}{'on÷off':>9}"
    print("\nGovernance overhead (per call; on = ACL row rule + hidden field, audit, statistics)")
    print(head)
    print("-" * len(head))
    for backend, (over, _) in results.items():
        for op in (*OPS, "mix"):
            off, on = over["off"][op], over["on"][op]
            label = "mix (all 7)" if op == "mix" else op
            print(f"{backend:<12}{label:<11}{us(off)}{us(on)}{on / off:8.2f}×")


def print_hits(results: dict[str, Result]) -> None:
    head = (
        f"{'backend':<12}{'cache':<13}{'operation':<11}{'uncached µs':>12}{'hit µs':>10}"
        f"{'uncached÷hit':>14}"
    )
    print(f"\nCache hits (per call; {CACHE_KEYS} distinct calls per operation, warmed)")
    print(head)
    print("-" * len(head))
    for backend, (_, hits) in results.items():
        for cache, per_op in hits.items():
            for op, (plain, hit) in per_op.items():
                print(
                    f"{backend:<12}{cache:<13}{op:<11}{us(plain):>12}{us(hit)}{plain / hit:13.2f}×"
                )


async def bench(args: argparse.Namespace, notes: list[str]) -> dict[str, Result]:
    rows = make_rows(args.rows)
    ops, repeat = max(1, args.ops), max(1, args.repeat)
    redis_ok = not args.no_redis and await redis_reachable()
    if not args.no_redis and not redis_ok:
        notes.append(f"Redis at {REDIS_URL} not reachable — RedisCache skipped")
    results: dict[str, Result] = {}
    results["memory"] = await bench_memory(rows, ops, repeat, redis_ok)
    results["sqlite"] = await bench_sqlite(rows, ops, repeat, redis_ok)
    if not args.no_postgres:
        try:
            results["postgres"] = await bench_postgres(args.dsn, rows, ops, repeat, redis_ok)
        except (TimeoutError, OSError) as exc:
            notes.append(f"PostgreSQL at {args.dsn} not reachable ({exc}) — skipped")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000, help="dataset size")
    parser.add_argument("--ops", type=int, default=50, help="calls per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args(argv)
    notes: list[str] = []
    started = time.perf_counter()
    results = asyncio.run(bench(args, notes))
    print(
        f"rows: {args.rows:,}   ops: {args.ops}   best of {args.repeat}   "
        f"python {sys.version.split()[0]}   ({time.perf_counter() - started:.1f} s)"
    )
    print_overhead(results)
    print_hits(results)
    for note in notes:
        print(f"note: {note}")
    print(
        "goal: governance on ÷ off ≤ 1.5× per operation on the memory backend (lower is "
        "better);\n      cache hits: uncached ÷ hit, higher is better (< 1× means the hit "
        "costs more than the query)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
