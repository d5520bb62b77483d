"""RedisBackend through ConnectedRepo: CRUD, storage encoding (read back by the inspector), the
same answers as MemoryBackend for filters / sorts / paging / distinct / aggregate, pipelined and
atomic bulk writes (counted round trips), TTL, the scan bound, and key-injection safety."""

from __future__ import annotations

import datetime
import decimal
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from test_inspect_redis import counting_client

from xrepo.runtime import (
    BackendError,
    ConnectedRepo,
    ConstraintError,
    MaterializedRepo,
    RepoMetadata,
    XObjPrototype,
)
from xrepo.runtime.backends.redis import RedisBackend
from xrepo.runtime.introspect.redis import inspect_redis_async, redis_value_kind
from xrepo.runtime.schema import LogicalType


class User(XObjPrototype):
    id: int
    name: str
    age: int | None = None
    score: float | None = None
    active: bool | None = None
    born: datetime.date | None = None
    seen: datetime.datetime | None = None
    balance: decimal.Decimal | None = None
    ref: uuid.UUID | None = None
    tags: list[str] | None = None


class UserUpdate(XObjPrototype):
    id: int | None = None
    name: str | None = None
    age: int | None = None
    active: bool | None = None
    tags: list[str] | None = None


META = RepoMetadata(name="users", collection="user:{id}", primary_key=("id",))


class UserRepo(ConnectedRepo[User, User, UserUpdate, dict[str, Any], str]):
    model = User
    create_model = User
    update_model = UserUpdate
    metadata = META


class UserMemory(MaterializedRepo[User, User, UserUpdate, dict[str, Any], str]):
    model = User
    create_model = User
    update_model = UserUpdate
    metadata = META


class Doc(XObjPrototype):
    owner: str
    id: str
    n: int


