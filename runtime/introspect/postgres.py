"""PostgreSQL inspector (asyncpg): a database's schemas → snapshot.

The schema comes from a fixed set of catalog queries (:mod:`.postgres_catalog`) — relations,
columns, the closure of their types, constraints, indexes — each taking every relation at once,
read in one REPEATABLE READ, READ ONLY transaction so they agree with each other. The count of
round trips is the same for 5 tables or 5,000; nothing recurses over foreign keys, so deep
chains cannot exhaust the stack. The optional sampling step (``sample_rows > 0``) then reads up
to ``sample_rows`` rows of the text columns of each table, one query per table, to find semantic
string types (email, URL, UUID, IP) and per-column statistics; ``sample_rows=0`` skips it.

Output is deterministic: collections sorted by (schema, name), fields in ordinal order,
constraints and indexes by name, warnings sorted; no server version or timestamp is recorded.
Type mapping decisions are listed in :mod:`.postgres_types`, structural ones in
:mod:`.postgres_build`.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fnmatch import fnmatchcase
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from xrepo.runtime.introspect.base import InspectError, Progress
from xrepo.runtime.introspect.infer import FieldAccumulator
from xrepo.runtime.introspect.postgres_build import Catalog, build_collection
from xrepo.runtime.introspect.postgres_catalog import (
    COLUMNS_SQL,
    CONSTRAINTS_SQL,
    INDEXES_SQL,
    RELATIONS_SQL,
    TYPES_SQL,
    sample_sql,
)
from xrepo.runtime.introspect.postgres_types import PgType, TypeMapper
from xrepo.runtime.schema import (
    CollectionSpec,
    CollectionStats,
    FieldStats,
    LogicalType,
    Snapshot,
    SourceInfo,
)

__all__ = [
    "CatalogConnection",
    "describe_url",
    "inspect_connection",
    "inspect_postgres",
    "inspect_postgres_async",
]

_SCHEMES = ("postgresql", "postgres")
_CONNECT_TIMEOUT = 10.0


class CatalogConnection(Protocol):
    """What the inspector needs of a connection (an ``asyncpg.Connection`` has it)."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


def _driver() -> ModuleType:
    try:
        return importlib.import_module("asyncpg")
    except ImportError:
        raise InspectError(
            "PostgreSQL inspection needs asyncpg: pip install 'xrepo[postgres]'"
        ) from None


