"""Redis inspection benchmark: 100,000 hashes, inspected within the SCAN budget.

Writes ``--keys`` hashes (default 100,000; 6 fields each: int, float, bool, date, datetime,
text) under a unique prefix with pipelines, then inspects them twice — with the default budget
(100,000 keys) and with ``--budget`` (default 10,000) — and prints, for each run, the keys
examined, SCAN calls, pipelined round trips, the time, keys/s, and whether the budget was
respected. Every key written is deleted afterwards (the prefix is unique; never FLUSHDB).

``--keys 2000`` is a smoke run of a second. Needs a Redis server: ``--url`` (default
``XREPO_BENCH_REDIS_URL`` or redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from typing import Any

from xrepo.runtime.introspect.redis import inspect_redis_detailed

DEFAULT_URL = os.environ.get("XREPO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


async def load(client: Any, prefix: str, n: int, batch: int = 5000) -> float:
    started = time.perf_counter()
    for start in range(0, n, batch):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(n, start + batch)):
            pipe.hset(
                f"{prefix}user:{i}",
                mapping={
                    "age": str(18 + i % 60),
                    "score": f"{(i % 1000) / 8}",
                    "active": "true" if i % 3 else "false",
                    "born": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
                    "seen": f"2024-05-01T10:{i % 60:02d}:00+00:00",
                    "name": f"user number {i}",
                },
            )
        await pipe.execute()
    return time.perf_counter() - started


async def delete_prefix(client: Any, prefix: str) -> int:
    removed = 0
    cursor: int = 0
    while True:
        cursor, keys = await client.scan(cursor, match=f"{prefix}*", count=5000)
        if keys:
            removed += int(await client.delete(*keys))
        if int(cursor) == 0:
            return removed


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    try:
        import redis.asyncio as aioredis
    except ImportError:
        print("needs redis-py: pip install 'xrepo[redis]'")
        return 2
    client = aioredis.from_url(args.url)
    try:
        await client.ping()
    except Exception as exc:  # no server: say so, nothing to clean up
        print(f"Redis not reachable at {args.url}: {exc}")
        await client.aclose()
        return 2
    prefix = f"xrepo_bench_{uuid.uuid4().hex[:10]}:"
    ok = True
    try:
        took = await load(client, prefix, args.keys)
        print(f"loaded {args.keys:,} hashes under {prefix!r} in {took:.2f} s (pipelined)")
        print(f"{'budget':>10} {'examined':>10} {'scans':>7} {'pipes':>7} {'time s':>8} "
              f"{'keys/s':>10}  budget respected")  # fmt: skip
        for budget in (100_000, args.budget):
            started = time.perf_counter()
            result = await inspect_redis_detailed(
                args.url, name="bench", prefix=prefix, scan_budget=budget
            )
            elapsed = time.perf_counter() - started
            respected = result.keys_examined <= budget
            ok = ok and respected
            # Past the budget the scan must stop early (at exactly the budget it may or may
            # not see SCAN's last cursor first).
            ok = ok and (result.budget_reached or args.keys <= budget)
            rate = result.keys_examined / elapsed if elapsed else float("inf")
            print(
                f"{budget:>10,} {result.keys_examined:>10,} {result.scan_calls:>7} "
                f"{result.pipeline_calls:>7} {elapsed:>8.2f} {rate:>10,.0f}  "
                f"{'yes' if respected else 'NO'}"
                + (" (scan stopped at the budget)" if result.budget_reached else "")
            )
            spec = result.snapshot.collection("user:{id}")
            kinds = ", ".join(f"{f.name}:{f.type.kind.value}" for f in spec.fields)
            if budget == args.budget:
                print(f"  pattern user:{{id}} -> {kinds}")
    finally:
        removed = await delete_prefix(client, prefix)
        print(f"deleted {removed:,} keys")
        await client.aclose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
