"""Property: the audit log records exactly the changes that happened.

Random sequences of creates, updates, deletes and their bulk forms run against a model of the
table.  Some fail: unique-key violations, NOT NULL violations (SQL backends), validation
failures, and injected faults — the audit sink raising after recording ``p`` of a batch's
entries, or the ``k``-th backend call of a write raising.  After every write the table must
equal what the successful writes imply and the log must have grown by exactly one entry per
changed entity (operation, entity_id, before / after values, user_id) — nothing for a failed
write.

Where the write and its entries share a transaction (SQLite, PostgreSQL: DatabaseAuditSink in
the same database; SQLite with a JSONL file; MongoDB with ``transactional=True`` — SecantusDB
supports transactions; the memory backend, whose transaction is an undo log) that holds
exactly: the memory configuration asserts it made 0 unaudited changes.  Without one the sink's
documented guarantee is weaker, and the property checks exactly that weaker statement:

* MongoDB ``transactional=False`` (standalone servers; the ordered-write mode): a sink or
  backend fault after the change leaves the change in place without (all of) its entries (the
  write still raises), and a multi-document update that hits a duplicate key part-way keeps the
  documents updated before it, without entries.  An entry is never written for a change that
  did not happen.

Such unaudited changes are counted (the terminal summary prints them) and the model takes the
table's state over.  The JSONL sink writes a batch in one ``write`` call and MemoryAuditSink in
one ``list.extend``, so their injected fault fires before anything is written; neither a file
nor the sink's list is rolled back with the data.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import json
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from xrepo.runtime import (
    AuditError,
    ConnectedRepo,
    ConstraintError,
    DatabaseAuditSink,
    JsonlAuditSink,
    MemoryAuditSink,
    MemoryBackend,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)
from xrepo.runtime.audit import query_entries
from xrepo.runtime.backends.postgres import PostgresBackend

STATS: collections.Counter[str] = collections.Counter()
CONFIGS = ("memory", "sqlite", "sqlite+jsonl", "postgres", "mongo-txn", "mongo-ordered")


def terminal_report() -> list[str]:
    """Lines for the end-of-session summary (empty when this module did not run)."""
    if not STATS:
        return []
    lines = ["audit property:"]
    for name in CONFIGS:
        if not STATS[f"{name}: sequences"]:
            continue
        outcomes = ", ".join(
            f"{key.split(': ', 2)[2]} {n}"
            for key, n in sorted(STATS.items())
            if key.startswith(f"{name}: outcome: ")
        )
        lines.append(
            f"  {name}: {STATS[f'{name}: sequences']} sequences, {STATS[f'{name}: writes']} "
            f"writes ({outcomes}), {STATS[f'{name}: entries']} entries checked, "
            f"{STATS[f'{name}: unaudited']} unaudited changes"
            + (" (ordered writes, no transaction: documented)" if name == "mongo-ordered" else "")
        )
        if STATS[f"{name}: partial failed writes"]:
            lines.append(
                f"    {name}: failed multi-document updates left partly applied: "
                f"{STATS[f'{name}: partial failed writes']}"
            )
    return lines


class Item(XObjPrototype):
    id: int
    code: str
    name: str
    #: Stored as ``quantity``: entries name fields by their source names, whatever the write.
    qty: int = Field(0, alias="quantity")


class ItemUpdate(XObjPrototype):
    code: str | None = None
    name: str | None = None
    qty: int | None = Field(None, alias="quantity")


class Items(ConnectedRepo[Item, Item, ItemUpdate, dict[str, Any], str]):
    model = create_model = Item
    update_model = ItemUpdate
    metadata = RepoMetadata(
        name="items",
        collection="items",
        primary_key=("id",),
        unique=(("code",),),
        indexes=(("code",),),
        enable_audit=True,
    )


SQLITE_DDL = (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, quantity INTEGER NOT NULL DEFAULT 0)"
)
PG_DDL = (
    "DROP TABLE IF EXISTS items, xrepo_audit;"
    " CREATE TABLE items (id integer PRIMARY KEY, code text NOT NULL UNIQUE,"
    " name text NOT NULL, quantity integer NOT NULL DEFAULT 0)"
)


class Injected(Exception):
    """The fault a test injects into a backend call."""


# -- writes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    op: str
    args: tuple[Any, ...]
    #: ("sink", p): the sink records p entries then raises; ("backend", k): the k-th backend
    #: call of the write raises; None: no fault.
    fault: tuple[str, int] | None = None


ids = st.integers(1, 5)
codes = st.sampled_from(["a", "b", "c", "d", "e", "f"])
names = st.sampled_from(["n1", "n2", "n3"])
qtys = st.integers(0, 5)


@st.composite
def items(draw: st.DrawFn, strict_null: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": draw(ids), "code": draw(codes), "name": draw(names)}
    if draw(st.booleans()):
        item["qty"] = draw(qtys)
    broken = draw(st.integers(0, 14))
    if broken == 0:
        del item["name"]  # validation: a required field is missing
    elif broken == 1:
        item["qty"] = "many"
    return item


@st.composite
def changes(draw: st.DrawFn, strict_null: bool) -> dict[str, Any]:
    keys = draw(st.sets(st.sampled_from(["code", "name", "qty"]), min_size=1))
    out: dict[str, Any] = {}
    for key in sorted(keys):
        out[key] = draw({"code": codes, "name": names, "qty": qtys}[key])
    broken = draw(st.integers(0, 9))
    if broken == 0:
        out["qty"] = "lots"  # validation
    elif broken == 1 and strict_null:
        out["name"] = None  # NOT NULL (only SQL enforces it; elsewhere it is not generated)
    return out


filters = st.one_of(
    st.builds(lambda t: {"qty": {"$gte": t}}, qtys),
    st.builds(lambda s: {"id": {"$in": sorted(s)}}, st.sets(ids, max_size=3)),
)
faults = st.one_of(
    st.none(),
    st.none(),
    st.tuples(st.just("sink"), st.integers(0, 3)),
    st.tuples(st.just("backend"), st.integers(0, 3)),
)


def writes(strict_null: bool) -> st.SearchStrategy[list[Write]]:
    one = st.one_of(
        st.builds(lambda i, f: Write("create", (i,), f), items(strict_null), faults),
        st.builds(
            lambda b, f: Write("bulk_create", (b,), f),
            st.lists(items(strict_null), min_size=1, max_size=3),
            faults,
        ),
        st.builds(lambda i, c, f: Write("update", (i, c), f), ids, changes(strict_null), faults),
        st.builds(
            lambda w, c, f: Write("bulk_update", (w, c), f), filters, changes(strict_null), faults
        ),
        st.builds(lambda i, f: Write("delete", (i,), f), ids, faults),
        st.builds(lambda w, f: Write("bulk_delete", (w,), f), filters, faults),
    )
    # Sequences start from three rows so that updates and deletes have something to change.
    return st.lists(one, min_size=1, max_size=14).map(lambda ws: [SEED, *ws])


SEED = Write("bulk_create", ([{"id": i, "code": c, "name": "n0"} for i, c in enumerate("abc", 1)],))


# -- the model -------------------------------------------------------------------------------
Rows = dict[int, dict[str, Any]]


def _matches(row: dict[str, Any], flt: dict[str, Any]) -> bool:
    if "qty" in flt:
        return bool(row["qty"] >= flt["qty"]["$gte"])
    return row["id"] in flt["id"]["$in"]


def _valid_item(item: dict[str, Any]) -> bool:
    return "name" in item and isinstance(item.get("qty", 0), int)


@dataclass
class Expected:
    """What a write should do: raise ``error``, or change ``after`` and log ``entries``."""

    error: type[BaseException] | None
    after: Rows
    entries: list[tuple[str, Any, str]] = field(default_factory=list)


def _source(values: dict[str, Any]) -> dict[str, Any]:
    return {"quantity" if k == "qty" else k: v for k, v in values.items()}


def _entry(op: str, key: Any, changes: dict[str, Any]) -> tuple[str, Any, str]:
    return (op, key, json.dumps(changes, sort_keys=True))


def _set_diff(old: dict[str, Any], new: dict[str, Any], ch: dict[str, Any]) -> dict[str, Any]:
    return {
        "set": _source(ch),
        "before": _source({c: old[c] for c in ch}),
        "after": _source({c: new[c] for c in ch}),
    }


def expect(rows: Rows, w: Write) -> Expected:
    """The model: the outcome of ``w`` on ``rows`` when no fault fires."""
    after = {k: dict(v) for k, v in rows.items()}
    if w.op in ("create", "bulk_create"):
        batch = [w.args[0]] if w.op == "create" else w.args[0]
        if not all(_valid_item(i) for i in batch):
            return Expected(ValidationError, rows)
        made = [{"qty": 0, **i} for i in batch]
        keys = [m["id"] for m in made] + list(rows)
        used = [m["code"] for m in made] + [r["code"] for r in rows.values()]
        if len(set(keys)) < len(keys) or len(set(used)) < len(used):
            return Expected(ConstraintError, rows)
        for m in made:
            after[m["id"]] = m
        return Expected(None, after, [_entry(w.op, m["id"], {"after": _source(m)}) for m in made])
    if w.op in ("update", "bulk_update"):
        ch = w.args[1]
        if not isinstance(ch.get("qty", 0), int):
            return Expected(ValidationError, rows)
        if w.op == "update":
            hit = [after[w.args[0]]] if w.args[0] in after else []
        else:
            hit = [r for r in after.values() if _matches(r, w.args[0])]
        if hit and "name" in ch and ch["name"] is None:
            return Expected(ConstraintError, rows)
        for r in hit:
            r.update(ch)
        used = [r["code"] for r in after.values()]
        if len(set(used)) < len(used):
            return Expected(ConstraintError, rows)
        entries = [_entry(w.op, r["id"], _set_diff(rows[r["id"]], r, ch)) for r in hit]
        return Expected(None, after, entries)
    if w.op == "delete":
        gone = [after.pop(w.args[0])] if w.args[0] in after else []
    else:
        gone = [r for r in rows.values() if _matches(r, w.args[0])]
        for r in gone:
            del after[r["id"]]
    return Expected(None, after, [_entry(w.op, r["id"], {"before": _source(r)}) for r in gone])


# -- fault injection -------------------------------------------------------------------------
MUTATING = ("insert", "update", "delete")


@dataclass
class Faults:
    fired: str | None = None
    #: A mutating backend call returned before the fault fired (matters without a transaction).
    mutated: bool = False


@contextlib.contextmanager
def injected(repo: Items, sink: Any, fault: tuple[str, int] | None) -> Iterator[Faults]:
    """Patch the backend's and the sink's methods on their instances for one write."""
    state = Faults()
    patched: list[tuple[Any, str]] = []
    if fault is not None and fault[0] == "backend":
        calls = [0]
        for name in ("select", *MUTATING):
            real = getattr(repo.backend, name)

            def make(real: Callable[..., Awaitable[Any]], name: str) -> Any:
                async def faulty(*args: Any, **kwargs: Any) -> Any:
                    calls[0] += 1
                    if calls[0] - 1 == fault[1]:
                        state.fired = "backend"
                        raise Injected(f"injected fault in {name}")
                    result = await real(*args, **kwargs)
                    if name in MUTATING:
                        state.mutated = True
                    return result

                return faulty

            setattr(repo.backend, name, make(real, name))
            patched.append((repo.backend, name))
    if fault is not None and fault[0] == "sink":
        real_record = sink.record
        keep = fault[1]

        async def failing(entries: Any) -> None:
            state.fired = "sink"
            if keep:
                done = real_record(list(entries)[:keep])
                if inspect.isawaitable(done):
                    await done
            raise OSError("injected sink fault")

        sink.record = failing
        patched.append((sink, "record"))
    try:
        yield state
    finally:
        for obj, name in patched:
            delattr(obj, name)


# -- running a sequence ----------------------------------------------------------------------
async def call(repo: Items, w: Write, user: str) -> Any:
    if w.op == "create":
        return await repo.create(w.args[0], user_id=user)
    if w.op == "bulk_create":
        return await repo.bulk_create(w.args[0], user_id=user)
    if w.op == "update":
        return await repo.update(w.args[0], w.args[1], user_id=user)
    if w.op == "bulk_update":
        return await repo.bulk_update(w.args[0], w.args[1], user_id=user)
    if w.op == "delete":
        return await repo.delete(w.args[0], user_id=user)
    return await repo.bulk_delete(w.args[0], user_id=user)


async def table(repo: Items) -> Rows:
    return {r.id: r.model_dump() for r in await repo.list(sort=[("id", 1)])}


def _log_key(e: Any) -> tuple[str, Any, str]:
    return (e.operation, e.entity_id, json.dumps(e.changes, sort_keys=True))


async def check_sequence(
    name: str, repo: Items, sink: Any, ws: list[Write], *, transactional: bool
) -> None:
    STATS[f"{name}: sequences"] += 1
    rows: Rows = {}
    logged = 0
    for n, w in enumerate(ws):
        user = f"u{n}"
        want = expect(rows, w)
        if name in ("sqlite+jsonl", "memory") and w.fault is not None and w.fault[0] == "sink":
            # One write() call / one list.extend: nothing or the batch.
            w = Write(w.op, w.args, ("sink", 0))
        error: BaseException | None = None
        with injected(repo, sink, w.fault) as faults:
            try:
                await call(repo, w, user)
            except Exception as exc:
                error = exc
        STATS[f"{name}: writes"] += 1
        log = list(reversed(await query_entries(sink, None, None)))
        new, logged = log[logged:], len(log)
        got = await table(repo)
        context = (name, n, w, error, faults)
        if want.error is ValidationError:
            assert isinstance(error, ValidationError) and faults.fired is None, context
            outcome = "validation error"
        elif faults.fired == "backend":
            assert isinstance(error, Injected), context
            outcome = "backend fault"
        elif want.error is not None:
            assert isinstance(error, ConstraintError), context
            outcome = "constraint violation"
        elif faults.fired == "sink":
            assert isinstance(error, AuditError), context
            outcome = "sink fault"
        else:
            assert error is None, context
            outcome = "ok"
        STATS[f"{name}: outcome: {outcome}"] += 1
        for e in new:
            assert e.user_id == user and e.metadata == {"collection": "items"}, (context, e)
        keys = sorted(map(_log_key, new), key=repr)
        if error is None:
            assert keys == sorted(want.entries, key=repr), context
            assert got == want.after, context
            rows = got
            STATS[f"{name}: entries"] += len(new)
            continue
        applied = faults.mutated or faults.fired == "sink"
        if transactional or (got == rows and not applied):
            # Failed: nothing changed, nothing logged.
            assert new == [], context
            assert got == rows, context
            continue
        if applied:
            # No transaction: the whole change stays, with some of its entries at most.
            assert got == want.after, context
            assert all(k in want.entries for k in keys), context
            STATS[f"{name}: unaudited"] += len(want.entries) - len(new)
        else:
            # No transaction: a multi-document update stopped at a duplicate key keeps the
            # documents it updated before it, without entries.
            assert outcome == "constraint violation" and w.op == "bulk_update", context
            assert new == [], context
            STATS[f"{name}: partial failed writes"] += 1
            STATS[f"{name}: unaudited"] += sum(got.get(k) != v for k, v in rows.items())
        rows = got


# -- configurations --------------------------------------------------------------------------


#: Explicit cases run first: the sink's table made in a write's transaction that rolls back
#: (its first write fails after one entry), and a multi-row update that stops at a duplicate key.
FIRST_WRITE_FAILS = [Write("create", ({"id": 1, "code": "a", "name": "n"},), ("sink", 1)), SEED]
DUPLICATE_PART_WAY = [SEED, Write("bulk_update", ({"id": {"$in": [1, 2, 3]}}, {"code": "z"}))]


def explicit(test: Any) -> Any:
    return example(ws=FIRST_WRITE_FAILS)(example(ws=DUPLICATE_PART_WAY)(test))


def budget(config: str) -> settings:
    return settings(
        max_examples=EXAMPLES[config],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


EXAMPLES = {"memory": 80, "sqlite": 50, "sqlite+jsonl": 30, "postgres": 40, "mongo": 25}


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for all of a test's examples (the PostgreSQL pool lives on it)."""
    with asyncio.Runner() as r:
        yield r


