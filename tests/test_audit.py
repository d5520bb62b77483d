"""Audit log: one entry per changed entity (bulk writes too) with before and after values, in
memory, in the data's database (SQLite, PostgreSQL: same transaction) and in a JSONL file; a
write whose entry cannot be recorded fails and, where there is a transaction, rolls back."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pg import SHOP_CUSTOMERS_SQL

from generated.shop import CustomerRepo
from xrepo.runtime import (
    AuditEntry,
    AuditError,
    ConstraintError,
    DatabaseAuditSink,
    JsonlAuditSink,
    MemoryAuditSink,
    MemoryBackend,
    SQLiteBackend,
)
from xrepo.runtime.backends.postgres import PostgresBackend

ROOT = Path(__file__).resolve().parents[1]

PG_SCHEMA = SHOP_CUSTOMERS_SQL

HOSTILE = 'audit "log"; DROP TABLE customers; --'


class AuditedRepo(CustomerRepo):
    metadata = CustomerRepo.metadata.model_copy(update={"enable_audit": True})


class FailingSink:
    """A sink that cannot record (disk full, lost connection...)."""

    def record(self, entries: Sequence[AuditEntry]) -> None:
        raise OSError("audit store unavailable")

    def query(
        self, filters: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        return []


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuditedRepo]:
    if request.param == "memory":
        yield AuditedRepo(MemoryBackend())
        return
    if request.param == "sqlite":
        shutil.copy(ROOT / "examples" / "shop.db", tmp_path / "shop.db")
        async with SQLiteBackend(tmp_path / "shop.db") as db:
            r = AuditedRepo(db)
            r.audit_sink = DatabaseAuditSink(db, HOSTILE)
            yield r
        return
    dsn: str = request.getfixturevalue("pg_dsn")
    backend = PostgresBackend(dsn)
    await backend.connect()
    try:
        await backend.execute(PG_SCHEMA)
        r = AuditedRepo(backend)
        r.audit_sink = DatabaseAuditSink(backend, HOSTILE)
        yield r
    finally:
        await backend.close()


async def _emails(repo: AuditedRepo) -> dict[int, tuple[str, str]]:
    return {c.id: (c.email, c.tier) for c in await repo.list()}


async def test_one_entry_per_changed_entity_with_before_and_after(repo: AuditedRepo) -> None:
    made = await repo.create({"email": "a@x.io", "full_name": "A"}, user_id="u1")
    await repo.update(made.id, {"tier": "pro"}, user_id="u2")
    batch = await repo.bulk_create(
        [{"email": f"b{i}@x.io", "full_name": f"B{i}"} for i in range(3)], user_id="u1"
    )
    changed = await repo.bulk_update({"full_name": {"$in": ["B0", "B1"]}}, {"tier": "pro"})
    assert changed == 2
    removed = await repo.bulk_delete({"tier": "pro", "full_name": {"$in": ["B0", "B1", "B2"]}})
    assert removed == 2
    assert await repo.delete(made.id, user_id="u3")
    assert not await repo.delete(10**6)  # nothing changed: no entry

    log = await repo.get_audit_log()
    ops = [e.operation for e in reversed(log)]
    assert ops == ["create", "update"] + ["bulk_create"] * 3 + ["bulk_update"] * 2 + [
        "bulk_delete"
    ] * 2 + ["delete"]
    create, update = log[-1], log[-2]
    assert create.entity_id == made.id and create.changes["after"]["email"] == "a@x.io"
    assert update.user_id == "u2"
    assert update.changes["before"]["tier"] == "free"
    assert update.changes["after"]["tier"] == "pro"
    bulk_updates = [e for e in log if e.operation == "bulk_update"]
    b_ids = {b.id for b in batch[:2]}
    assert {e.entity_id for e in bulk_updates} == b_ids
    for e in bulk_updates:
        assert e.changes["before"]["tier"] == "free" and e.changes["after"]["tier"] == "pro"
    bulk_deletes = [e for e in log if e.operation == "bulk_delete"]
    assert {e.entity_id for e in bulk_deletes} == b_ids
    assert all(e.changes["before"]["tier"] == "pro" for e in bulk_deletes)
    assert log[0].operation == "delete" and log[0].changes["before"]["email"] == "a@x.io"
    assert all(e.metadata["collection"] == "customers" for e in log)

    assert [e.operation for e in await repo.get_audit_log({"user_id": "u1"})] == [
        "bulk_create"
    ] * 3 + ["create"]
    assert len(await repo.get_audit_log({"operation": "bulk_delete"}, limit=1)) == 1
    assert [e.operation for e in await repo.get_audit_log({"entity_id": made.id})] == [
        "delete",
        "update",
        "create",
    ]


@pytest.mark.parametrize("backend_kind", ["sqlite", "postgres"])
async def test_unrecordable_entry_fails_and_rolls_the_write_back(
    backend_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend_kind == "sqlite":
        shutil.copy(ROOT / "examples" / "shop.db", tmp_path / "shop.db")
        backend: Any = SQLiteBackend(tmp_path / "shop.db")
    else:
        backend = PostgresBackend(request.getfixturevalue("pg_dsn"))
    await backend.connect()
    try:
        if backend_kind == "postgres":
            await backend.execute(PG_SCHEMA)
        repo = AuditedRepo(backend)
        made = await repo.create({"email": "keep@x.io", "full_name": "Keep"})
        before = await _emails(repo)
        sinks: list[Any] = [FailingSink(), JsonlAuditSink(tmp_path / "no-such-dir" / "a.jsonl")]
        for sink in sinks:
            repo.audit_sink = sink
            with pytest.raises(AuditError, match="audit entry not recorded"):
                await repo.create({"email": "lost@x.io", "full_name": "Lost"})
            with pytest.raises(AuditError):
                await repo.update(made.id, {"tier": "enterprise"})
            with pytest.raises(AuditError):
                await repo.bulk_update({}, {"tier": "pro"})
            with pytest.raises(AuditError):
                await repo.bulk_delete({}, hard=True)
            with pytest.raises(AuditError):
                await repo.delete(made.id)
            with pytest.raises(AuditError):
                await repo.bulk_create([{"email": "l2@x.io", "full_name": "L2"}])
            assert await _emails(repo) == before
        # The backend is usable afterwards and audited writes go through again.
        repo.audit_sink = MemoryAuditSink()
        await repo.update(made.id, {"tier": "pro"})
        assert (await _emails(repo))[made.id] == ("keep@x.io", "pro")
        assert len(await repo.get_audit_log()) == 1
    finally:
        await backend.close()


async def test_failed_write_leaves_no_entry_in_the_database_sink(repo: AuditedRepo) -> None:
    await repo.create({"email": "dup@x.io", "full_name": "D"})
    with pytest.raises(ConstraintError):
        await repo.create({"email": "dup@x.io", "full_name": "D again"})
    log = await repo.get_audit_log()
    assert [e.operation for e in log] == ["create"]


async def test_memory_backend_without_transactions_still_refuses_silent_writes() -> None:
    repo = AuditedRepo(MemoryBackend())
    repo.audit_sink = FailingSink()
    with pytest.raises(AuditError, match="FailingSink"):
        await repo.create({"email": "m@x.io", "full_name": "M"})


async def test_jsonl_sink_appends_flushes_and_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    path = tmp_path / "audit.jsonl"
    path.write_text(
        '{"timestamp": "2020-01-01T00:00:00Z", "user_id": null, '
        '"operation": "old", "entity_id": 0}\n'
    )
    repo = AuditedRepo(MemoryBackend())
    repo.audit_sink = JsonlAuditSink(path)
    made = await repo.bulk_create(
        [{"email": f"j{i}@x.io", "full_name": f"J{i}"} for i in range(4)], user_id="u9"
    )
    await repo.update(made[0].id, {"tier": "pro"}, user_id="u9")
    assert len(synced) == 2  # one fsync per batch
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 4 + 1 and json.loads(lines[0])["operation"] == "old"
    assert [json.loads(line)["operation"] for line in lines[1:]] == ["bulk_create"] * 4 + ["update"]
    log = await repo.get_audit_log({"user_id": "u9"}, limit=2)
    assert [e.operation for e in log] == ["update", "bulk_create"]
    assert log[0].changes["before"]["tier"] == "free"
    assert len(await repo.get_audit_log()) == 6
    assert [e.entity_id for e in await repo.get_audit_log({"entity_id": made[2].id})] == [
        made[2].id
    ]


async def test_database_sink_table_is_in_the_same_sqlite_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "shop.db", tmp_path / "shop.db")
    async with SQLiteBackend(tmp_path / "shop.db") as db:
        repo = AuditedRepo(db)
        repo.audit_sink = DatabaseAuditSink(db, HOSTILE)
        await repo.create({"email": "t@x.io", "full_name": "T"}, user_id="u1")
        rows = await db.execute(f"SELECT user_id, operation FROM {db.dialect.quote(HOSTILE)}")
        assert [tuple(r) for r in rows] == [("u1", "create")]
        with pytest.raises(Exception, match="filters on"):
            await repo.get_audit_log({"changes": {}})
