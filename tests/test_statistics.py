"""get_statistics(): counts of today's creates, updates and soft deletes taken by the database,
field cardinalities (pg_stats estimates on PostgreSQL, sampled elsewhere), storage size and
index scans where the backend keeps them, and the per-operation latencies."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pg import SHOP_CUSTOMERS_SQL
from pydantic import Field
from pymongo import AsyncMongoClient, MongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from generated.shop import CustomerRepo
from xrepo.runtime import (
    ConnectedRepo,
    MemoryBackend,
    RepoMetadata,
    RepoStats,
    SQLiteBackend,
    XObjPrototype,
)
from xrepo.runtime.backends.mongo import MongoBackend
from xrepo.runtime.backends.postgres import PostgresBackend
from xrepo.runtime.backends.redis import RedisBackend

ROOT = Path(__file__).resolve().parents[1]

PG_SCHEMA = SHOP_CUSTOMERS_SQL + "CREATE INDEX customers_tier ON customers (tier);"


async def _fill(repo: CustomerRepo, n: int) -> list[int]:
    tiers = ["free", "pro", "enterprise"]
    made = [
        await repo.create(
            {"email": f"u{i}@example.com", "full_name": f"U{i}", "tier": tiers[i % 3]}
        )
        for i in range(n)
    ]
    return [m.id for m in made]


async def test_memory_counts_today_and_samples_cardinalities() -> None:
    repo = CustomerRepo(MemoryBackend())
    ids = await _fill(repo, 6)
    await repo.update(ids[0], {"tier": "pro"})
    await repo.delete(ids[1])
    stats = await repo.get_statistics()
    assert isinstance(stats, RepoStats)
    assert stats.total_count == 5
    assert stats.created_today == 5  # alive rows only; the deleted one is counted below
    assert stats.updated_today == 5 and stats.deleted_today == 1
    assert stats.cardinality_source == "sample"
    assert stats.cardinalities["tier"] == 3 and stats.cardinalities["email"] == 5
    assert stats.storage_bytes is None and stats.indexes == {}
    assert stats.operations["create"]["count"] == 6


async def test_sqlite_file_size_and_today_counts(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "shop.db", tmp_path / "shop.db")
    async with SQLiteBackend(tmp_path / "shop.db") as db:
        repo = CustomerRepo(db)
        before = await repo.get_statistics()
        ids = await _fill(repo, 4)
        after = await repo.get_statistics()
        assert after.storage_bytes is not None and after.storage_bytes > 0
        assert before.created_today is not None and after.created_today == before.created_today + 4
        assert after.total_count == before.total_count + 4
        assert after.deleted_today == before.deleted_today
        await repo.delete(ids[0])
        gone = await repo.get_statistics()
        assert before.deleted_today is not None and gone.deleted_today == before.deleted_today + 1
        assert gone.total_count == after.total_count - 1
        assert gone.cardinality_source == "sample" and gone.cardinalities["email"] > 0


async def test_memory_empty_has_no_cardinalities() -> None:
    stats = await CustomerRepo(MemoryBackend()).get_statistics()
    assert stats.total_count == 0 and stats.created_today == 0 and stats.cardinalities == {}
    assert stats.cardinality_source is None


async def test_postgres_pg_stats_indexes_and_size(pg_dsn: str) -> None:
    backend = PostgresBackend(pg_dsn)
    await backend.connect()
    try:
        await backend.execute(PG_SCHEMA)
        repo = CustomerRepo(backend)
        await _fill(repo, 30)
        await repo.list({"tier": "pro"})
        await backend.execute("ANALYZE customers")
        stats = await repo.get_statistics()
        assert stats.cardinality_source == "database"
        assert stats.cardinalities["tier"] == 3
        assert stats.cardinalities["email"] == 30  # n_distinct -1: every row distinct
        assert stats.storage_bytes is not None and stats.storage_bytes > 0
        assert {"customers_pkey", "customers_tier", "customers_email_key"} <= set(stats.indexes)
        assert all(ix["scans"] >= 0 for ix in stats.indexes.values())
        assert stats.created_today == 30 and stats.deleted_today == 0
    finally:
        await backend.close()


# -- MongoDB and Redis ---------------------------------------------------------------------

UTC = datetime.UTC


class Member(XObjPrototype):
    id: str | None = Field(default=None, alias="_id")
    email: str
    tier: str
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    deleted_at: datetime.datetime | None = None


class TierUpdate(XObjPrototype):
    tier: str | None = None


class MemberRepo(ConnectedRepo[Member, Member, TierUpdate, dict[str, Any], str]):
    model = Member
    create_model = Member
    update_model = TierUpdate
    metadata = RepoMetadata(
        name="members",
        collection="members",
        primary_key=("id",),
        object_ids=("id",),
        soft_delete=True,
        auto_timestamps=True,
    )


class KeyedMember(XObjPrototype):
    id: int
    email: str
    tier: str
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    deleted_at: datetime.datetime | None = None


KEYED = RepoMetadata(
    name="members",
    collection="member:{id}",
    primary_key=("id",),
    soft_delete=True,
    auto_timestamps=True,
)


class KeyedMemberRepo(ConnectedRepo[KeyedMember, KeyedMember, TierUpdate, dict[str, Any], str]):
    model = KeyedMember
    create_model = KeyedMember
    update_model = TierUpdate
    metadata = KEYED


class PlainKeyedMemberRepo(KeyedMemberRepo):
    """The same keys without automatic timestamps: writes rows dated yesterday."""

    metadata = KEYED.model_copy(update={"auto_timestamps": False, "soft_delete": False})


TIERS = ["free", "pro", "enterprise"]


def yesterday() -> datetime.datetime:
    """Noon of the previous UTC day: before midnight whatever the time of the run."""
    today = datetime.datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    return today - datetime.timedelta(days=1)


class Sent(CommandListener):
    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.commands.append(dict(event.command))

    def succeeded(self, event: Any) -> None:
        return None

    def failed(self, event: Any) -> None:
        return None


def counts_since(sent: Sent, field: str) -> list[datetime.datetime]:
    """The ``$gte`` bounds of the count commands that filtered ``field``."""
    found = []
    for cmd in sent.commands:
        for stage in cmd.get("pipeline", []) if "aggregate" in cmd else []:
            match = stage.get("$match", {})
            for term in [match, *match.get("$and", [])]:
                bound = term.get(field, {}).get("$gte") if isinstance(term, dict) else None
                if isinstance(bound, datetime.datetime):
                    found.append(bound)
    return found


def real_mongodb(mongo_url: str) -> bool:
    """MongoDB rather than SecantusDB, whose 0.7 answers ``$indexStats`` but keeps
    ``accesses.ops`` at 0, and whose ``$collStats`` ``storageStats`` is a stub of zeros."""
    with MongoClient(mongo_url) as client:
        return "secantusVersion" not in client.admin.command("buildInfo")


async def test_mongo_statistics_counted_by_the_server(mongo_db: tuple[str, str]) -> None:
    url, name = mongo_db
    sent = Sent()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        url, event_listeners=[sent], uuidRepresentation="standard", tz_aware=True
    )
    backend = MongoBackend(client, name)
    try:
        repo = MemberRepo(backend)
        empty = await repo.get_statistics()
        assert (empty.total_count, empty.created_today, empty.deleted_today) == (0, 0, 0)
        assert empty.storage_bytes == 0 and empty.indexes == {}
        # Rows of yesterday, written as BSON dates behind the repo's back.
        old = yesterday()
        with MongoClient(url) as raw:
            coll = raw[name]["members"]
            coll.insert_many(
                [
                    {"email": f"old{i}@x", "tier": "free", "created_at": old, "updated_at": old}
                    | {"deleted_at": old if i == 2 else None}
                    for i in range(3)
                ]
            )
            coll.create_index("tier", name="tier_1")
            old_id = str(coll.find_one({"email": "old0@x"})["_id"])  # type: ignore[index]
        made = [await repo.create({"email": f"u{i}@x", "tier": TIERS[i % 3]}) for i in range(9)]
        await repo.update(made[0].id, {"tier": "pro"})  # type: ignore[arg-type]
        await repo.update(old_id, {"tier": "pro"})
        await repo.delete(made[1].id)  # type: ignore[arg-type]
        await repo.delete(made[2].id)  # type: ignore[arg-type]
        sent.commands.clear()
        stats = await repo.get_statistics()
        assert stats.total_count == 9  # 9 made + 2 old alive - 2 deleted
        assert stats.created_today == 7  # alive ones made today; yesterday's are not
        assert stats.updated_today == 8  # + the old row updated today
        assert stats.deleted_today == 2  # the row deleted yesterday is not
        # Counted by the server: count commands bounded by midnight UTC, as a BSON date.
        midnight = datetime.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for field in ("created_at", "updated_at", "deleted_at"):
            assert counts_since(sent, field) == [midnight], field
        assert stats.cardinality_source == "sample"
        assert stats.cardinalities["tier"] == 3 and stats.cardinalities["email"] == 9
        native = await backend.stats(MemberRepo.plan().collection)
        assert native["document_count"] == 12  # soft-deleted documents are stored too
        assert native["avg_object_bytes"] > 0
        assert stats.storage_bytes is not None and stats.storage_bytes > 0
        assert {"_id_", "tier_1"} <= set(stats.indexes)
        assert native["index_keys"]["tier_1"] == {"tier": 1}
        assert all(ix["scans"] >= 0 and ix["bytes"] > 0 for ix in stats.indexes.values())
        before = stats.indexes["tier_1"]["scans"]
        for _ in range(3):
            assert len(await repo.list({"tier": "enterprise"})) == 2
        after = (await repo.get_statistics()).indexes["tier_1"]["scans"]
        if real_mongodb(url):
            assert after >= before + 3
        else:
            assert after >= before
        ops = stats.operations
        assert ops["create"]["count"] == 9 and ops["update"]["count"] == 2
        assert ops["delete"]["count"] == 2
        for op in ops.values():
            assert 0 < op["p50_ms"] <= op["p95_ms"] and op["mean_ms"] > 0
    finally:
        await client.close()


@pytest.mark.parametrize("stages", [True, False])
async def test_mongo_stats_degrade_when_commands_are_refused(
    mongo_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch, stages: bool
) -> None:
    """A server refusing ``collStats`` (permissions, versions past its deprecation) and, with
    ``stages`` off, the ``$indexStats`` / ``$collStats`` stages too: figures it cannot get are
    left out (or taken from ``$collStats`` when that answers believably); get_statistics
    still answers."""
    from pymongo.asynchronous.collection import AsyncCollection
    from pymongo.asynchronous.database import AsyncDatabase
    from pymongo.errors import OperationFailure

    url, name = mongo_db
    async with MongoBackend(url, name) as backend:
        repo = MemberRepo(backend)
        await repo.create({"email": "a@x", "tier": "free"})
        real_command = AsyncDatabase.command
        real_aggregate = AsyncCollection.aggregate

        async def command(self: Any, cmd: Any, *args: Any, **kwargs: Any) -> Any:
            if cmd == "collStats":
                raise OperationFailure("not authorized", code=13)
            return await real_command(self, cmd, *args, **kwargs)

        async def aggregate(self: Any, pipeline: Any, *args: Any, **kwargs: Any) -> Any:
            if not stages and any("$indexStats" in s or "$collStats" in s for s in pipeline):
                raise OperationFailure("unrecognized pipeline stage", code=40324)
            return await real_aggregate(self, pipeline, *args, **kwargs)

        monkeypatch.setattr(AsyncDatabase, "command", command)
        monkeypatch.setattr(AsyncCollection, "aggregate", aggregate)
        stats = await repo.get_statistics()
        assert stats.total_count == 1 and stats.created_today == 1
        if not stages:
            assert stats.storage_bytes is None and stats.indexes == {}
        elif real_mongodb(url):  # MongoDB: $collStats storageStats is real
            assert stats.storage_bytes is not None and stats.storage_bytes > 0
            assert set(stats.indexes) == {"_id_"}
        else:  # SecantusDB's storageStats answers 0 bytes for a stored document: not believed
            assert stats.storage_bytes is None and stats.indexes == {"_id_": {"scans": 0}}
        assert stats.cardinalities["email"] == 1 and stats.cardinalities["tier"] == 1


@pytest.mark.parametrize("kind", ["hash", "json"])
async def test_redis_statistics(redis_prefix: tuple[str, str], kind: str) -> None:
    url, prefix = redis_prefix
    backend = RedisBackend(url, model=KeyedMember, kind=kind, prefix=prefix)  # type: ignore[arg-type]
    raw = aioredis.from_url(url)
    try:
        repo = KeyedMemberRepo(backend)
        empty = await repo.get_statistics()
        assert (empty.total_count, empty.created_today, empty.storage_bytes) == (0, 0, 0)
        assert empty.indexes == {}
        old = yesterday()
        plain = PlainKeyedMemberRepo(backend)
        for i in (100, 101, 102):
            await plain.create(
                {"id": i, "email": f"old{i}@x", "tier": "free", "created_at": old}
                | {"updated_at": old, "deleted_at": old if i == 102 else None}
            )
        for i in range(9):
            await repo.create({"id": i, "email": f"u{i}@x", "tier": TIERS[i % 3]})
        await repo.update(0, {"tier": "pro"})
        await repo.update(100, {"tier": "pro"})
        await repo.delete(1)
        await repo.delete(2)
        await raw.set(f"{prefix}member:not-a-number", "x")  # matches the glob, not the pattern
        for i in (3, 4, 5):
            await raw.expire(f"{prefix}member:{i}", 3600)
        stats = await repo.get_statistics()
        assert stats.total_count == 9
        assert (stats.created_today, stats.updated_today, stats.deleted_today) == (7, 8, 2)
        assert stats.cardinality_source == "sample"
        assert stats.cardinalities["tier"] == 3 and stats.cardinalities["email"] == 9
        assert stats.indexes == {}
        native = await backend.stats(KeyedMemberRepo.plan().collection)
        assert native["key_count"] == 12 and native["key_count_complete"]
        assert native["sampled_keys"] == 12
        assert native["ttl_share"] == pytest.approx(3 / 12)
        assert native["memory_sampled_bytes"] > 0
        assert stats.storage_bytes is not None
        assert stats.storage_bytes == pytest.approx(native["memory_sampled_bytes"], rel=0.01)
        assert stats.backend_details["key_count"] == 12  # the rest of stats() passed on
        assert stats.backend_details["ttl_share"] == pytest.approx(3 / 12)
        ops = stats.operations
        assert ops["create"]["count"] == 9 and ops["delete"]["count"] == 2
        for op in ops.values():
            assert 0 < op["p50_ms"] <= op["p95_ms"] and op["mean_ms"] > 0
    finally:
        await raw.aclose()
        await backend.close()


async def test_redis_stats_stay_within_budget(redis_prefix: tuple[str, str]) -> None:
    """Past ``max_scan`` keys the count is unknown (never a KEYS call); the memory sample is
    bounded by STATS_SAMPLE."""
    from xrepo.runtime.backends import redis as redis_backend

    url, prefix = redis_prefix
    backend = RedisBackend(url, model=KeyedMember, prefix=prefix, max_scan=5, scan_count=2)
    try:
        repo = PlainKeyedMemberRepo(backend)
        await repo.bulk_create([{"id": i, "email": f"u{i}@x", "tier": "free"} for i in range(8)])
        native = await backend.stats(KeyedMemberRepo.plan().collection)
        assert native["key_count"] is None and native["key_count_complete"] is False
        assert native["storage_bytes"] is None and native["indexes"] == {}
        assert 0 < native["sampled_keys"] <= 8 and native["ttl_share"] == 0
        backend.max_scan = 100
        small = redis_backend.STATS_SAMPLE
        redis_backend.STATS_SAMPLE = 3
        try:
            bounded = await backend.stats(KeyedMemberRepo.plan().collection)
        finally:
            redis_backend.STATS_SAMPLE = small
        assert bounded["key_count"] == 8 and bounded["sampled_keys"] == 3
        assert bounded["storage_bytes"] == round(bounded["memory_sampled_bytes"] / 3 * 8)
    finally:
        await backend.close()
