"""MongoResource: one MongoDB database, inspected by sampling, queried in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.mongo import MongoBackend
from ..introspect.mongo import inspect_mongo_async
from ..introspect.redis import safe_url
from ..schema import Snapshot
from .base import ServerResource


class MongoResource(ServerResource):
    """``url`` (``mongodb://...``) and ``database`` (default: the URL's path). Every repo made
    on it shares one :class:`MongoBackend` (one client)."""

    _backend: MongoBackend

    materialized = False
    source_kind = "mongo"

    def __init__(
        self,
        url: str,
        database: str | None = None,
        *,
        name: str | None = None,
        include: Sequence[str] = ("*",),
        exclude: Sequence[str] = (),
        sample_size: int = 1000,
        full_scan: bool = False,
        **backend_options: Any,
    ) -> None:
        super().__init__()
        self.url = url
        self.database = database
        self.name = name or database or "mongo"
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.sample_size = sample_size
        self.full_scan = full_scan
        self._backend = MongoBackend(url, database, **backend_options)

    async def _discover(self) -> Snapshot:
        return await inspect_mongo_async(
            self.url,
            name=self.name,
            database=self.database,
            include=self.include,
            exclude=self.exclude,
            sample_size=self.sample_size,
            full_scan=self.full_scan,
        )

    def backend(self) -> MongoBackend:
        return self._backend

    async def validate_connection(self) -> bool:
        try:
            await self._backend.connect()
            await self._backend.client.admin.command("ping")
        except Exception:  # refused, auth, bad URL: the driver's errors mean unreachable
            return False
        return True

    def __repr__(self) -> str:
        return f"MongoResource({safe_url(self.url)!r}, database={self.database!r})"


__all__ = ["MongoResource"]
