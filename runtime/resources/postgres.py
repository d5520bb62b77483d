"""PostgresResource: a PostgreSQL database, inspected from its catalog, queried in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.postgres import PostgresBackend
from ..introspect.postgres import describe_url, inspect_postgres_async
from ..schema import Snapshot
from .base import ServerResource


class PostgresResource(ServerResource):
    """``dsn``: a ``postgresql://`` URL. Every repo made on it shares one
    :class:`PostgresBackend` (one pool); ``schemas`` / ``include`` / ``exclude`` choose the
    tables as ``xrepo inspect`` does."""

    _backend: PostgresBackend

    materialized = False
    source_kind = "postgres"

    def __init__(
        self,
        dsn: str,
        *,
        name: str | None = None,
        schemas: Sequence[str] = ("public",),
        include: Sequence[str] = ("*",),
        exclude: Sequence[str] = (),
        sample_rows: int = 1000,
        **backend_options: Any,
    ) -> None:
        super().__init__()
        self.dsn = dsn
        self.name = name or "postgres"
        self.schemas = tuple(schemas)
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.sample_rows = sample_rows
        self._backend = PostgresBackend(dsn, **backend_options)

    async def _discover(self) -> Snapshot:
        return await inspect_postgres_async(
            self.dsn,
            name=self.name,
            schemas=self.schemas,
            include=self.include,
            exclude=self.exclude,
            sample_rows=self.sample_rows,
        )

    def backend(self) -> PostgresBackend:
        return self._backend

    async def validate_connection(self) -> bool:
        try:
            async with self._backend.connection() as conn:
                await conn.fetchval("SELECT 1")
        except Exception:  # refused, auth, missing database: asyncpg's errors mean unreachable
            return False
        return True

    def __repr__(self) -> str:
        return f"PostgresResource({describe_url(self.dsn)!r}, name={self.name!r})"


__all__ = ["PostgresResource"]