class DocRepo(ConnectedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = Doc
    create_model = Doc
    update_model = Doc
    metadata = RepoMetadata(name="docs", collection="doc:{owner}:{id}", primary_key=("owner", "id"))


UTC = datetime.UTC


def make_users(n: int, seed: int = 7) -> list[User]:
    rnd = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        out.append(
            User(
                id=i,
                name=rnd.choice(["ann", "bob", "cy", "Dee", "ed"]) + str(i % 4),
                age=rnd.choice([None, *range(18, 60)]),
                score=rnd.choice([None, 1.5, 2.25, -3.0, 10.0]),
                active=rnd.choice([None, True, False]),
                born=rnd.choice([None, datetime.date(1990, 1, 1) + datetime.timedelta(i * 37)]),
                seen=datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(hours=i),
                balance=rnd.choice([None, decimal.Decimal("10.50"), decimal.Decimal("-2.25")]),
                ref=uuid.UUID(int=i),
                tags=rnd.choice([None, [], ["a"], ["a", "b"], ["c"]]),
            )
        )
    return out


@pytest.fixture(params=["hash", "json"])
async def repo(
    request: pytest.FixtureRequest, redis_prefix: tuple[str, str]
) -> AsyncIterator[UserRepo]:
    url, prefix = redis_prefix
    backend = RedisBackend(url, model=User, kind=request.param, prefix=prefix)
    yield UserRepo(backend)
    await backend.close()


async def test_crud_round_trip(repo: UserRepo) -> None:
    user = make_users(1)[0].model_copy(update={"active": True, "tags": ["x", "y"]})
    assert await repo.create(user) == user
    assert await repo.read(1) == user
    assert await repo.read(2) is None
    with pytest.raises(ConstraintError, match="exists"):
        await repo.create(user)
    assert await repo.exists({"id": 1}) and not await repo.exists({"id": 5})
    updated = await repo.update(1, {"age": None, "name": "zed", "tags": ["q"]})
    assert updated is not None and updated.age is None and updated.name == "zed"
    assert updated.tags == ["q"] and updated.balance == user.balance
    moved = await repo.update(1, {"id": 9})
    assert moved is not None and moved.id == 9 and await repo.read(1) is None
    assert await repo.count() == 1
    assert await repo.delete(9, hard=True) and not await repo.delete(9, hard=True)
    assert await repo.count() == 0


async def test_hash_encoding_is_what_the_inspector_infers(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    backend = RedisBackend(url, model=User, prefix=prefix)
    repo = UserRepo(backend)
    await repo.bulk_create(
        u.model_copy(update={"age": 30 + u.id, "active": u.id % 2 == 0, "tags": ["t"]})
        for u in make_users(12)
    )
    client = aioredis.from_url(url, decode_responses=True)
    raw = await client.hgetall(f"{prefix}user:2")
    await client.aclose()
    await backend.close()
    assert raw["active"] == "true" and raw["seen"] == "2024-01-01T02:00:00+00:00"
    assert raw["ref"] == str(uuid.UUID(int=2)) and raw["tags"] == '["t"]' and "id" not in raw
    snap = await inspect_redis_async(url, name="r", prefix=prefix)
    spec = snap.collection("user:{id}")
    assert redis_value_kind(spec) == "hash"
    kinds = {f.name: f.type.kind for f in spec.fields}
    assert kinds["id"] == LogicalType.INT and kinds["age"] == LogicalType.INT
    assert kinds["active"] == LogicalType.BOOL and kinds["seen"] == LogicalType.DATETIME
    assert kinds["tags"] == LogicalType.ARRAY and kinds["name"] == LogicalType.STR


FILTERS: list[dict[str, Any]] = [
    {},
    {"age": {"$gte": 30}},
    {"age": None},
    {"active": True},
    {"active": {"$ne": True}},
    {"name": {"$regex": "^[ab]"}},
    {"score__lt": 2, "balance": {"$ne": None}},
    {"born": {"$gt": datetime.date(2000, 1, 1)}},
    {"seen": {"$lt": datetime.datetime(2024, 1, 2, tzinfo=UTC)}},
    {"tags": "a"},
    {"tags": {"$size": 2}},
    {"id": {"$in": [3, 5, 40]}},
    {"id": 7},
    {"$or": [{"age": {"$lt": 25}}, {"name": {"$in": ["ann1", "cy2"]}}]},
    {"ref": uuid.UUID(int=4)},
]
SORTS: list[list[tuple[str, int]] | None] = [
    None,
    [("age", -1)],
    [("name", 1), ("score", -1)],
    [("born", 1)],
]


async def test_queries_agree_with_memory_backend(repo: UserRepo) -> None:
    users = make_users(60)
    memory = UserMemory(users)
    await repo.bulk_create(users)
    cases = 0
    for filters in FILTERS:
        assert await repo.count(filters) == await memory.count(filters), filters
        for sort in SORTS:
            for skip, limit in [(0, None), (3, 5)]:
                got = await repo.list(filters, sort=sort, skip=skip, limit=limit)  # type: ignore[arg-type]
                want = await memory.list(filters, sort=sort, skip=skip, limit=limit)  # type: ignore[arg-type]
                assert got == want, (filters, sort, skip, limit)
                cases += 1
    for field in ["name", "age", "active", "tags", "born"]:
        assert await repo.distinct(field) == await memory.distinct(field), field
        assert await repo.distinct(field, {"age__gte": 40}) == await memory.distinct(
            field, {"age__gte": 40}
        )
    pipelines: list[list[dict[str, Any]]] = [
        [
            {"$match": {"age": {"$gte": 30}}},
            {"$group": {"_id": "$active", "n": {"$sum": 1}, "avg": {"$avg": "$age"}}},
            {"$sort": {"_id": 1}},
        ],
        [{"$unwind": "$tags"}, {"$sortByCount": "$tags"}],
        [{"$match": {"name": {"$regex": "1$"}}}, {"$project": {"name": 1, "born": 1}}],
    ]
    for pipeline in pipelines:
        got_rows = await repo.aggregate(pipeline)
        want_rows = await memory.aggregate(pipeline)
        key = repr
        assert sorted(got_rows, key=key) == sorted(want_rows, key=key), pipeline
    page = await repo.page(sort=[("age", 1)], limit=7)
    mem_page = await memory.page(sort=[("age", 1)], limit=7)
    assert page.items == mem_page.items and page.next_cursor == mem_page.next_cursor
    assert page.next_cursor is not None
    assert (await repo.page(sort=[("age", 1)], limit=7, after=page.next_cursor)).items == (
        await memory.page(sort=[("age", 1)], limit=7, after=mem_page.next_cursor)
    ).items
    assert cases == len(FILTERS) * len(SORTS) * 2


async def test_bulk_writes_are_pipelined_and_atomic(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    client = counting_client(url)
    repo = UserRepo(RedisBackend(client, model=User, prefix=prefix))
    users = make_users(300)
    made = await repo.bulk_create(users)
    assert made == users
    # WATCH, EXISTS (one pipeline of 300), MULTI/EXEC: not one round trip per row
    assert client.calls["round_trips"] <= 4 and client.calls["HSET"] == 300
    assert client.calls["transactions"] == 1

    clash = [*make_users(3, seed=1)[:2], make_users(1)[0].model_copy(update={"id": 1000})]
    clash[0] = clash[0].model_copy(update={"id": 999})  # new; clash[1] has id 2: taken
    with pytest.raises(ConstraintError, match="user:2"):
        await repo.bulk_create(clash)
    assert await repo.read(999) is None and await repo.read(1000) is None  # all or nothing

    client.calls.clear()
    changed = await repo.bulk_update({"age": {"$lt": 30}}, {"active": False})
    assert changed == sum(1 for u in users if u.age is not None and u.age < 30)
    assert client.calls["round_trips"] <= 8 and client.calls["transactions"] == 1
    assert all(u.active is False for u in await repo.list({"age": {"$lt": 30}}))
    removed = await repo.bulk_delete({"active": False}, hard=True)
    assert removed >= changed and await repo.count({"active": False}) == 0
    await client.aclose()


async def test_ttl_applied_on_create_and_update(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    client = aioredis.from_url(url)
    for kind in ("hash", "json"):
        backend = RedisBackend(url, model=User, kind=kind, prefix=f"{prefix}{kind}:")
        repo = UserRepo(backend)
        await repo.create(make_users(1)[0])
        await client.persist(f"{prefix}{kind}:user:1")
        await repo.update(1, {"name": "x"})
        assert await client.pttl(f"{prefix}{kind}:user:1") == -1  # no ttl_seconds: none set
        await client.expire(f"{prefix}{kind}:user:1", 500)
        await repo.update(1, {"name": "y"})
        assert 0 < await client.ttl(f"{prefix}{kind}:user:1") <= 500  # kept by an update
        await backend.close()
        timed = UserRepo(
            RedisBackend(url, model=User, kind=kind, prefix=f"{prefix}{kind}:", ttl_seconds=100)
        )
        await timed.create(make_users(2)[1])
        assert 95 < await client.ttl(f"{prefix}{kind}:user:2") <= 100
        await client.persist(f"{prefix}{kind}:user:2")
        await timed.update(2, {"name": "z"})
        assert 95 < await client.ttl(f"{prefix}{kind}:user:2") <= 100
        await timed.backend.close()
    await client.aclose()


async def test_scan_is_bounded(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    backend = RedisBackend(url, model=User, prefix=prefix, max_scan=10, scan_count=5)
    repo = UserRepo(backend)
    await repo.bulk_create(make_users(30))
    with pytest.raises(BackendError, match="max_scan=10"):
        await repo.list({"age": {"$gt": 1}})
    assert (await repo.read(17)) is not None  # by key: no scan
    assert backend.last_scanned == 1
    assert len(await repo.list({"id": {"$in": [1, 2, 3]}})) == 3
    await backend.close()


async def test_key_values_cannot_widen_scans(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    backend = RedisBackend(url, model=Doc, kind="json", prefix=prefix)
    repo = DocRepo(backend)
    owners = ["a*", "ab", "a?", "a[b]", "a\\", "*", "a\\*"]
    await repo.bulk_create(
        Doc(owner=o, id=f"{i}{s}", n=i) for i, o in enumerate(owners) for s in "xy"
    )
    for owner in owners:
        rows = await repo.list({"owner": owner})
        assert {r.owner for r in rows} == {owner} and len(rows) == 2, owner
        assert backend.last_scanned == 2, owner  # the MATCH glob matched only its own keys
    assert await repo.read(("*", "5x")) == Doc(owner="*", id="5x", n=5)
    assert await repo.read(("a*", "5x")) is None
    assert await repo.count({"owner": "a*"}) == 2
    assert await repo.delete(("a?", "2x"), hard=True)
    assert await repo.count() == len(owners) * 2 - 1
    assert await repo.list({"owner": "a*"}, sort=[("id", 1)]) == [
        Doc(owner="a*", id="0x", n=0),
        Doc(owner="a*", id="0y", n=0),
    ]
    with pytest.raises(ConstraintError, match="holds ':'"):
        await repo.create(Doc(owner="a:b", id="1", n=1))  # would read back as owner "a"
    assert await repo.create(Doc(owner="a", id="b:1", n=1))  # the last key field may
    assert await repo.read(("a", "b:1")) is not None
    assert await repo.list({"owner": "a"}) == [Doc(owner="a", id="b:1", n=1)]
    with pytest.raises(ConstraintError, match="key field 'id' is empty"):
        await repo.create(Doc(owner="o", id="", n=1))
    await backend.close()
