"""The backend protocol: the few primitives a repo needs, on rows keyed by SOURCE names.

A backend never sees Python field names or models: the repo validates and maps names, parses
filters into the AST (:mod:`xrepo.runtime.query`) and hands over a :class:`Collection`
descriptor plus AST nodes.  Backends compile the AST their own way (predicate, SQL, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from ..query.ast import FieldRef, Node, Query

if TYPE_CHECKING:
    from ..aggregate.engine import Pipeline

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Collection:
    """What a backend needs to know about one collection (built from ``RepoMetadata``)."""

    name: str
    namespace: str | None = None
    #: Source names of the primary-key fields.
    primary_key: tuple[str, ...] = ()
    #: The backend generates the (single) key when a row comes without it.
    autoincrement: bool = False
    #: Source names of each unique constraint besides the primary key.
    unique: tuple[tuple[str, ...], ...] = ()
    #: Source names of every field, in model order.
    fields: tuple[str, ...] = ()
    #: Fields holding lists / objects / untyped values (stored as JSON text in SQL).
    json_fields: frozenset[str] = field(default_factory=frozenset)
    #: Source names of each declared (non-unique) index; the memory backend hashes them.
    indexes: tuple[tuple[str, ...], ...] = ()
    #: Source paths of fields holding MongoDB ObjectIds (``str`` in models, ObjectId stored).
    object_ids: frozenset[tuple[str, ...]] = field(default_factory=frozenset)


@runtime_checkable
class Backend(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """Insert all rows (atomically); return them as stored, generated keys filled in."""
        ...

    async def select(self, coll: Collection, query: Query) -> list[Row]: ...

    async def count(self, coll: Collection, where: Node) -> int: ...

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        """Set ``changes`` on every matching row; return how many matched."""
        ...

    async def delete(self, coll: Collection, where: Node) -> int: ...

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        """Distinct values of ``field`` among matching rows (array items flattened), sorted
        with null first."""
        ...

    async def aggregate(self, coll: Collection, pipeline: Pipeline) -> list[Row]:
        """Run a compiled aggregation pipeline (pushing down what the backend can)."""
        ...


class BackendBase:
    """Lifecycle plumbing (connect, close, async with) shared by backends and resources."""

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = ["Backend", "BackendBase", "Collection", "Row"]
