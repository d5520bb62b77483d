"""MongoDB inspection time as the sample size grows (the inspection part of ``bench/mongo.py``).

Loads ``--docs`` documents (default 1,000,000) into one collection with ``insert_many`` in
batches, then times ``inspect_mongo_async`` on it for each ``--sizes`` entry (default 100, 1,000,
10,000, 100,000 and a full scan) and prints a table: wall time, documents typed, server round
trips, and the time of a plain fetch of the same documents (``--split``; the remainder is the
client's typing work).

The documents drift the way real ones do: a field added half way through the collection, a
rare string among numbers, optional and nested fields, arrays, and a small map keyed by
language codes — so the snapshot differs with the sample, which the table shows as the number
of fields and warnings found.

``--url mongodb://host:port`` points it at any server (a real mongod); without it a SecantusDB
server is started on a free port for the run and stopped by its PID. SecantusDB examines the
whole collection on every query, so each sampling window costs about a full scan there: its
times say little about a real mongod, where windows walk the ``_id`` index. ``--docs 20000`` is a
smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from xrepo.runtime.introspect.mongo import inspect_mongo_async
from xrepo.runtime.introspect.mongo_sample import plan_windows, read_sample

COLLECTION = "inspect_bench"
LANGS = ["en", "fr", "de", "es", "it", "pt-BR", "zh", "ja", "ko", "nl", "sv", "pl"]
START = datetime(2020, 1, 1, tzinfo=UTC)


def document(i: int, total: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": f"item {i}",
        "n": i,
        "price": (i % 1000) / 4 if i % 3 else i % 1000,
        "score": "n/a" if i % 200 == 0 else (i * 7) % 100,  # 0.5% strings among ints
        "created": START + timedelta(seconds=i),
        "tags": [f"t{i % 7}", f"t{i % 11}"],
        "address": {"city": f"city{i % 50}", "zip": f"{i % 100000:05d}"},
    }
    if i % 4 == 0:
        doc["note"] = None if i % 8 == 0 else "checked"
    if i >= total // 2:  # a field that appears half way through: only windows past it see it
        doc["version"] = 2
    if i % 10 == 0:
        doc["titles"] = {LANGS[(i + k) % len(LANGS)]: f"title {i}" for k in range(3)}
    return doc


def load(url: str, database: str, docs: int, batch: int) -> float:
    from pymongo import MongoClient

    with MongoClient(url) as client:
        coll = client[database][COLLECTION]
        if coll.estimated_document_count() == docs:
            return 0.0
        coll.drop()
        started = time.perf_counter()
        for first in range(0, docs, batch):
            coll.insert_many(
                [document(i, docs) for i in range(first, min(first + batch, docs))],
                ordered=False,
            )
        return time.perf_counter() - started


async def fetch_only(url: str, database: str, sample: int | None, docs: int) -> float:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        coll = client[database][COLLECTION]
        plan = None if sample is None else plan_windows(docs, sample)
        started = time.perf_counter()
        async for _ in read_sample(coll, plan):
            pass
        return time.perf_counter() - started
    finally:
        await client.close()


async def run(args: argparse.Namespace, url: str) -> None:
    print(f"server: {'SecantusDB (started for this run)' if args.url is None else 'given URL'}")
    loaded = load(url, args.database, args.docs, args.batch)
    print(
        f"collection: {args.docs:,} documents"
        + (f", loaded in {loaded:.1f}s" if loaded else " (already loaded)")
    )
    print()
    header = f"{'sample':>10} {'typed':>10} {'queries':>8} {'inspect s':>10}"
    header += f" {'fetch s':>9} {'typing s':>9}" if args.split else ""
    header += f" {'fields':>7} {'warnings':>9}"
    print(header)
    print("-" * len(header))
    for size_text in args.sizes.split(","):
        full = size_text.strip() == "full"
        sample = None if full else int(size_text)
        if sample is not None and sample > args.docs:
            continue
        started = time.perf_counter()
        snap = await inspect_mongo_async(
            url,
            name="bench",
            database=args.database,
            include=[COLLECTION],
            sample_size=sample or 1,
            full_scan=full,
        )
        took = time.perf_counter() - started
        spec = snap.collection(COLLECTION)
        assert spec.stats is not None
        typed = spec.stats.sampled or 0
        queries = "1" if full else str(len(plan_windows(args.docs, sample or 1)))
        line = f"{'full scan' if full else f'{sample:,}':>10} {typed:>10,} {queries:>8}"
        line += f" {took:>10.2f}"
        if args.split:
            fetched = await fetch_only(url, args.database, sample, args.docs)
            line += f" {fetched:>9.2f} {max(took - fetched, 0.0):>9.2f}"
        line += f" {len(spec.fields):>7} {len(snap.warnings):>9}"
        print(line, flush=True)
    print()
    print("queries: server round trips for documents (windows; a full scan is one cursor).")
    print("inspect s also holds listCollections, $collStats and listIndexes.")


@contextmanager
def secantus() -> Iterator[str]:
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"]
    proc = subprocess.Popen(
        [*command, "--cache-size", "1G"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("XREPO_BENCH_MONGO_URL"))
    parser.add_argument("--database", default="xrepo_bench")
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--sizes", default="100,1000,10000,100000,full")
    parser.add_argument(
        "--split", action="store_true", help="also time a plain fetch of the same documents"
    )
    args = parser.parse_args()
    if args.url:
        asyncio.run(run(args, args.url))
    else:
        with secantus() as url:
            asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
