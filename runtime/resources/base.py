"""The XResource protocol and the plumbing its implementations share.

A resource is a place data lives (a SQLite file, a CSV file, a dict of lists). It connects,
says whether it is reachable, discovers its schema as a :class:`~xrepo.runtime.schema.Snapshot`
and lists its collections, so the factory can make a repo per collection in a loop. The
query/write primitives are its :meth:`backend`: a live backend (SQL pushed down) for databases,
one shared :class:`MemoryBackend` for sources that are read whole into memory (files, lists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from ..backends.base import Backend, BackendBase, Collection
from ..backends.memory import MemoryBackend
from ..errors import ConfigurationError
from ..query.fields import plain
from ..schema import Snapshot


@runtime_checkable
class XResource(Protocol):
    #: Names the resource in errors and in snapshots (``SourceInfo.name``).
    name: str
    #: Rows are loaded into memory (MaterializedRepo) rather than queried in place.
    materialized: bool

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def validate_connection(self) -> bool:
        """True when the resource can be reached and read (never raises for that)."""
        ...

    async def discover_schema(self, *, refresh: bool = False) -> Snapshot:
        """The resource's schema (inspected once, again with ``refresh=True``)."""
        ...

    async def list_collections_or_tables(self) -> list[str]: ...

    def backend(self) -> Backend: ...


class ResourceBase(BackendBase):
    """Schema caching, collection lookup and the async context manager."""

    name: str = "resource"
    materialized: bool = False

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None

    def _inspect(self) -> Snapshot:
        raise NotImplementedError

    async def _discover(self) -> Snapshot:
        """Inspect the source; servers override this with their async inspector."""
        return self._inspect()

    async def discover_schema(self, *, refresh: bool = False) -> Snapshot:
        if self._snapshot is None or refresh:
            self._snapshot = await self._discover()
        return self._snapshot

    async def list_collections_or_tables(self) -> list[str]:
        snapshot = await self.discover_schema()
        return [c.name for c in snapshot.collections]


class ServerResource(ResourceBase):
    """A live server: every repo made on it shares ``self._backend``, whose lifecycle this is."""

    _backend: Any

    def backend(self) -> Any:
        return self._backend

    async def connect(self) -> None:
        await self._backend.connect()

    async def close(self) -> None:
        await self._backend.close()


class MaterializedResource(ResourceBase):
    """A source read whole into one shared :class:`MemoryBackend`, a collection at a time.

    Every repo made on the resource shares the backend, so a write through one repo is seen by
    the others (as with a database); the data is read from the source once per collection.
    """

    materialized = True

    def __init__(self) -> None:
        super().__init__()
        self._memory = MemoryBackend()
        self._loaded: set[str] = set()

    def backend(self) -> MemoryBackend:
        return self._memory

    async def validate_connection(self) -> bool:
        try:
            await self.discover_schema()
        except Exception:
            return False
        return True

    def rows(self, collection: str) -> Iterable[Mapping[str, Any]]:
        """The collection's rows as read from the source, keyed by source names."""
        raise NotImplementedError

    def load(self, collection: str, coll: Collection, model: type[BaseModel]) -> None:
        """Validate the collection's rows with ``model`` into the backend (first time only)."""
        if collection in self._loaded:
            return
        stored = []
        for position, row in enumerate(self.rows(collection)):
            try:
                obj = model.model_validate(row)
            except ValueError as exc:
                raise ConfigurationError(
                    f"resource {self.name!r}, collection {collection!r}, row {position}: "
                    f"does not fit model {model.__name__}: {exc}"
                ) from None
            stored.append({k: plain(v) for k, v in obj.model_dump(by_alias=True).items()})
        self._memory.insert_now(coll, stored)
        self._loaded.add(collection)


__all__ = ["MaterializedResource", "ResourceBase", "XResource"]
