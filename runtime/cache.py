"""Read cache for repos: TTL entries keyed by query and principal scope, generation-invalidated.

A repo reads through the cache when ``RepoMetadata.cache_enabled`` is set (then one
:class:`MemoryCache` per backend object, shared by every repo on that backend) or when a cache
is assigned explicitly (``repo.cache = RedisCache(url, prefix)``; every repo given the same
cache must read the same database, since its collections are named only by namespace and name).

Correctness rests on three rules:

- The key holds everything that shapes the result: repo model, collection, operation, the
  parsed query *after* the principal's row rule was merged in, the principal and its hidden
  fields — so one principal's rows are never served to another.
- Each collection has a generation counter, read before the backend call and part of the key;
  every write bumps it (after the write, also when the write fails).  A result computed
  concurrently with a write is stored under the old generation and never served again.
- Values are stored as JSON bytes (never pickle) and decoded into fresh objects on every hit,
  so a caller mutating a result cannot change what the next caller gets.
- While the backend says a transaction is open (``backend.in_transaction()``: for any task on
  SQLite and the memory backend, whose state is shared; for the task holding it on PostgreSQL
  and MongoDB) reads neither read nor fill the cache: they may see rows the block wrote, which
  a rollback would make rows that never existed.  Every collection written inside an
  ``async with repo.transaction():`` block is invalidated again when the block ends (commit or
  rollback), since the bump right after each write preceded the commit; writes inside blocks
  opened on the backend directly (``backend.transaction()``) get only that first bump.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import decimal
import hashlib
import json
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .errors import ConfigurationError

Clock = Callable[[], float]


class Uncacheable(Exception):
    """A value the JSON codec cannot represent exactly; the result is returned uncached."""


class Cache:
    """Base of the cache backends: bytes by key with a TTL, plus per-collection generations."""

    #: Seconds an entry lives; ``None``: ``RepoMetadata.cache_ttl`` of the repo storing it.
    ttl: float | None = None

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        # Single flight: one backend call per key in this process while a miss is in flight.
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}

    async def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        raise NotImplementedError

    async def generation(self, collection: str) -> int:
        raise NotImplementedError

    async def invalidate(self, collection: str) -> None:
        """Bump ``collection``'s generation: every entry cached for it becomes unreachable."""
        raise NotImplementedError

    async def fetch(
        self, key: str, ttl: float, compute: Callable[[], Awaitable[bytes | None]]
    ) -> tuple[bytes | None, bool]:
        """(stored bytes, hit?) for ``key``; on a miss ``compute`` runs once per key even
        when several callers miss together (``None`` from it: not cacheable)."""
        found = await self.get(key)
        if found is not None:
            self.hits += 1
            return found, True
        pending = self._inflight.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending), True
        self.misses += 1
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._inflight[key]
        future.set_result(value)
        if value is not None:
            await self.set(key, value, ttl)
        return value, False


