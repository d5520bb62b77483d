"""Materialized repos computed from other sources (views, aggregates): refresh and freshness.

A :class:`RefreshableRepo` is a :class:`MaterializedRepo` whose rows come from a loader (an
async function re-reading the sources). :meth:`RefreshableRepo.refresh` re-runs it and swaps
the data in at once — readers see the old rows or the new ones, never a mix;
:attr:`RefreshableRepo.freshness` says when that last happened and how many rows each source
gave. Writes to the repo change the materialized copy only, until the next refresh.

An ACL (``view.acl = ACL(rules, resolver)``) and a cache belong to the repo, not to the rows:
both survive a refresh, and the refresh invalidates the cache's entries for the view.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .backends.memory import MemoryBackend
from .errors import ConfigurationError
from .repo import MaterializedRepo
from .repo_plan import plain_row

Row = dict[str, Any]


@dataclass(frozen=True)
class LoadResult:
    rows: list[Row]
    #: Source name → rows fetched from it (after its pushed-down filter).
    source_rows: dict[str, int] = field(default_factory=dict)


Loader = Callable[[], Awaitable[LoadResult]]


@dataclass(frozen=True)
class Freshness:
    refreshed_at: datetime.datetime | None
    #: Seconds since the last refresh (None: never refreshed).
    age_seconds: float | None
    rows: int
    source_rows: Mapping[str, int]
    refresh_count: int
    #: Older than the repo's ``stale_after`` (False when it has none).
    stale: bool

    @property
    def age(self) -> datetime.timedelta | None:
        return None if self.age_seconds is None else datetime.timedelta(seconds=self.age_seconds)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class RefreshableRepo(MaterializedRepo[Any, Any, Any, Any, Any]):
    #: Seconds after which :attr:`freshness` reports ``stale`` and :meth:`ensure_fresh`
    #: refreshes (None: never stale).
    stale_after: float | None = None

    def __init__(self, loader: Loader, *, stale_after: float | None = None) -> None:
        super().__init__(())
        self._loader = loader
        self._refreshed_at: datetime.datetime | None = None
        self._source_rows: dict[str, int] = {}
        self._rows = 0
        self._refresh_count = 0
        if stale_after is not None:
            self.stale_after = stale_after

    async def refresh(self) -> Freshness:
        """Re-read the sources and replace the materialized rows."""
        result = await self._loader()
        validate = self.model.__pydantic_validator__.validate_python
        stored = []
        for position, row in enumerate(result.rows):
            try:
                obj = validate(row)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{self.metadata.name}: row {position} does not fit {self.model.__name__}: "
                    f"{exc}"
                ) from None
            stored.append(plain_row(obj.model_dump(by_alias=True)))
        backend = MemoryBackend()
        backend.insert_now(self.plan().collection, stored)
        self.backend = backend
        # A cache shared across backends (``repo.cache = ...``) still holds the old rows.
        cache = self._active_cache()
        if cache is not None:
            await cache.invalidate(self._cache_collection())
        self._refreshed_at = _now()
        self._source_rows = dict(result.source_rows)
        self._rows = len(stored)
        self._refresh_count += 1
        return self.freshness

    async def ensure_fresh(self) -> Freshness:
        """Refresh when never refreshed or stale."""
        if self._refreshed_at is None or self.freshness.stale:
            return await self.refresh()
        return self.freshness

    @property
    def freshness(self) -> Freshness:
        at = self._refreshed_at
        age = None if at is None else max(0.0, (_now() - at).total_seconds())
        stale = at is None or (
            self.stale_after is not None and age is not None and age > self.stale_after
        )
        return Freshness(
            refreshed_at=at,
            age_seconds=age,
            rows=self._rows,
            source_rows=dict(self._source_rows),
            refresh_count=self._refresh_count,
            stale=stale,
        )


__all__ = ["Freshness", "LoadResult", "Loader", "RefreshableRepo"]
