"""MongoDB read path: BSON decode + validation into models, ours vs raw PyMongo.

SecantusDB (the test server) examines the whole collection on every find, so server time swamps
the client's share.  The client side is therefore measured on ONE fetched batch (the raw BSON
bytes of ``find_raw_batches``), decoded and validated again and again:

* ``decode alone``       PyMongo's own decoding of the batch (``bson.decode_all``, default codec)
* ``raw + per-doc``      that, then ``Model.model_validate`` per document (the model converts
                         ObjectId / Decimal128 with ``BeforeValidator``s, as a user would)
* ``raw + batch``        that, then one ``TypeAdapter(list[Model]).validate_python``
* ``ours``               MongoBackend's decoding (ObjectId → str, Decimal128 → Decimal inside the
                         C decoder) + the repo's validation of the list (what ``repo.list`` does)

Ratios are against ``decode alone`` in the same run.  Server-inclusive times (``repo.list()``
against ``find().to_list()`` + per-document ``model_validate``) are printed beside them.

    python bench/mongo.py [--url mongodb://host:27017] [--docs 10000] [--repeat 7]

Without ``--url`` a SecantusDB server is started on a free port (as tests/mongo.py does) and
stopped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import decimal
import gc
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import bson
from bson import Decimal128, ObjectId
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter
from pymongo import AsyncMongoClient

from xrepo.runtime import ConnectedRepo, RepoMetadata, XObjPrototype
from xrepo.runtime.backends.mongo import MongoBackend
from xrepo.runtime.backends.mongo_codec import codec_options


class Address(XObjPrototype):
    city: str | None = None
    zip: str | None = None


class Item(XObjPrototype):
    id: str = Field(alias="_id")
    name: str
    qty: int
    price: decimal.Decimal
    score: float | None = None
    flag: bool
    created: datetime.datetime
    ref: uuid.UUID
    tags: list[str] = Field(default_factory=list)
    address: Address | None = None


class ItemRepo(ConnectedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = RepoMetadata(name="items", collection="items", primary_key=("id",))


def _dec(v: Any) -> Any:
    return v.to_decimal() if isinstance(v, Decimal128) else v


class RawItem(BaseModel):
    """What a PyMongo user writes to get the same typed objects from raw documents."""

    id: Annotated[str, BeforeValidator(str)] = Field(alias="_id")
    name: str
    qty: int
    price: Annotated[decimal.Decimal, BeforeValidator(_dec)]
    score: float | None = None
    flag: bool
    created: datetime.datetime
    ref: uuid.UUID
    tags: list[str] = Field(default_factory=list)
    address: Address | None = None


def make_docs(n: int) -> list[dict[str, Any]]:
    rnd = random.Random(7)
    cities = ["Oslo", "Bath", "Lyon", "Kyoto", "Porto", None]
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return [
        {
            "_id": ObjectId(),
            "name": f"item {i}",
            "qty": rnd.randint(0, 1000),
            "price": Decimal128(f"{rnd.randint(0, 99999) / 100:.2f}"),
            "score": rnd.random() if i % 5 else None,
            "flag": bool(i % 2),
            "created": base + datetime.timedelta(minutes=i),
            "ref": uuid.UUID(int=rnd.getrandbits(128)),
            "tags": rnd.sample(["a", "b", "c", "d", "e"], rnd.randint(0, 3)),
            "address": {"city": rnd.choice(cities), "zip": f"{rnd.randint(1000, 9999)}"},
        }
        for i in range(n)
    ]


@contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"]
    proc = subprocess.Popen([*args, "--cache-size", "256M"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def best_of(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Best time of each function, the variants interleaved round by round so that load from
    other processes hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            gc.disable()  # as timeit does: one variant's garbage is not collected in another's time
            try:
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
            finally:
                gc.enable()
    return {name: min(ts) for name, ts in times.items()}


async def best_async(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def main(url: str, n: int, repeat: int) -> None:
    db_name = f"xrepo_bench_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[Any] = AsyncMongoClient(url, uuidRepresentation="standard")
    try:
        coll = client[db_name]["items"]
        docs = make_docs(n)
        for i in range(0, n, 5000):
            await coll.insert_many(docs[i : i + 5000])
        # One fetch; every client-side variant works on these bytes.
        batches = [b async for b in coll.find_raw_batches({}, batch_size=n + 1)]
        data = b"".join(batches)
        raw_opts = CodecOptions(uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)
        ours_opts = codec_options(tz_aware=True)
        assert len(bson.decode_all(data, raw_opts)) == n
        per_doc = RawItem.model_validate
        raw_list: TypeAdapter[list[RawItem]] = TypeAdapter(list[RawItem])
        ours_list: TypeAdapter[list[Item]] = TypeAdapter(list[Item])
        row_validate = Item.__pydantic_validator__.validate_python

        rows: dict[str, Callable[[], Any]] = {
            "decode alone (PyMongo)": lambda: bson.decode_all(data, raw_opts),
            "raw + per-doc model_validate": lambda: [
                per_doc(d) for d in bson.decode_all(data, raw_opts)
            ],
            "raw + batch TypeAdapter": lambda: raw_list.validate_python(
                bson.decode_all(data, raw_opts)
            ),
            "ours: decode (typed by codec)": lambda: bson.decode_all(data, ours_opts),
            "ours: decode + per-row validator": lambda: [
                row_validate(d) for d in bson.decode_all(data, ours_opts)
            ],
            "ours: decode + batch TypeAdapter": lambda: ours_list.validate_python(
                bson.decode_all(data, ours_opts)
            ),
        }
        # Same results both ways.
        a = raw_list.validate_python(bson.decode_all(data, raw_opts))
        b = ours_list.validate_python(bson.decode_all(data, ours_opts))
        assert [x.model_dump() for x in a] == [y.model_dump() for y in b]
        timings = best_of(rows, repeat)
        base = timings["decode alone (PyMongo)"]
        print(f"client side, one batch of {n} documents (best of {repeat}):")
        print(f"  {'variant':36} {'ms':>9} {'× decode':>9}")
        for name, t in timings.items():
            print(f"  {name:36} {t * 1000:9.2f} {t / base:9.2f}")

        backend = MongoBackend(url, db_name)
        repo = ItemRepo(backend)
        got = await repo.list()
        assert len(got) == n

        async def raw_fetch() -> Any:
            return await coll.find({}).to_list()

        async def raw_validated() -> Any:
            return [per_doc(d) for d in await coll.find({}).to_list()]

        async def raw_sorted() -> Any:
            # What repo.list() asks the server for: _id order (the key is the tiebreaker).
            return await coll.find({}).sort([("_id", 1)]).to_list()

        async def ours() -> Any:
            return await repo.list()

        server_reps = max(3, repeat // 2)
        t_raw = await best_async(raw_fetch, server_reps)
        t_rawv = await best_async(raw_validated, server_reps)
        t_sorted = await best_async(raw_sorted, server_reps)
        t_ours = await best_async(ours, server_reps)
        print(f"server-inclusive, {n} documents (median of {server_reps}):")
        print(f"  {'find().to_list() (PyMongo)':36} {t_raw * 1000:9.1f} {1.0:9.2f}")
        print(f"  {'  + per-doc model_validate':36} {t_rawv * 1000:9.1f} {t_rawv / t_raw:9.2f}")
        print(f"  {'find().sort(_id).to_list()':36} {t_sorted * 1000:9.1f} {t_sorted / t_raw:9.2f}")
        print(
            f"  {'repo.list() (ours; sorts by _id)':36} {t_ours * 1000:9.1f} {t_ours / t_raw:9.2f}"
        )
        await backend.close()
        goal = timings["ours: decode + batch TypeAdapter"] / base
        print(f"goal ≤ 2.00× decode alone: {goal:.2f}× ({'met' if goal <= 2.0 else 'NOT met'})")
    finally:
        await client.drop_database(db_name)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("XREPO_BENCH_MONGO_URL"))
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with server(args.url) as url:
        asyncio.run(main(url, args.docs, args.repeat))