@budget("memory")
@given(ws=writes(strict_null=False))
@explicit
def test_memory_backend_memory_sink(runner: asyncio.Runner, ws: list[Write]) -> None:
    async def run() -> None:
        repo = Items(MemoryBackend())
        sink = MemoryAuditSink()
        repo.audit_sink = sink
        await check_sequence("memory", repo, sink, ws, transactional=True)

    runner.run(run())
    assert STATS["memory: unaudited"] == 0  # the undo log rolled every faulted write back


@budget("sqlite")
@given(ws=writes(strict_null=True))
@explicit
def test_sqlite_database_sink(runner: asyncio.Runner, ws: list[Write]) -> None:
    async def run() -> None:
        async with SQLiteBackend(":memory:") as db:
            await db.execute(SQLITE_DDL)
            repo = Items(db)
            sink = DatabaseAuditSink(db)
            repo.audit_sink = sink
            await check_sequence("sqlite", repo, sink, ws, transactional=True)

    runner.run(run())


@budget("sqlite+jsonl")
@given(ws=writes(strict_null=True))
@explicit
def test_sqlite_jsonl_sink(runner: asyncio.Runner, ws: list[Write]) -> None:
    async def run(path: Path) -> None:
        async with SQLiteBackend(":memory:") as db:
            await db.execute(SQLITE_DDL)
            repo = Items(db)
            sink = JsonlAuditSink(path)
            repo.audit_sink = sink
            await check_sequence("sqlite+jsonl", repo, sink, ws, transactional=True)

    with tempfile.TemporaryDirectory() as tmp:
        runner.run(run(Path(tmp) / "audit.jsonl"))


