"""CSV and JSON file resources: one collection each (named after the file's stem), inspected
with the standard-library inspectors and read whole into memory with :func:`files.read_rows`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..files import read_rows
from ..introspect.csvfile import DEFAULT_NULL_TOKENS, inspect_csv
from ..introspect.jsonfile import inspect_json
from ..schema import Snapshot
from .base import MaterializedResource


class _FileResource(MaterializedResource):
    def __init__(self, path: str | Path, *, name: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = name or self.path.stem

    def rows(self, collection: str) -> Iterator[dict[str, Any]]:
        snapshot = self._snapshot or self._inspect()
        self._snapshot = snapshot
        spec = snapshot.collection(collection)
        return read_rows(self.path, spec)


class CsvResource(_FileResource):
    source_kind = "csv"

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        null_tokens: Sequence[str] = DEFAULT_NULL_TOKENS,
        sample_rows: int = 10_000,
    ) -> None:
        super().__init__(path, name=name)
        self.null_tokens = tuple(null_tokens)
        self.sample_rows = sample_rows

    def _inspect(self) -> Snapshot:
        snapshot = inspect_csv(
            self.path, name=self.name, null_tokens=self.null_tokens, sample_rows=self.sample_rows
        )
        return snapshot


class JsonResource(_FileResource):
    source_kind = "json"

    def __init__(
        self, path: str | Path, *, name: str | None = None, sample_docs: int = 10_000
    ) -> None:
        super().__init__(path, name=name)
        self.sample_docs = sample_docs

    def _inspect(self) -> Snapshot:
        snapshot = inspect_json(self.path, name=self.name, sample_docs=self.sample_docs)
        return snapshot


__all__ = ["CsvResource", "JsonResource"]
