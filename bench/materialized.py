"""MaterializedRepo benchmark: xrepo's in-memory queries against the same queries hand-written
in plain Python (the limit for row data), mongomock (the peer) and polars.

N records (default 1,000,000) of 10 fields — including a nested object (``address``) and a list
(``tags``) — and three queries, all run in one process:

* filter:      ``{"age": {"$gte": 30, "$lt": 40}, "address.city": "Oslo"}``
* top-100:     ``{"active": True}`` sorted by ``score`` descending, limit 100
* group-by:    ``$group`` by ``category`` with ``$sum`` of ``score`` and a count

xrepo is measured two ways: *rows* (``repo.list_rows`` / ``repo.aggregate``: the stored rows,
read-only, no models) against hand-written Python on a list of dicts, and *typed*
(``repo.list``: validated pydantic models) against hand-written Python that also calls
``Person.model_validate`` on each result.  The 1.5× goal is for the rows path.

mongomock is slow, so it runs on ``--peer-records`` (default 100,000) and its time is scaled
linearly to N — said so in the output.  polars' DataFrame build is shown apart from its query
times.  Both are optional (``pip install mongomock polars``): missing ones are skipped with a
note.  ``--records 2000`` is a smoke run of a few seconds.

Timings are the best of ``--repeat`` runs; ``gc.freeze()`` after loading keeps the collector
from rescanning the loaded data in every column alike.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import heapq
import importlib
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from xrepo.runtime import MaterializedRepo, RepoMetadata, XObjPrototype

CITIES = ["Oslo", "Rome", "Paris", "Lima", "Kyoto", "Accra", "Quito", "Perth"]
CATEGORIES = [f"cat{i:02d}" for i in range(20)]
TAGS = ["red", "green", "blue", "cyan", "pink"]

FILTER: dict[str, Any] = {"age": {"$gte": 30, "$lt": 40}, "address.city": "Oslo"}
TOP_FILTER: dict[str, Any] = {"active": True}
TOP_SORT: list[tuple[str, int]] = [("score", -1)]
TOP_N = 100
GROUP: list[dict[str, Any]] = [
    {"$group": {"_id": "$category", "total": {"$sum": "$score"}, "n": {"$sum": 1}}}
]


class Address(XObjPrototype):
    city: str
    zip: str


class Person(XObjPrototype):
    id: int
    name: str
    email: str
    age: int
    score: float
    active: bool
    category: str
    joined: datetime.date
    tags: list[str]
    address: Address


class PersonRepo(MaterializedRepo[Person, Person, Person, dict[str, Any], str]):
    model = Person
    create_model = Person
    update_model = Person
    metadata = RepoMetadata(
        name="people", collection="people", primary_key=("id",), indexes=(("category",),)
    )


def make_rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    start = datetime.date(2015, 1, 1)
    return [
        {
            "id": i,
            "name": f"person {i}",
            "email": f"p{i}@example.org",
            "age": rnd.randint(18, 80),
            "score": round(rnd.random() * 1000, 3),
            "active": rnd.random() < 0.5,
            "category": rnd.choice(CATEGORIES),
            "joined": start + datetime.timedelta(days=rnd.randrange(3650)),
            "tags": rnd.sample(TAGS, rnd.randint(0, 3)),
            "address": {"city": rnd.choice(CITIES), "zip": f"{rnd.randrange(10000):04d}"},
        }
        for i in range(n)
    ]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    out: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


# -- hand-written Python: the limit for row data ------------------------------------------------
def hand_filter(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if 30 <= r["age"] < 40 and r["address"]["city"] == "Oslo"]


def hand_top(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return heapq.nlargest(TOP_N, [r for r in rows if r["active"]], key=lambda r: r["score"])


def hand_group(rows: list[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in rows:
        c = r["category"]
        sums[c] = sums.get(c, 0.0) + r["score"]
        counts[c] = counts.get(c, 0) + 1
    return {c: (sums[c], counts[c]) for c in sums}


def optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--peer-records", type=int, default=100_000, help="mongomock's record count")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-mongomock", action="store_true")
    ap.add_argument("--no-polars", action="store_true")
    args = ap.parse_args(argv)
    n, repeat = args.records, max(1, args.repeat)
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete

    print(f"records: {n:,}   python {sys.version.split()[0]}   best of {repeat}")
    t0 = time.perf_counter()
    rows = make_rows(n)
    print(f"generate rows:                 {time.perf_counter() - t0:8.2f} s")
    t0 = time.perf_counter()
    repo = PersonRepo(rows)
    print(f"load MaterializedRepo:         {time.perf_counter() - t0:8.2f} s  (validate + freeze)")
    gc.collect()
    gc.freeze()

    results: dict[str, dict[str, float | None]] = {q: {} for q in ("filter", "top-100", "group")}

    def record(query: str, column: str, seconds: float | None) -> None:
        results[query][column] = seconds

    # hand-written
    t, hf = best(lambda: hand_filter(rows), repeat)
    record("filter", "hand", t)
    t, ht = best(lambda: hand_top(rows), repeat)
    record("top-100", "hand", t)
    t, hg = best(lambda: hand_group(rows), repeat)
    record("group", "hand", t)
    validate = Person.model_validate
    t, _ = best(lambda: [validate(r) for r in hand_filter(rows)], repeat)
    record("filter", "hand+models", t)
    t, _ = best(lambda: [validate(r) for r in hand_top(rows)], repeat)
    record("top-100", "hand+models", t)

    # xrepo
    t, xf = best(lambda: run(repo.list_rows(FILTER)), repeat)
    record("filter", "rows", t)
    t, xt = best(
        lambda: run(repo.list_rows(TOP_FILTER, sort=TOP_SORT, limit=TOP_N)),  # type: ignore[arg-type]
        repeat,
    )
    record("top-100", "rows", t)
    t, xg = best(lambda: run(repo.aggregate(GROUP)), repeat)
    record("group", "rows", t)
    t, mf = best(lambda: run(repo.list(FILTER)), repeat)
    record("filter", "typed", t)
    t, mt = best(
        lambda: run(repo.list(TOP_FILTER, sort=TOP_SORT, limit=TOP_N)),  # type: ignore[arg-type]
        repeat,
    )
    record("top-100", "typed", t)

    # same answers
    assert [r["id"] for r in xf] == [r["id"] for r in hf] == [m.id for m in mf], "filter differs"
    assert [r["id"] for r in xt] == [r["id"] for r in ht] == [m.id for m in mt], "top-100 differs"
    got = {d["_id"]: (d["total"], d["n"]) for d in xg}
    assert got.keys() == hg.keys() and all(
        abs(got[c][0] - hg[c][0]) < 1e-6 * max(1.0, abs(hg[c][0])) and got[c][1] == hg[c][1]
        for c in hg
    ), "group differs"
    print(f"results agree: filter {len(xf):,} rows, top-100 {len(xt)}, group {len(xg)} groups")

    notes: list[str] = []
    mongomock = None if args.no_mongomock else optional("mongomock")
    peer_n = min(n, args.peer_records)
    scale = n / peer_n if peer_n else 1.0
    if mongomock is None:
        notes.append("mongomock: not installed (pip install mongomock) — column skipped")
    else:
        coll = mongomock.MongoClient().db.people
        docs = []
        for r in rows[:peer_n]:
            d = dict(r, _id=r["id"], address=dict(r["address"]), tags=list(r["tags"]))
            d["joined"] = datetime.datetime.combine(r["joined"], datetime.time())
            docs.append(d)
        t0 = time.perf_counter()
        coll.insert_many(docs)
        load = time.perf_counter() - t0
        mongo_filter = {"age": {"$gte": 30, "$lt": 40}, "address.city": "Oslo"}
        t, _ = best(lambda: list(coll.find(mongo_filter)), 1)
        record("filter", "mongomock", t * scale)
        t, _ = best(lambda: list(coll.find(TOP_FILTER).sort("score", -1).limit(TOP_N)), 1)
        record("top-100", "mongomock", t * scale)
        t, _ = best(lambda: list(coll.aggregate(GROUP)), 1)
        record("group", "mongomock", t * scale)
        notes.append(
            f"mongomock {mongomock.__version__}: measured on {peer_n:,} records "
            f"(insert {load:.2f} s) and scaled ×{scale:g} to {n:,}"
        )

    pl = None if args.no_polars else optional("polars")
    if pl is None:
        notes.append("polars: not installed (pip install polars) — column skipped")
    else:
        t0 = time.perf_counter()
        df = pl.DataFrame(rows)
        build = time.perf_counter() - t0
        col = pl.col
        t, _ = best(
            lambda: df.filter(
                (col("age") >= 30)
                & (col("age") < 40)
                & (col("address").struct.field("city") == "Oslo")
            ),
            repeat,
        )
        record("filter", "polars", t)
        t, _ = best(
            lambda: df.filter(col("active")).sort("score", descending=True).head(TOP_N), repeat
        )
        record("top-100", "polars", t)
        t, _ = best(
            lambda: df.group_by("category").agg(col("score").sum().alias("total"), pl.len()),
            repeat,
        )
        record("group", "polars", t)
        notes.append(f"polars {pl.__version__}: DataFrame build {build:.2f} s, not in the times")

    print_table(results)
    for note in notes:
        print(f"note: {note}")
    print(
        "goal: xrepo rows within 1.5× of hand-written on each query; ≥ 50× faster than mongomock."
        "\n      typed rows are compared with hand-written Python that also model_validates."
    )
    loop.close()
    return 0


def print_table(results: dict[str, dict[str, float | None]]) -> None:
    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v * 1000:9.1f}"

    def ratio(a: float | None, b: float | None) -> str:
        return "—" if a is None or b is None or b == 0 else f"{a / b:6.2f}×"

    head = (
        f"{'query':<9}{'hand ms':>10}{'xrepo rows':>12}{'÷hand':>9}"
        f"{'hand+models':>13}{'xrepo typed':>12}{'÷hand':>9}"
        f"{'mongomock':>11}{'mm÷xrepo':>10}{'polars':>9}{'xrepo÷pl':>10}"
    )
    print(head)
    print("-" * len(head))
    for q, r in results.items():
        print(
            f"{q:<9}{ms(r.get('hand')):>10}{ms(r.get('rows')):>12}"
            f"{ratio(r.get('rows'), r.get('hand')):>9}"
            f"{ms(r.get('hand+models')):>13}{ms(r.get('typed')):>12}"
            f"{ratio(r.get('typed'), r.get('hand+models')):>9}"
            f"{ms(r.get('mongomock')):>11}{ratio(r.get('mongomock'), r.get('rows')):>10}"
            f"{ms(r.get('polars')):>9}{ratio(r.get('rows'), r.get('polars')):>10}"
        )
    print("(times in ms; ÷hand = xrepo time / hand-written time, lower is better;")
    print(" mm÷xrepo = how many times faster xrepo rows is than mongomock)")


if __name__ == "__main__":
    raise SystemExit(main())
