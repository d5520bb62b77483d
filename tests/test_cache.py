"""Read cache: hits and misses, TTL, invalidation by every write kind through a second repo,
principal isolation under ACL rules, Redis shared by two cache objects (two processes),
result copies, single flight, and a disabled cache always reaching the backend; the same
staleness and isolation guarantees over MongoDB and Redis backends (separate connections)."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from xrepo.runtime import (
    ACL,
    ConnectedRepo,
    MaterializedRepo,
    MemoryCache,
    RedisCache,
    RepoMetadata,
    XObjPrototype,
)
from xrepo.runtime.backends.mongo import MongoBackend
from xrepo.runtime.backends.redis import RedisBackend
from xrepo.runtime.cache import dump_plain, load_plain


class Doc(XObjPrototype):
    id: int
    owner: str
    title: str
    salary: int | None = None


class DocUpdate(XObjPrototype):
    owner: str | None = None
    title: str | None = None
    salary: int | None = None


class Docs(MaterializedRepo[Doc, Doc, DocUpdate, dict[str, Any], str]):
    model = Doc
    create_model = Doc
    update_model = DocUpdate
    metadata = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


class CachedDocs(Docs):
    metadata = RepoMetadata(
        name="docs", collection="docs", primary_key=("id",), cache_enabled=True, cache_ttl=10.0
    )


ROWS = [
    {"id": 1, "owner": "alice", "title": "a1", "salary": 100},
    {"id": 2, "owner": "alice", "title": "a2", "salary": 200},
    {"id": 3, "owner": "bob", "title": "b1", "salary": 900},
]
RULES: list[dict[str, Any]] = [
    {
        "role": "owner",
        "permissions": ["create", "read", "update", "delete", "list"],
        "conditions": {"row": {"owner": "$user_id"}, "hidden": ["salary"]},
    },
    {"role": "root", "permissions": ["admin"]},
]
ROLES = {"alice": ["owner"], "bob": ["owner"], "root": ["root"]}


def counting(repo: Docs) -> dict[str, int]:
    """Count backend reads (select / count / distinct / aggregate) on ``repo``'s backend."""
    calls = {"n": 0}
    backend = repo.backend
    for name in ("select", "count", "distinct", "aggregate"):
        original: Callable[..., Awaitable[Any]] = getattr(backend, name)

        def wrap(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def counted(*args: Any, **kwargs: Any) -> Any:
                calls["n"] += 1
                await asyncio.sleep(0)  # let concurrent callers overlap (single flight)
                return await fn(*args, **kwargs)

            return counted

        setattr(backend, name, wrap(original))
    return calls


def pair(cache: MemoryCache | RedisCache | None = None) -> tuple[Docs, Docs]:
    """Two repo instances over one backend, sharing ``cache`` (or the metadata default)."""
    if cache is None:
        first: Docs = CachedDocs(ROWS)
        second: Docs = CachedDocs()
    else:
        first, second = Docs(ROWS), Docs()
        first.cache = second.cache = cache
    second.backend = first.backend
    return first, second


async def test_second_read_is_a_hit_for_every_cached_method() -> None:
    repo, _ = pair()
    calls = counting(repo)
    reads: list[Callable[[], Awaitable[Any]]] = [
        lambda: repo.list({"owner": "alice"}, sort=[("id", -1)]),
        lambda: repo.read(2),
        lambda: repo.find_one({"owner": "bob"}),
        lambda: repo.count({"owner": "alice"}),
        lambda: repo.exists({"owner": "carol"}),
        lambda: repo.distinct("owner"),
        lambda: repo.aggregate([{"$group": {"_id": "$owner", "n": {"$sum": 1}}}]),
        lambda: repo.page(sort=[("id", 1)], limit=2),
    ]
    for read in reads:
        before = calls["n"]
        first = await read()
        assert calls["n"] == before + 1
        assert await read() == first
        assert calls["n"] == before + 1, "the second identical read must not reach the backend"
    cache = repo._active_cache()
    assert isinstance(cache, MemoryCache)
    assert (cache.hits, cache.misses) == (len(reads), len(reads))
    page = await repo.page(sort=[("id", 1)], limit=2)
    assert [d.id for d in page.items] == [1, 2] and page.next_cursor is not None
    assert [d.id for d in (await repo.page(sort=[("id", 1)], after=page.next_cursor)).items] == [3]


async def test_different_queries_are_different_entries() -> None:
    repo, _ = pair()
    assert [d.id for d in await repo.list({"owner": "alice"})] == [1, 2]
    assert [d.id for d in await repo.list({"owner": "bob"})] == [3]
    assert [d.id for d in await repo.list(skip=1, limit=1)] == [2]
    assert [d.id for d in await repo.list(sort=[("id", -1)])] == [3, 2, 1]
    assert await repo.count({"owner": "alice"}) == 2
    assert await repo.count({"owner": "bob"}) == 1


async def test_ttl_expiry_with_injected_clock() -> None:
    now = [0.0]
    cache = MemoryCache(clock=lambda: now[0])
    repo, _ = pair(cache)
    repo.metadata = CachedDocs.metadata  # cache_ttl=10
    calls = counting(repo)
    await repo.list()
    now[0] = 9.9
    await repo.list()
    assert calls["n"] == 1
    now[0] = 10.0
    await repo.list()
    assert calls["n"] == 2, "an expired entry must be re-read"
    cache.ttl = 1.0  # the cache's own ttl wins over the metadata's
    now[0] = 100.0
    await repo.count()
    now[0] = 101.5
    await repo.count()
    assert calls["n"] == 4


WRITES: dict[str, Callable[[Docs], Awaitable[Any]]] = {
    "create": lambda r: r.create({"id": 9, "owner": "alice", "title": "new"}),
    "update": lambda r: r.update(1, {"title": "changed"}),
    "delete": lambda r: r.delete(2),
    "bulk_create": lambda r: r.bulk_create([{"id": 8, "owner": "alice", "title": "x"}]),
    "bulk_update": lambda r: r.bulk_update({"owner": "alice"}, {"title": "all"}),
    "bulk_delete": lambda r: r.bulk_delete({"owner": "alice"}),
}


@pytest.mark.parametrize("kind", sorted(WRITES))
async def test_every_write_through_another_repo_invalidates(kind: str) -> None:
    reader, writer = pair(MemoryCache())
    before_list = await reader.list({"owner": "alice"})
    before_count = await reader.count()
    before_read = await reader.read(1)
    await WRITES[kind](writer)
    direct = Docs()
    direct.backend = reader.backend  # no cache: the truth
    assert await reader.list({"owner": "alice"}) == await direct.list({"owner": "alice"})
    assert await reader.count() == await direct.count()
    assert await reader.read(1) == await direct.read(1)
    changed = (
        before_list != await direct.list({"owner": "alice"})
        or before_count != await direct.count()
        or before_read != await direct.read(1)
    )
    assert changed, f"{kind} should have changed something the reads see"


async def test_failed_write_still_invalidates() -> None:
    reader, writer = pair(MemoryCache())
    await reader.list()
    gen = await reader.cache.generation(".docs")  # type: ignore[union-attr]
    with pytest.raises(Exception):  # noqa: B017 - duplicate key, whatever the backend raises
        await writer.create({"id": 1, "owner": "x", "title": "dup"})
    assert await reader.cache.generation(".docs") == gen + 1  # type: ignore[union-attr]


async def test_metadata_cache_is_shared_per_backend_not_across_backends() -> None:
    one, two = pair()
    assert one._active_cache() is two._active_cache()
    other = CachedDocs([{"id": 1, "owner": "zed", "title": "z"}])
    assert other._active_cache() is not one._active_cache()
    assert [d.owner for d in await one.list()] == ["alice", "alice", "bob"]
    assert [d.owner for d in await other.list()] == ["zed"]


def acl_pair() -> tuple[Docs, Docs]:
    first, second = pair(MemoryCache())
    first.acl = second.acl = ACL(RULES, lambda user: ROLES.get(user, []))
    return first, second


async def test_principals_never_see_each_others_cached_rows() -> None:
    repo, _ = acl_pair()
    calls = counting(repo)
    alice = await repo.list(user_id="alice")
    bob = await repo.list(user_id="bob")
    assert {d.owner for d in alice} == {"alice"}
    assert {d.owner for d in bob} == {"bob"}
    assert await repo.count(user_id="alice") == 2
    assert await repo.count(user_id="bob") == 1
    assert await repo.read(1, user_id="bob") is None
    assert (await repo.read(1, user_id="alice")) is not None
    assert await repo.distinct("title", user_id="bob") == ["b1"]
    n = calls["n"]
    assert {d.owner for d in await repo.list(user_id="bob")} == {"bob"}
    assert calls["n"] == n, "bob's own entry is a hit"


async def test_hidden_fields_stay_hidden_on_hits_after_an_admin_read() -> None:
    repo, _ = acl_pair()
    root = await repo.list(user_id="root")
    assert [d.salary for d in root] == [100, 200, 900]
    for _ in range(2):  # miss, then hit
        alice = await repo.list(user_id="alice")
        assert [d.salary for d in alice] == [None, None]
        assert all("salary" not in d.model_dump(exclude_unset=True) for d in alice)
    assert [d.salary for d in await repo.list(user_id="root")] == [100, 200, 900]
    agg: list[dict[str, Any]] = [{"$sort": {"id": 1}}]
    assert [r.get("salary") for r in await repo.aggregate(agg, user_id="root")] == [100, 200, 900]
    for _ in range(2):
        rows = await repo.aggregate(agg, user_id="alice")
        assert [r["id"] for r in rows] == [1, 2]
        assert all("salary" not in r for r in rows)


async def test_a_write_by_one_principal_invalidates_anothers_entry() -> None:
    repo, other = acl_pair()
    assert await repo.count(user_id="root") == 3
    await other.create({"id": 7, "owner": "bob", "title": "b2"}, user_id="bob")
    assert await repo.count(user_id="root") == 4
    assert len(await repo.list(user_id="bob")) == 2


async def test_results_are_copies() -> None:
    repo, _ = pair(MemoryCache())
    first = await repo.list()
    first[0].title = "mutated"
    first.append(first[0])
    second = await repo.list()
    assert [d.title for d in second] == ["a1", "a2", "b1"]
    second[1].title = "again"
    assert [d.title for d in await repo.list()] == ["a1", "a2", "b1"]
    one = await repo.read(3)
    assert one is not None
    one.salary = 0
    assert (await repo.read(3)).salary == 900  # type: ignore[union-attr]
    values = await repo.distinct("owner")
    values.clear()
    assert await repo.distinct("owner") == ["alice", "bob"]


async def test_disabled_cache_always_reaches_the_backend() -> None:
    plain = Docs(ROWS)
    assert plain._active_cache() is None
    calls = counting(plain)
    for _ in range(3):
        await plain.list()
        await plain.count()
        await plain.read(1)
    assert calls["n"] == 9


async def test_concurrent_misses_make_one_backend_call() -> None:
    repo, _ = pair(MemoryCache())
    calls = counting(repo)
    results = await asyncio.gather(*(repo.list({"owner": "alice"}) for _ in range(5)))
    assert calls["n"] == 1
    assert all(r == results[0] for r in results)
    results[0][0].title = "mine"
    assert results[1][0].title == "a1", "each waiter gets its own copy"


async def test_redis_cache_shared_by_two_processes(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    cache_a, cache_b = RedisCache(url, prefix), RedisCache(url, prefix)  # two "processes"
    try:
        reader, writer = Docs(ROWS), Docs()
        writer.backend = reader.backend
        reader.cache, writer.cache = cache_a, cache_b
        calls = counting(reader)
        assert [d.id for d in await reader.list()] == [1, 2, 3]
        assert [d.id for d in await writer.list()] == [1, 2, 3]
        assert (cache_b.hits, cache_a.misses, calls["n"]) == (1, 1, 1)
        hit = await writer.list()
        hit[0].title = "mutated"
        await writer.update(1, {"title": "new"})  # INCR seen by the other process
        n = calls["n"]
        assert [d.title for d in await reader.list()] == ["new", "a2", "b1"]
        assert calls["n"] == n + 1
        # The stored form is JSON, not pickle.
        keys = [k async for k in cache_a.client.scan_iter(match=f"{prefix}e:*")]
        assert keys
        raw = await cache_a.client.get(keys[0])
        assert raw.startswith((b"[", b"{", b"null", b"0", b"1", b"2", b"3"))
    finally:
        await cache_a.aclose()
        await cache_b.aclose()


def test_plain_codec_round_trips_exactly() -> None:
    value = [
        {"a": 1, "b": 1.0, "c": decimal.Decimal("1.10"), "$x": None, "t": (1, "x")},
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        datetime.date(2024, 1, 2),
        b"\x00\xff",
        float("inf"),
        True,
    ]
    back = load_plain(dump_plain(value))
    assert back == value
    assert type(back[0]["b"]) is float and type(back[0]["c"]) is decimal.Decimal


# -- MongoDB and Redis backends ------------------------------------------------------------


class LiveDocs(ConnectedRepo[Doc, Doc, DocUpdate, dict[str, Any], str]):
    model = Doc
    create_model = Doc
    update_model = DocUpdate
    metadata = Docs.metadata


@pytest.fixture(params=["mongo", "redis"])
def store(request: pytest.FixtureRequest, redis_prefix: tuple[str, str]) -> Callable[[], Any]:
    """Makes backends over one store (a fresh Mongo database, or one Redis key prefix): two
    of them are two processes' connections to the same rows."""
    if request.param == "mongo":
        url, name = request.getfixturevalue("mongo_db")
        return lambda: MongoBackend(url, name)
    url, prefix = redis_prefix
    return lambda: RedisBackend(url, pattern="doc:{id}", model=Doc, prefix=f"{prefix}rows:")


@pytest.fixture(params=["memory", "redis"])
async def live_pair(
    request: pytest.FixtureRequest, store: Callable[[], Any], redis_prefix: tuple[str, str]
) -> AsyncIterator[tuple[LiveDocs, LiveDocs, LiveDocs]]:
    """(reader, writer, truth): reader and writer on separate backends sharing a cache (one
    MemoryCache, or two RedisCache objects on one prefix: two processes), truth uncached."""
    backends = [store(), store(), store()]
    caches: list[Any] = []
    if request.param == "memory":
        shared = MemoryCache()
        caches = [shared, shared]
    else:
        url, prefix = redis_prefix
        caches = [RedisCache(url, f"{prefix}cache:"), RedisCache(url, f"{prefix}cache:")]
    reader, writer, truth = (LiveDocs(b) for b in backends)
    reader.cache, writer.cache = caches
    await truth.bulk_create(ROWS)
    try:
        yield reader, writer, truth
    finally:
        for cache in caches:
            if isinstance(cache, RedisCache):
                await cache.aclose()
        for b in backends:
            await b.close()


@pytest.mark.parametrize("kind", sorted(WRITES))
async def test_live_backends_never_serve_a_stale_read(
    live_pair: tuple[LiveDocs, LiveDocs, LiveDocs], kind: str
) -> None:
    reader, writer, truth = live_pair
    calls = counting(reader)  # type: ignore[arg-type]
    before = (await reader.list({"owner": "alice"}), await reader.count(), await reader.read(1))
    n = calls["n"]
    again = (await reader.list({"owner": "alice"}), await reader.count(), await reader.read(1))
    assert again == before and calls["n"] == n, "the cache is in play: the re-reads are hits"
    await WRITES[kind](writer)  # type: ignore[arg-type]
    after = (await reader.list({"owner": "alice"}), await reader.count(), await reader.read(1))
    assert after == (
        await truth.list({"owner": "alice"}),
        await truth.count(),
        await truth.read(1),
    )
    assert after != before, f"{kind} should have changed something the reads see"


async def test_live_backends_keep_principals_apart(
    live_pair: tuple[LiveDocs, LiveDocs, LiveDocs],
) -> None:
    reader, writer, _ = live_pair
    reader.acl = writer.acl = ACL(RULES, lambda user: ROLES.get(user, []))
    calls = counting(reader)  # type: ignore[arg-type]
    for _ in range(2):  # misses, then hits: each principal gets only its own entries
        n = calls["n"]
        assert {d.owner for d in await reader.list(user_id="alice")} == {"alice"}
        assert {d.owner for d in await reader.list(user_id="bob")} == {"bob"}
        assert await reader.count(user_id="alice") == 2
        assert await reader.count(user_id="bob") == 1
        assert await reader.read(1, user_id="bob") is None
        assert (await reader.read(1, user_id="alice")) is not None
        assert await reader.distinct("title", user_id="bob") == ["b1"]
        assert [d.salary for d in await reader.list(user_id="alice")] == [None, None]
        assert [d.salary for d in await reader.list(user_id="root")] == [100, 200, 900]
    assert calls["n"] == n, "the second round is served from the cache"
    await writer.create({"id": 7, "owner": "bob", "title": "b2"}, user_id="bob")
    assert {d.title for d in await reader.list(user_id="bob")} == {"b1", "b2"}
    assert {d.owner for d in await reader.list(user_id="alice")} == {"alice"}
    assert await reader.count(user_id="root") == 4
