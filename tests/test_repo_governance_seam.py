"""inspect_schema, inspect_collection, get_statistics and get_audit_log on the generated
example repos, over SQLite and in memory: the seam every call passes through records them."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from generated.shop import CustomerRepo
from generated.shop.models import Customer
from xrepo.runtime import ConfigurationError, MemoryBackend, RepoMetadata, SQLiteBackend

ROOT = Path(__file__).resolve().parents[1]


class AuditedCustomerRepo(CustomerRepo):
    metadata = CustomerRepo.metadata.model_copy(update={"enable_audit": True})


@pytest.fixture(params=["sqlite", "memory"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    shutil.copy(ROOT / "examples" / "shop.db", tmp_path / "shop.db")
    async with SQLiteBackend(tmp_path / "shop.db") as db:
        yield db


async def test_inspect_schema_maps_names_and_gives_json_schema(backend: object) -> None:
    repo = CustomerRepo(backend)
    info = await repo.inspect_schema()
    assert info["collection"] == "customers" and info["primary_key"] == ["id"]
    assert info["fields"]["email"] == "email"
    assert info["json_schema"] == Customer.model_json_schema(by_alias=True)
    assert set(info["json_schema"]["required"]) >= {"id", "email", "full_name", "tier"}


async def test_inspect_collection_counts_live_rows(backend: object) -> None:
    repo = CustomerRepo(backend)
    before = (await repo.inspect_collection())["count"]
    await repo.create({"email": "new@example.com", "full_name": "New"})
    info = await repo.inspect_collection()
    assert info["count"] == before + 1
    assert info["unique"] == [["email"]] and info["soft_delete"] is True


async def test_statistics_count_every_operation(backend: object) -> None:
    repo = CustomerRepo(backend)
    made = await repo.create({"email": "s@example.com", "full_name": "S"})
    for _ in range(3):
        await repo.read(made.id)
    await repo.list({"tier": "free"})
    stats = await repo.get_statistics()
    ops = stats.operations
    assert ops["read"]["count"] == 3 and ops["create"]["count"] == 1
    assert ops["list"]["count"] == 1
    assert ops["count"]["count"] == 1  # get_statistics' own count went through the seam
    assert 0 <= ops["read"]["p50_ms"] <= ops["read"]["p95_ms"]
    assert stats.total_count == await repo.count()


async def test_statistics_off_records_no_latencies(backend: object) -> None:
    class Quiet(CustomerRepo):
        metadata = CustomerRepo.metadata.model_copy(update={"enable_statistics": False})

    repo = Quiet(backend)
    made = await repo.create({"email": "q@example.com", "full_name": "Q"})
    await repo.read(made.id)
    stats = await repo.get_statistics()
    assert stats.operations == {} and not repo.op_stats.summary()
    assert stats.total_count == await repo.count()  # counts are still the database's


async def test_audit_log_records_writes_newest_first(backend: object) -> None:
    repo = AuditedCustomerRepo(backend)
    made = await repo.create({"email": "a@example.com", "full_name": "A"}, user_id="u1")
    await repo.update(made.id, {"tier": "pro"}, user_id="u2")
    await repo.update(10_000, {"tier": "pro"}, user_id="u2")  # no such row: nothing changed
    await repo.delete(made.id, user_id="u1")
    await repo.list(user_id="u1")  # reads are not audited
    log = await repo.get_audit_log()
    assert [(e.operation, e.user_id, e.entity_id) for e in log] == [
        ("delete", "u1", made.id),
        ("update", "u2", made.id),
        ("create", "u1", made.id),
    ]
    assert log[1].changes["set"]["tier"] == "pro"
    assert log[2].changes["after"]["email"] == "a@example.com"
    only_u2 = await repo.get_audit_log({"user_id": "u2"})
    assert [e.operation for e in only_u2] == ["update"]
    assert len(await repo.get_audit_log(limit=1)) == 1


async def test_audit_log_off_says_how_to_turn_it_on() -> None:
    repo = CustomerRepo(MemoryBackend())
    assert isinstance(repo.metadata, RepoMetadata) and not repo.metadata.enable_audit
    with pytest.raises(ConfigurationError, match="enable_audit"):
        await repo.get_audit_log()
