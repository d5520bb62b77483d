"""MemoryResource: named lists of dicts (the seed's in-memory data) as a resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..introspect.memory import inspect_records
from ..schema import CollectionSpec, Snapshot, SourceInfo
from .base import MaterializedResource


class MemoryResource(MaterializedResource):
    """``collections``: collection name → records (dicts keyed by source names)."""

    source_kind = "memory"

    def __init__(
        self,
        collections: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        name: str = "memory",
        sample_docs: int | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.collections = {k: list(v) for k, v in collections.items()}
        self.sample_docs = sample_docs

    def _inspect(self) -> Snapshot:
        specs: list[CollectionSpec] = []
        for collection in sorted(self.collections):
            snap = inspect_records(
                self.collections[collection],
                name=self.name,
                collection=collection,
                sample_docs=self.sample_docs,
            )
            specs.extend(snap.collections)
        return Snapshot(source=SourceInfo(name=self.name, kind="memory"), collections=tuple(specs))

    def rows(self, collection: str) -> Iterable[Mapping[str, Any]]:
        return self.collections[collection]


__all__ = ["MemoryResource"]
