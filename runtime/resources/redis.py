"""RedisResource: the key patterns of one Redis database (hash or JSON-string values).

Each pattern (``cust:{id}``) is a collection. A Redis value holds only text, so the backend of
a pattern decodes it by the row model's field types: :meth:`RedisResource.backend_for` makes
one :class:`RedisBackend` per pattern and model, all on one shared client. Queries other than
by key scan the pattern (bounded by ``max_scan``), see :mod:`xrepo.runtime.backends.redis`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ..backends.redis import RedisBackend
from ..errors import BackendError, ConfigurationError, MissingDriverError
from ..introspect.redis import PatternConfig, inspect_redis_detailed, redis_value_kind, safe_url
from ..schema import Snapshot
from .base import ResourceBase


class RedisResource(ResourceBase):
    """``url``: ``redis://...``; ``prefix``: the keys' common prefix (the collections'
    namespace); ``scan_budget``: keys the inspector examines at most; ``patterns``: declared
    patterns; ``max_scan``: keys a non-key query may scan."""

    materialized = False
    source_kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        prefix: str = "",
        scan_budget: int = 100_000,
        patterns: Sequence[PatternConfig] = (),
        sample_per_pattern: int = 1000,
        max_scan: int = 100_000,
    ) -> None:
        super().__init__()
        self.url = url
        self.name = name or "redis"
        self.prefix = prefix
        self.scan_budget = scan_budget
        self.patterns = tuple(patterns)
        self.sample_per_pattern = sample_per_pattern
        self.max_scan = max_scan
        self._client: Any = None
        self._backends: dict[tuple[str, type[BaseModel] | None], RedisBackend] = {}

    def _redis(self) -> Any:
        if self._client is None:
            try:
                import redis.asyncio as aioredis
            except ImportError:
                raise MissingDriverError(
                    "RedisResource needs redis-py: pip install 'xrepo[redis]'"
                ) from None
            self._client = aioredis.from_url(self.url, decode_responses=False)
        return self._client

    async def _discover(self) -> Snapshot:
        result = await inspect_redis_detailed(
            self.url,
            name=self.name,
            prefix=self.prefix,
            scan_budget=self.scan_budget,
            patterns=self.patterns,
            sample_per_pattern=self.sample_per_pattern,
            client=self._redis(),
        )
        return result.snapshot

    def backend(self) -> RedisBackend:
        """The backend of the only pattern (several patterns: use :meth:`backend_for`)."""
        if self._snapshot is None or len(self._snapshot.collections) != 1:
            raise ConfigurationError(
                f"resource {self.name!r}: a Redis backend serves one key pattern; call "
                "backend_for(pattern, model) (after discover_schema())"
            )
        return self.backend_for(self._snapshot.collections[0].name, None)

    def backend_for(self, collection: str, model: type[BaseModel] | None) -> RedisBackend:
        """The backend of pattern ``collection``, decoding values by ``model``'s types."""
        made = self._backends.get((collection, model))
        if made is not None:
            return made
        kind = "hash"
        if self._snapshot is not None:
            known = {c.name: c for c in self._snapshot.collections}
            if collection in known:
                value_kind = redis_value_kind(known[collection])
                if value_kind not in ("hash", "json"):
                    raise ConfigurationError(
                        f"resource {self.name!r}: pattern {collection!r} holds {value_kind} "
                        "values; only hash and JSON-string patterns can be queried"
                    )
                kind = value_kind
        made = RedisBackend(
            self._redis(),
            pattern=collection,
            kind="json" if kind == "json" else "hash",
            model=model,
            prefix=self.prefix,
            max_scan=self.max_scan,
        )
        self._backends[(collection, model)] = made
        return made

    async def connect(self) -> None:
        try:
            await self._redis().ping()
        except MissingDriverError:
            raise
        except Exception as exc:  # refused, auth, TLS: the server is not usable
            raise BackendError(f"cannot reach Redis at {safe_url(self.url)}: {exc}") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        self._backends.clear()
        if client is not None:
            await client.aclose()

    async def validate_connection(self) -> bool:
        try:
            await self.connect()
        except (BackendError, MissingDriverError):
            return False
        return True

    def __repr__(self) -> str:
        return f"RedisResource({safe_url(self.url)!r}, prefix={self.prefix!r})"


__all__ = ["RedisResource"]
