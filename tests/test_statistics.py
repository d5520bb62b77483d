"""get_statistics(): counts of today's creates, updates and soft deletes taken by the database,
field cardinalities (pg_stats estimates on PostgreSQL, sampled elsewhere), storage size and
index scans where the backend keeps them, and the per-operation latencies."""

from __future__ import annotations

import shutil
from pathlib import Path

from generated.shop import CustomerRepo
from xrepo.runtime import MemoryBackend, RepoStats, SQLiteBackend
from xrepo.runtime.backends.postgres import PostgresBackend

ROOT = Path(__file__).resolve().parents[1]

PG_SCHEMA = """
CREATE TABLE customers (
  id serial PRIMARY KEY,
  email varchar(254) NOT NULL UNIQUE,
  full_name text NOT NULL,
  tier text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
  website text,
  created_at timestamp,
  updated_at timestamp,
  deleted_at timestamp
);
CREATE INDEX customers_tier ON customers (tier);
"""


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
