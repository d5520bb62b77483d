"""PostgreSQL inspector (asyncpg): a database's schemas → snapshot.

The schema comes from a fixed set of catalog queries (:mod:`.postgres_catalog`) — relations,
columns, the closure of their types, constraints, indexes — each taking every relation at once,
read in one REPEATABLE READ, READ ONLY transaction so they agree with each other. The count of
round trips is the same for 5 tables or 5,000; nothing recurses over foreign keys, so deep
chains cannot exhaust the stack. :func:`inspect_postgres_async` opens a second connection
alongside the first and splits the five queries over the two, the second importing the first's
transaction snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``) so that both read
one catalog state; if it cannot (no connection slot, a standby, a pooler), one connection reads
all five. The optional sampling step (``sample_rows > 0``) then reads up
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fnmatch import fnmatchcase
from types import ModuleType
from typing import Any, Protocol, cast
from urllib.parse import unquote, urlsplit

from ..schema import (
    CollectionSpec,
    CollectionStats,
    FieldStats,
    LogicalType,
    Snapshot,
)
from .base import InspectError, Progress, synchronous
from .infer import FieldAccumulator
from .postgres_build import Catalog, build_collection, build_snapshot
from .postgres_catalog import (
    COLUMNS_SQL,
    CONSTRAINTS_SQL,
    EXPORT_SNAPSHOT_SQL,
    INDEXES_SQL,
    RELATIONS_SQL,
    TYPES_SQL,
    import_snapshot_sql,
    sample_sql,
)
from .postgres_types import PgType, TypeMapper

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


async def _connect_quietly(asyncpg: ModuleType, url: str) -> Any:
    try:
        return await _connect(asyncpg, url)
    except InspectError:
        return None


class _Connections:
    """The connections :func:`inspect_postgres_async` opened, closed as soon as they are done
    with: closing waits for the server to end its backend, a wait that overlaps the build when
    it is started before it."""

    def __init__(self, conn: Any, helper: Any) -> None:
        self.open = [c for c in (conn, helper) if c is not None]
        self.closing: list[asyncio.Task[None]] = []

    def release(self, *conns: Any) -> None:
        for c in conns:
            if c in self.open:
                self.open.remove(c)
                self.closing.append(asyncio.ensure_future(c.close()))

    async def close(self) -> None:
        self.release(*self.open)
        for outcome in await asyncio.gather(*self.closing, return_exceptions=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome


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
    # The helper connection is opened alongside (no added latency) and is optional: if it
    # cannot be had, the catalog is read on one connection.
    opened = await asyncio.gather(
        _connect(asyncpg, dsn), _connect_quietly(asyncpg, dsn), return_exceptions=True
    )
    conn, helper = opened
    cancelled = isinstance(helper, BaseException) and not isinstance(helper, Exception)
    if isinstance(conn, BaseException) or cancelled:
        # The main connection failed, or the helper's connect was cancelled: close what opened.
        for opened_conn in (conn, helper):
            if opened_conn is not None and not isinstance(opened_conn, BaseException):
                await opened_conn.close()
        raise conn if isinstance(conn, BaseException) else helper
    if isinstance(helper, BaseException):
        helper = None  # only the optional helper failed: one connection reads everything
    owned = _Connections(conn, helper)

    def read_done() -> None:
        owned.release(helper, *([conn] if sample_rows <= 0 else []))

    try:
        return await _inspect(
            conn,
            name=name,
            schemas=schemas,
            include=include,
            exclude=exclude,
            sample_rows=sample_rows,
            progress=progress,
            helper=helper,
            read_done=read_done,
        )
    except asyncpg.PostgresError as exc:
        raise InspectError(
            f"PostgreSQL {describe_url(dsn)}: catalog query failed: {_redact(str(exc), dsn)}"
        ) from None
    finally:
        await owned.close()


inspect_postgres = synchronous(inspect_postgres_async)


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
    helper: CatalogConnection | None = None,
) -> Catalog:
    """Five queries, whatever the number of relations. With a ``helper`` (a second connection
    reading the same snapshot as ``conn``) they run as two chains at once, of about equal
    length: ``conn`` reads the columns (the one result that grows with the column count),
    their types and the indexes; the helper the relations, then their constraints."""
    if helper is None:
        relations, oids = _choose(await conn.fetch(RELATIONS_SQL, list(schemas)), include, exclude)
        if not oids:
            return Catalog(relations=relations)
        columns, types, indexes = await _read_columns(conn, schemas)
        constraints = await conn.fetch(CONSTRAINTS_SQL, oids)
    else:
        # Both chains finish before either result is used or an error is raised: the helper
        # is never left mid-query (its owner closes it next).
        chains = await asyncio.gather(
            _read_columns(conn, schemas),
            _read_relations_and_constraints(helper, schemas, include, exclude),
            return_exceptions=True,
        )
        for chain in chains:
            if isinstance(chain, BaseException):
                raise chain
        (columns, types, indexes), (relations, constraints) = cast(
            "tuple[tuple[list[Any], list[Any], list[Any]], tuple[list[Any], list[Any]]]", chains
        )
    catalog = Catalog(relations=relations)
    catalog.add(catalog.columns, columns)
    catalog.set_types(PgType.from_row(r) for r in types)
    catalog.add(catalog.constraints, constraints)
    catalog.add(catalog.indexes, indexes)
    return catalog


def _choose(
    relations: list[Any], include: Sequence[str], exclude: Sequence[str]
) -> tuple[list[Any], list[int]]:
    """The relations the globs keep, and their oids."""
    chosen = [r for r in relations if _chosen(r, include, exclude)]
    return chosen, [int(r["oid"]) for r in chosen]


async def _read_columns(
    conn: CatalogConnection, schemas: Sequence[str]
) -> tuple[list[Any], list[Any], list[Any]]:
    """The columns, the types they use (by the distinct (type, typmod) pairs), the indexes."""
    columns = await conn.fetch(COLUMNS_SQL, list(schemas))
    if not columns:  # no columns, no indexes
        return columns, [], []
    pairs = sorted({(c[3], c[4]) for c in columns})
    types = await conn.fetch(TYPES_SQL, [p[0] for p in pairs], [p[1] for p in pairs])
    return columns, types, await conn.fetch(INDEXES_SQL, list(schemas))


async def _read_relations_and_constraints(
    conn: CatalogConnection,
    schemas: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
) -> tuple[list[Any], list[Any]]:
    relations, oids = _choose(await conn.fetch(RELATIONS_SQL, list(schemas)), include, exclude)
    if not oids:
        return relations, []
    return relations, await conn.fetch(CONSTRAINTS_SQL, oids)


async def _share_snapshot(conn: CatalogConnection, helper: Any) -> Any:
    """``helper`` in a REPEATABLE READ, READ ONLY transaction on ``conn``'s exported snapshot —
    every catalog query on either connection sees one state — or None when that cannot be
    had (a standby cannot export; a pooler may route the helper elsewhere): then ``conn``
    reads alone. The helper's transaction ends when its owner closes it."""
    rows = await conn.fetch(EXPORT_SNAPSHOT_SQL)
    snapshot_id = rows[0][0] if rows else None
    if snapshot_id is None:
        return None
    try:
        await helper.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
            + import_snapshot_sql(str(snapshot_id))
        )
    except Exception:
        return None
    return helper


