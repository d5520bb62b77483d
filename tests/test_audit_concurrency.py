"""Before-images under concurrent writers (PostgreSQL, READ COMMITTED).

An audited update or delete reads the row's before-value and then writes, in one transaction.
Without a row lock another transaction may commit a change of the row in between, and the
entry's ``before`` is then a value the row no longer had: the chain of an entity's entries
breaks.  The repo reads before-images with ``SELECT … FOR UPDATE``
(``PostgresBackend.select_for_update``), so a second writer waits for the first to commit and
reads the value the first wrote: entry n's ``after`` equals entry n+1's ``before``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from xrepo.runtime import ConnectedRepo, DatabaseAuditSink, RepoMetadata, XObjPrototype
from xrepo.runtime.audit import AuditEntry
from xrepo.runtime.backends.postgres import PostgresBackend

DDL = "CREATE TABLE counters (id integer PRIMARY KEY, n integer NOT NULL, tag text)"


class Counter(XObjPrototype):
    id: int
    n: int
    tag: str | None = None


class CounterUpdate(XObjPrototype):
    n: int | None = None
    tag: str | None = None


class Counters(ConnectedRepo[Counter, Counter, CounterUpdate, dict[str, Any], str]):
    model = create_model = Counter
    update_model = CounterUpdate
    metadata = RepoMetadata(
        name="counters", collection="counters", primary_key=("id",), enable_audit=True
    )


@pytest.fixture
async def repo(pg_dsn: str) -> AsyncIterator[Counters]:
    backend = PostgresBackend(pg_dsn, min_size=2, max_size=4)
    await backend.connect()
    try:
        await backend.execute(DDL)
        r = Counters(backend)
        r.audit_sink = DatabaseAuditSink(backend)
        yield r
    finally:
        await backend.close()


async def _chain(repo: Counters, entity: int) -> list[AuditEntry]:
    """The entity's update entries, oldest first (the sink's sequence order)."""
    log = await repo.get_audit_log({"entity_id": entity})
    return [e for e in reversed(log) if e.operation in ("update", "bulk_update")]


def _assert_chained(entries: list[AuditEntry], first: int, last: int) -> None:
    values = [(e.changes["before"]["n"], e.changes["after"]["n"]) for e in entries]
    assert values[0][0] == first, values
    for (_, after), (before, _) in itertools.pairwise(values):
        assert after == before, values
    assert values[-1][1] == last, values


def _slow_updates(backend: PostgresBackend, pause: Callable[[], Awaitable[None]]) -> None:
    """Widen the window between the before-image read and the UPDATE of every write."""
    real = backend.update

    async def update(*args: Any, **kwargs: Any) -> int:
        await pause()
        return await real(*args, **kwargs)

    backend.update = update  # type: ignore[method-assign]


async def _interleaved(repo: Counters) -> None:
    """Writer A reads the before-image, then waits (bounded) for writer B to write the same
    row and commit, then writes.  With the lock, B cannot finish while A holds the row: A's
    wait times out, A commits first, then B reads A's value."""
    b_done = asyncio.Event()
    a_read = asyncio.Event()
    turn = ["a"]

    async def pause() -> None:
        if turn[0] == "a":
            turn[0] = "b"
            a_read.set()
            with contextlib.suppress(TimeoutError):  # B is blocked on A's row lock
                await asyncio.wait_for(b_done.wait(), 0.5)

    _slow_updates(repo.backend, pause)  # type: ignore[arg-type]

    async def writer_a() -> None:
        await repo.update(1, {"n": 10}, user_id="a")

    async def writer_b() -> None:
        await a_read.wait()
        await repo.update(1, {"n": 20}, user_id="b")
        b_done.set()

    await asyncio.gather(writer_a(), writer_b())


async def test_before_image_is_locked_until_the_write_commits(repo: Counters) -> None:
    await repo.create({"id": 1, "n": 0})
    await _interleaved(repo)
    final = (await repo.read(1)).n  # type: ignore[union-attr]
    assert final == 20  # B waited for A and wrote last
    entries = await _chain(repo, 1)
    assert [e.user_id for e in entries] == ["a", "b"]
    _assert_chained(entries, 0, final)


async def test_without_the_lock_the_chain_breaks(
    repo: Counters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same schedule with a plain SELECT gives B a stale before-image (B
    commits between A's read and A's write), which the chain check catches."""
    monkeypatch.delattr(PostgresBackend, "select_for_update")
    await repo.create({"id": 1, "n": 0})
    await _interleaved(repo)
    entries = await _chain(repo, 1)
    assert [e.user_id for e in entries] == ["b", "a"]
    with pytest.raises(AssertionError):
        _assert_chained(entries, 0, (await repo.read(1)).n)  # type: ignore[union-attr]


async def test_concurrent_writers_chain_before_and_after(repo: Counters) -> None:
    """Two writers, each with its own connection, update and bulk-update overlapping rows."""
    await repo.bulk_create([{"id": i, "n": 0} for i in range(1, 5)])
    rng = random.Random(7)

    async def pause() -> None:
        await asyncio.sleep(rng.random() / 500)  # interleave the two writers' transactions

    _slow_updates(repo.backend, pause)  # type: ignore[arg-type]

    async def writer(name: str, seed: int) -> None:
        mine = random.Random(seed)
        for step in range(25):
            value = seed * 1000 + step
            if mine.random() < 0.5:
                await repo.update(mine.randint(1, 4), {"n": value}, user_id=name)
            else:
                ids = sorted(mine.sample(range(1, 5), 2))
                await repo.bulk_update({"id": {"$in": ids}}, {"n": value}, user_id=name)

    await asyncio.gather(writer("w1", 1), writer("w2", 2))
    users = set()
    for entity in range(1, 5):
        entries = await _chain(repo, entity)
        users |= {e.user_id for e in entries}
        if entries:
            _assert_chained(entries, 0, (await repo.read(entity)).n)  # type: ignore[union-attr]
    assert users == {"w1", "w2"}