class MemoryCache(Cache):
    """In-process cache: at most ``max_entries`` entries, least recently used evicted first."""

    def __init__(
        self, max_entries: int = 1024, *, ttl: float | None = None, clock: Clock = time.monotonic
    ) -> None:
        super().__init__()
        if max_entries < 1:
            raise ConfigurationError(f"MemoryCache: max_entries must be >= 1, got {max_entries}")
        self.max_entries = max_entries
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._generations: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._entries[key] = (self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def generation(self, collection: str) -> int:
        return self._generations.get(collection, 0)

    async def invalidate(self, collection: str) -> None:
        self._generations[collection] = self._generations.get(collection, 0) + 1


class RedisCache(Cache):
    """Cache shared by several processes through Redis: entries expire server-side (``PX``),
    generations are ``INCR`` counters, so a write in one process invalidates all of them."""

    def __init__(self, url: str, prefix: str = "xrepo:cache:", *, ttl: float | None = None):
        super().__init__()
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - redis is a declared extra
            from .errors import MissingDriverError

            raise MissingDriverError("RedisCache needs the 'redis' package") from exc
        self.prefix = prefix
        self.ttl = ttl
        self.client: Any = aioredis.from_url(url)

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self.client.get(f"{self.prefix}e:{key}")
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.client.set(f"{self.prefix}e:{key}", value, px=max(1, int(ttl * 1000)))

    async def generation(self, collection: str) -> int:
        value = await self.client.get(f"{self.prefix}g:{collection}")
        return 0 if value is None else int(value)

    async def invalidate(self, collection: str) -> None:
        await self.client.incr(f"{self.prefix}g:{collection}")

    async def aclose(self) -> None:
        await self.client.aclose()


class _OpenTransactions:
    """``repo.transaction()`` blocks open on one backend, and what was written inside them."""

    def __init__(self) -> None:
        self.depth = 0
        self.written: set[tuple[Cache, str]] = set()


#: Keyed by backend object: every repo on it joins its transaction.
_OPEN: weakref.WeakKeyDictionary[Any, _OpenTransactions] = weakref.WeakKeyDictionary()


def _open_state(backend: Any) -> _OpenTransactions | None:
    try:
        return _OPEN.get(backend)
    except TypeError:  # a backend without weak references: its blocks are not tracked
        return None


def in_transaction(backend: Any) -> bool:
    """Whether reads on ``backend`` may now see uncommitted rows (they bypass the cache): the
    backend's own ``in_transaction()`` — every task on SQLite's and the memory backend's shared
    state, the task holding the transaction on PostgreSQL and MongoDB — so blocks opened with
    ``backend.transaction()`` count too."""
    check = getattr(backend, "in_transaction", None)
    return check is not None and bool(check())


def written_in_transaction(backend: Any, cache: Cache, collection: str) -> None:
    """Remember a write inside an open block: ``collection`` is invalidated when it ends."""
    state = _open_state(backend)
    if state is not None and state.depth > 0:
        state.written.add((cache, collection))


@contextlib.asynccontextmanager
async def tracked_transaction(
    backend: Any, block: contextlib.AbstractAsyncContextManager[None]
) -> AsyncIterator[None]:
    """``block`` (the backend's transaction) marked open for the cache; when it ends —
    committed or rolled back — the collections written inside are invalidated."""
    try:
        state = _OPEN.get(backend)
        if state is None:
            state = _OPEN[backend] = _OpenTransactions()
    except TypeError:
        async with block:
            yield
        return
    state.depth += 1
    try:
        async with block:
            yield
    finally:
        state.depth -= 1
        # Every block's end (not only the outermost): a concurrent task's block may outlive
        # this one, and an extra bump only costs misses.
        written = list(state.written)
        if state.depth == 0:
            state.written.clear()
        for cache, collection in written:
            await cache.invalidate(collection)


def cache_key(*parts: Any) -> str:
    """A fixed-length key from the reprs of ``parts`` (AST nodes and values have exact,
    deterministic reprs; an object with an identity-based repr only costs a miss)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


# -- plain values (count, distinct, aggregate results) as tagged JSON ---------------------------
def _enc(value: Any) -> Any:
    exact = type(value)
    # Exact types: a subclass (an enum, a bool-like) would come back as its base.
    if value is None or exact is bool or exact is str or exact is int:
        return value
    if exact is float:
        return {"$f": repr(value)}  # keeps nan / inf exact
    if exact is list:
        return [_enc(v) for v in value]
    if exact is dict:
        if all(isinstance(k, str) for k in value):
            return {"$o": {k: _enc(v) for k, v in value.items()}}
        raise Uncacheable(f"dict with non-str keys: {sorted(map(repr, value))[:3]}")
    if exact is datetime.datetime:
        return {"$dt": value.isoformat()}
    if exact is datetime.date:
        return {"$d": value.isoformat()}
    if exact is datetime.time:
        return {"$t": value.isoformat()}
    if exact is datetime.timedelta:
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if exact is decimal.Decimal:
        return {"$dec": str(value)}
    if exact is uuid.UUID:
        return {"$u": str(value)}
    if exact is bytes:
        return {"$b": base64.b64encode(value).decode()}
    if exact is tuple:
        return {"$tu": [_enc(v) for v in value]}
    raise Uncacheable(f"no exact JSON form for {exact.__name__}")


def _dec(value: Any) -> Any:
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((tag, body),) = value.items()
    match tag:
        case "$o":
            return {k: _dec(v) for k, v in body.items()}
        case "$f":
            return float(body)
        case "$dt":
            return datetime.datetime.fromisoformat(body)
        case "$d":
            return datetime.date.fromisoformat(body)
        case "$t":
            return datetime.time.fromisoformat(body)
        case "$td":
            return datetime.timedelta(days=body[0], seconds=body[1], microseconds=body[2])
        case "$dec":
            return decimal.Decimal(body)
        case "$u":
            return uuid.UUID(body)
        case "$b":
            return base64.b64decode(body)
        case "$tu":
            return tuple(_dec(v) for v in body)
    raise ValueError(f"cache: unknown tag {tag!r}")


def dump_plain(value: Any) -> bytes:
    """JSON bytes for a plain value; :class:`Uncacheable` when it has no exact form."""
    return json.dumps(_enc(value), separators=(",", ":")).encode()


def load_plain(data: bytes) -> Any:
    return _dec(json.loads(data))


__all__ = [
    "Cache",
    "MemoryCache",
    "RedisCache",
    "Uncacheable",
    "cache_key",
    "dump_plain",
    "in_transaction",
    "load_plain",
    "tracked_transaction",
    "written_in_transaction",
]