async def inspect_connection(
    conn: CatalogConnection,
    *,
    name: str,
    schemas: Sequence[str] = ("public",),
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    sample_rows: int = 1000,
    progress: Progress | None = None,
    helper: Any = None,
) -> Snapshot:
    """:func:`inspect_postgres_async` over a connection the caller owns (left open).

    ``helper``, optional, is a second idle asyncpg connection to the same database (also the
    caller's, to close afterwards: its transaction is left open): the catalog queries are then
    split over both, on one exported snapshot. It is used only when this function opens the
    transaction on ``conn`` itself."""
    return await _inspect(
        conn,
        name=name,
        schemas=schemas,
        include=include,
        exclude=exclude,
        sample_rows=sample_rows,
        progress=progress,
        helper=helper,
        read_done=None,
    )


async def _inspect(
    conn: CatalogConnection,
    *,
    name: str,
    schemas: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    sample_rows: int,
    progress: Progress | None,
    helper: Any,
    read_done: Callable[[], None] | None,
) -> Snapshot:
    """``read_done``, if given, is told when the catalog has been read (the helper, and unless
    sampling follows ``conn``, are then no longer used)."""
    warnings: list[str] = []
    with _collector_paused():
        transaction = getattr(conn, "transaction", None)
        if transaction is not None and not _in_transaction(conn):
            async with transaction(isolation="repeatable_read", readonly=True):
                shared = await _share_snapshot(conn, helper) if helper is not None else None
                catalog = await read_catalog(conn, schemas, include, exclude, shared)
        else:
            catalog = await read_catalog(conn, schemas, include, exclude)
        if read_done is not None:
            read_done()
            await asyncio.sleep(0)  # the closes send their Terminate before the build
        relations = catalog.relations
        collections = _build(catalog, warnings)
        del catalog  # its rows are garbage before the collector runs again
        if sample_rows <= 0:
            if progress is not None:
                progress.update(0, len(collections))
                progress.update(len(collections), len(collections))
            return build_snapshot(name, collections, warnings)
    total = len(collections)
    if progress is not None:
        progress.update(0, total)
    for done, relation in enumerate(relations, start=1):
        if relation["relkind"] != "f":  # a foreign table's rows live on another server
            collections[done - 1] = await _sample(
                conn, collections[done - 1], sample_rows, warnings
            )
        if progress is not None:
            progress.update(done, total)
    with _collector_paused():
        return build_snapshot(name, collections, warnings)


def _build(catalog: Catalog, warnings: list[str]) -> list[CollectionSpec]:
    mapper = TypeMapper(catalog.types)
    return [build_collection(r, catalog, mapper, warnings) for r in catalog.relations]


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
    """Semantic types and statistics of the text columns, and whether arrays hold NULL
    elements (the catalog cannot say: the item type then admits None), from up to
    ``limit`` rows."""
    text_fields = [f for f in spec.fields if f.type.kind == LogicalType.STR]
    arrays = [f for f in spec.fields if f.type.kind == LogicalType.ARRAY and f.type.items]
    if not text_fields and not arrays:
        return spec
    schema = spec.namespace or "public"
    query = sample_sql(
        schema,
        spec.name,
        [(f.name, f.source_type) for f in text_fields],
        [f.name for f in arrays],
    )
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
    widened = {  # arrays seen holding a NULL element: their items admit null
        f.name: f.type.model_copy(update={"items": items.or_null()})
        for i, f in enumerate(arrays, start=len(text_fields))
        if (items := f.type.items) is not None and any(row[i] for row in rows)
    }
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
        else f.model_copy(update={"type": widened[f.name]})
        if f.name in widened
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