@pytest.fixture
def pg_backend(runner: asyncio.Runner, pg_dsn: str) -> Iterator[PostgresBackend]:
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=2)
    runner.run(backend.connect())
    yield backend
    runner.run(backend.close())


@budget("postgres")
@given(ws=writes(strict_null=True))
@explicit
def test_postgres_database_sink(
    runner: asyncio.Runner, pg_backend: PostgresBackend, ws: list[Write]
) -> None:
    async def run() -> None:
        await pg_backend.execute(PG_DDL)
        repo = Items(pg_backend)
        sink = DatabaseAuditSink(pg_backend)  # a fresh sink: it creates its table again
        repo.audit_sink = sink
        await check_sequence("postgres", repo, sink, ws, transactional=True)

    runner.run(run())


@pytest.fixture
def mongo_backend(runner: asyncio.Runner, mongo_db: tuple[str, str]) -> Iterator[Any]:
    from pymongo import AsyncMongoClient

    from xrepo.runtime.backends.mongo import MongoBackend

    url, name = mongo_db
    client: AsyncMongoClient[Any] = AsyncMongoClient(url, tz_aware=True)
    backend = MongoBackend(client, name)
    runner.run(backend.connect())
    yield backend
    runner.run(client.close())


async def _fresh_mongo(backend: Any) -> None:
    db = backend._db
    for coll in ("items", "xrepo_audit"):
        await db.drop_collection(coll)
    await db.items.create_index("id", unique=True)
    await db.items.create_index("code", unique=True)