def describe_url(url: str) -> str:
    """``host:port/database`` for messages: never the user's password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparsable PostgreSQL URL>"
    host = parts.hostname or "localhost"
    if host.startswith("/") or not parts.hostname:
        # a Unix socket directory may come as ?host=/run/postgresql
        for item in parts.query.split("&"):
            if item.startswith("host="):
                host = unquote(item[5:])
    database = unquote(parts.path.lstrip("/")) or (unquote(parts.username or "") or "postgres")
    return f"{host}:{port or 5432}/{database}"


def _normalise(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0].lower()
    if not sep or base not in _SCHEMES:
        raise InspectError(
            f"{describe_url(url) if sep else url!r}: not a PostgreSQL URL; "
            "use postgresql://user@host:5432/database"
        )
    return f"{base}://{rest}"


def _redact(message: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        message = message.replace(password, "***")
    return " ".join(message.split())


async def _connect(asyncpg: ModuleType, url: str) -> Any:
    where = describe_url(url)
    try:
        # JIT-compiling catalog queries costs more than running them (20 ms of 50 at 1,000
        # tables); the server decides by cost estimate, so say no for this session.
        return await asyncpg.connect(
            dsn=url, timeout=_CONNECT_TIMEOUT, server_settings={"jit": "off"}
        )
    except asyncpg.InvalidCatalogNameError:
        raise InspectError(
            f"PostgreSQL {where}: database does not exist; check the URL's database name"
        ) from None
    except asyncpg.PostgresError as exc:
        raise InspectError(f"PostgreSQL {where}: {_redact(str(exc), url)}") from None
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise InspectError(
            f"PostgreSQL {where}: cannot connect ({reason}); is the server running and reachable?"
        ) from None
    except (ValueError, asyncpg.InterfaceError) as exc:
        raise InspectError(
            f"PostgreSQL {where}: invalid connection URL ({_redact(str(exc), url)})"
        ) from None


async def inspect_postgres_async(
    url: str,
    *,
    name: str,
    schemas: Sequence[str] = ("public",),
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    sample_rows: int = 1000,
    progress: Progress | None = None,
) -> Snapshot:
    """Snapshot the tables, partitioned tables, views and materialized views of ``schemas``
    whose ``name`` or ``schema.name`` matches an ``include`` glob and no ``exclude`` glob."""
    asyncpg = _driver()
    dsn = _normalise(url)
    conn = await _connect(asyncpg, dsn)
    try:
        return await inspect_connection(
            conn,
            name=name,
            schemas=schemas,
            include=include,
            exclude=exclude,
            sample_rows=sample_rows,
            progress=progress,
        )
    except asyncpg.PostgresError as exc:
        raise InspectError(
            f"PostgreSQL {describe_url(dsn)}: catalog query failed: {_redact(str(exc), dsn)}"
        ) from None
    finally:
        await conn.close()


def inspect_postgres(
    url: str,
    *,
    name: str,
    schemas: Sequence[str] = ("public",),
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    sample_rows: int = 1000,
    progress: Progress | None = None,
) -> Snapshot:
    """The synchronous entry point (the CLI's): runs :func:`inspect_postgres_async`."""
    box: list[Snapshot] = []

    async def run() -> None:
        # The task must not *return* the snapshot: on Python 3.11, asyncio.run's SIGINT-handler
        # restore formats the main task's repr — result included — which for a 1,000-table
        # snapshot takes longer than the whole inspection.
        box.append(
            await inspect_postgres_async(
                url,
                name=name,
                schemas=schemas,
                include=include,
                exclude=exclude,
                sample_rows=sample_rows,
                progress=progress,
            )
        )

    asyncio.run(run())
    return box[0]


def _chosen(relation: Any, include: Sequence[str], exclude: Sequence[str]) -> bool:
    names = (relation["name"], f"{relation['schema']}.{relation['name']}")
    return any(fnmatchcase(n, p) for n in names for p in include) and not any(
        fnmatchcase(n, p) for n in names for p in exclude
    )


async def read_catalog(
    conn: CatalogConnection,
    schemas: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
) -> Catalog:
    """Five queries, whatever the number of relations."""
    relations = [
        r for r in await conn.fetch(RELATIONS_SQL, list(schemas)) if _chosen(r, include, exclude)
    ]
    catalog = Catalog(relations=relations)
    oids = [int(r["oid"]) for r in relations]
    if not oids:
        return catalog
    columns = await conn.fetch(COLUMNS_SQL, oids)
    catalog.add(catalog.columns, columns)
    type_oids = sorted({int(c["atttypid"]) for c in columns})
    types = await conn.fetch(TYPES_SQL, type_oids)
    catalog.types = {int(r["oid"]): PgType.from_row(r) for r in types}
    catalog.add(catalog.constraints, await conn.fetch(CONSTRAINTS_SQL, oids))
    catalog.add(catalog.indexes, await conn.fetch(INDEXES_SQL, oids))
    return catalog


async def inspect_connection(
    conn: CatalogConnection,
    *,
    name: str,
    schemas: Sequence[str] = ("public",),
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    sample_rows: int = 1000,
    progress: Progress | None = None,
) -> Snapshot:
    """:func:`inspect_postgres_async` over a connection the caller owns (left open)."""
    warnings: list[str] = []
    with _collector_paused():
        transaction = getattr(conn, "transaction", None)
        if transaction is not None and not _in_transaction(conn):
            async with transaction(isolation="repeatable_read", readonly=True):
                catalog = await read_catalog(conn, schemas, include, exclude)
        else:
            catalog = await read_catalog(conn, schemas, include, exclude)
        mapper = TypeMapper(catalog.types)
        collections = [build_collection(r, catalog, mapper, warnings) for r in catalog.relations]
    total = len(collections)
    if progress is not None:
        progress.update(0, total)
    if sample_rows > 0:
        for done, relation in enumerate(catalog.relations, start=1):
            if relation["relkind"] != "f":  # a foreign table's rows live on another server
                collections[done - 1] = await _sample(
                    conn, collections[done - 1], sample_rows, warnings
                )
            if progress is not None:
                progress.update(done, total)
    elif progress is not None:
        progress.update(total, total)
    with _collector_paused():
        return Snapshot(
            source=SourceInfo(name=name, kind="postgres"),
            collections=tuple(sorted(collections, key=lambda c: (c.namespace or "", c.name))),
            warnings=tuple(sorted(set(warnings))),
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the catalog is read and built.

    That is tens of thousands of acyclic records and frozen specs: every generation-2 pass
    re-walks the whole heap (the caller's objects included) and cost a third to half of the
    inspection in a large process. The pause is short and the prior state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _in_transaction(conn: Any) -> bool:
    check = getattr(conn, "is_in_transaction", None)
    return bool(check()) if callable(check) else False


async def _sample(
    conn: CatalogConnection, spec: CollectionSpec, limit: int, warnings: list[str]
) -> CollectionSpec:
    """Semantic types and statistics of the text columns, from up to ``limit`` rows."""
    text_fields = [f for f in spec.fields if f.type.kind == LogicalType.STR]
    if not text_fields:
        return spec
    schema = spec.namespace or "public"
    query = sample_sql(schema, spec.name, [(f.name, f.source_type) for f in text_fields])
    try:
        rows = await conn.fetch(query, limit)
    except _driver().PostgresError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.append(f"{schema}.{spec.name}: not sampled ({first})")
        return spec
    accumulators = [FieldAccumulator() for _ in text_fields]
    for row in rows:
        for index, acc in enumerate(accumulators):
            acc.add(row[index])
    stats: dict[str, FieldStats] = {}
    semantics: dict[str, Any] = {}
    for f, acc in zip(text_fields, accumulators, strict=True):
        if not rows:
            continue
        stats[f.name] = acc.to_stats().model_copy(update={"type_histogram": None})
        semantic = acc.semantic()
        if semantic is not None:
            semantics[f.name] = semantic
    fields = tuple(
        f.model_copy(update={"type": f.type.model_copy(update={"semantic": semantics[f.name]})})
        if f.name in semantics
        else f
        for f in spec.fields
    )
    base = spec.stats or CollectionStats()
    return spec.model_copy(
        update={
            "fields": fields,
            "stats": base.model_copy(update={"sampled": len(rows), "fields": stats}),
        }
    )
