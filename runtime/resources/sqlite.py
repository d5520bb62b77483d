"""SQLiteResource: a SQLite file, inspected with the standard library, queried in place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..backends.sqlite import SQLiteBackend
from ..errors import XRepoError
from ..introspect.base import InspectError
from ..introspect.sqlite import inspect_sqlite
from ..schema import Snapshot
from .base import ResourceBase


class SQLiteResource(ResourceBase):
    """``path``: the database file; every repo made on it shares one :class:`SQLiteBackend`."""

    materialized = False

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        include: Sequence[str] = ("*",),
        exclude: Sequence[str] = (),
        sample_rows: int = 1000,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = name or self.path.stem
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.sample_rows = sample_rows
        self._backend = SQLiteBackend(self.path)

    def _inspect(self) -> Snapshot:
        snapshot = inspect_sqlite(
            self.path,
            name=self.name,
            sample_rows=self.sample_rows,
            include=self.include,
            exclude=self.exclude,
        )
        return snapshot

    def backend(self) -> SQLiteBackend:
        return self._backend

    async def connect(self) -> None:
        await self._backend.connect()

    async def close(self) -> None:
        await self._backend.close()

    async def validate_connection(self) -> bool:
        if not self.path.is_file():
            return False
        try:
            await self._backend.execute("SELECT count(*) FROM sqlite_master")
        except (XRepoError, InspectError):
            return False
        return True


__all__ = ["SQLiteResource"]