@budget("mongo")
@given(ws=writes(strict_null=False))
@explicit
@pytest.mark.parametrize("transactional", [True, False], ids=["txn", "ordered"])
def test_mongo_database_sink(
    runner: asyncio.Runner, mongo_backend: Any, transactional: bool, ws: list[Write]
) -> None:
    name = "mongo-txn" if transactional else "mongo-ordered"

    async def run() -> None:
        await _fresh_mongo(mongo_backend)
        repo = Items(mongo_backend)
        sink = DatabaseAuditSink(mongo_backend, transactional=transactional)
        repo.audit_sink = sink
        await check_sequence(name, repo, sink, ws, transactional=transactional)

    runner.run(run())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_audit_table_made_in_a_rolled_back_transaction_is_made_again(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """The sink's first entry goes into a caller's transaction that rolls back: its table goes
    with it, and the next write must create it again (it used to fail for good: the sink
    remembered the table as made)."""
    if kind == "sqlite":
        backend: Any = SQLiteBackend(":memory:")
        await backend.connect()
        await backend.execute(SQLITE_DDL)
    else:
        backend = PostgresBackend(request.getfixturevalue("pg_dsn"), min_size=1, max_size=1)
        await backend.execute(PG_DDL)
    try:
        repo = Items(backend)
        repo.audit_sink = DatabaseAuditSink(backend)
        with pytest.raises(RuntimeError):
            async with repo.transaction():
                await repo.create({"id": 1, "code": "a", "name": "n"})
                raise RuntimeError("the caller gives up")
        await repo.create({"id": 2, "code": "b", "name": "n"})
        assert [e.entity_id for e in await repo.get_audit_log()] == [2]
        assert [r.id for r in await repo.list()] == [2]
    finally:
        await backend.close()
