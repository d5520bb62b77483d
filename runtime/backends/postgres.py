"""PostgresBackend over an asyncpg pool (the ``postgres`` extra), everything pushed down.

Filters, sorts, paging, keyset cursors, counts and distinct compile to SQL through the shared
compiler (:mod:`xrepo.runtime.sql`, :class:`~xrepo.runtime.sql.postgres.PostgresDialect`);
pipelines push their longest SQL-expressible prefix down (:mod:`~xrepo.runtime.aggregate.sqlpush`)
and ``$lookup`` fetches only the foreign rows whose key is among the local values
(``= ANY($1)``).  Writes: one ``INSERT … RETURNING`` per row for small batches, ``COPY`` into a
temporary table then ``INSERT … SELECT … RETURNING *`` for large ones; updates and deletes are
one statement each.

Transactions: ``async with backend.transaction():`` binds one pooled connection to the current
task (a context variable) — every repo on this backend joins it until the block ends; nested
blocks are savepoints.  Outside a transaction each call borrows a connection from the pool.

Errors: unique / foreign-key / not-null / check violations become
:class:`~xrepo.runtime.errors.UniqueViolation` … with the constraint, table and column named;
other database errors become :class:`~xrepo.runtime.errors.BackendError` (or
:class:`~xrepo.runtime.errors.QueryError` for bad input such as an invalid regex).

Codecs on every connection: ``json``/``jsonb`` ↔ dict/list (and scalars), session time zone UTC
(aware datetimes come back in UTC); numeric ↔ Decimal, arrays, uuid and interval are asyncpg's.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import decimal
import importlib
import json
import operator
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from ..bulk_rows import ColumnRows, gc_paused
from ..errors import (
    BackendError,
    CheckViolation,
    ConfigurationError,
    ConstraintError,
    ForeignKeyViolation,
    MissingDriverError,
    NotNullViolation,
    QueryError,
    UniqueViolation,
    XRepoError,
)
from ..query.ast import FieldRef, Node, Query
from ..sql import compiler
from ..sql.postgres import PostgresDialect, dumps
from ..trusted_rows import ColumnTypes
from .base import BackendBase, Collection, Row
from .postgres_copy import (
    CATALOG_SQL,
    CopyTable,
    JsonbText,
    NotKnowable,
    copy_table,
    dict_maker,
    direct_plan,
    normalize_columns,
    stored_rows,
)

if TYPE_CHECKING:
    from ..aggregate.engine import Pipeline

#: Rows per ``INSERT … RETURNING`` below which COPY is not worth its temporary table.
COPY_THRESHOLD = 64
#: Keys per ``= ANY($1)`` lookup query.
LOOKUP_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What the backend learns about a table once (one catalog query), for the dialect."""

    columns: tuple[str, ...]
    arrays: frozenset[str]
    json_columns: frozenset[str]
    dialect: PostgresDialect
    #: Columns of type json or jsonb, and the SELECT list reading them as text (decoded in
    #: one ``json.loads`` per result instead of one per value).
    any_json: tuple[str, ...] = ()
    select_list: str = "*"
    #: Column → (Python type asyncpg decodes every non-NULL value into, or None when it
    #: varies; NULL possible) — lets the repo skip re-validating values (:mod:`trusted_rows`).
    types: ColumnTypes = field(default_factory=dict)
    #: Composite columns (or arrays of them): asyncpg returns Records, the models want dicts.
    composites: tuple[str, ...] = ()
    #: money and money[] columns: no binary codec in asyncpg, so COPY stages them as
    #: numeric (numeric[]).
    money: frozenset[str] = frozenset()


#: pg_catalog base types asyncpg (with this backend's codecs) decodes into exactly one type.
_DRIVER_TYPES: dict[str, type] = {
    "int2": int,
    "int4": int,
    "int8": int,
    "text": str,
    "varchar": str,
    "bpchar": str,
    "name": str,
    "bool": bool,
    "float4": float,
    "float8": float,
    "numeric": decimal.Decimal,
    "date": datetime.date,
    "timestamp": datetime.datetime,
    "timestamptz": datetime.datetime,
    "time": datetime.time,
    "timetz": datetime.time,
    "interval": datetime.timedelta,
    "bytea": bytes,
}


def _driver_type(typname: str, typtype: str, in_catalog: bool) -> type | None:
    if typtype == "e":
        return str  # enum labels arrive as text
    return _DRIVER_TYPES.get(typname) if in_catalog and typtype == "b" else None


def _driver() -> Any:
    try:
        return importlib.import_module("asyncpg")
    except ImportError:
        raise MissingDriverError(
            "PostgresBackend needs asyncpg: pip install 'xrepo[postgres]'"
        ) from None


def _jsonb_encode(value: Any) -> bytes:
    if type(value) is JsonbText:  # encoded by the direct COPY path
        return value
    return b"\x01" + dumps(value).encode()


def _jsonb_decode(data: bytes) -> Any:
    return json.loads(data[1:])


def _json_encode(value: Any) -> bytes:
    return dumps(value).encode()


async def _init_connection(conn: Any) -> None:
    # Binary codecs: COPY (copy_records_to_table) only speaks the binary format.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=_json_encode, decoder=json.loads, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "money", encoder=_money_encode, decoder=str, schema="pg_catalog", format="text"
    )


class PostgresBackend(BackendBase):
    """``PostgresBackend(dsn)`` (a pool of ``min_size``..``max_size`` connections made on first
    use) or ``PostgresBackend(pool=pool)`` (an asyncpg pool you own; its connections need the
    JSON codecs: create it with ``init=PostgresBackend.init_connection``)."""

    init_connection = staticmethod(_init_connection)

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: Any = None,
        min_size: int = 1,
        max_size: int = 10,
        **connect_kwargs: Any,
    ) -> None:
        if (dsn is None) == (pool is None):
            raise ConfigurationError("PostgresBackend needs exactly one of dsn= or pool=")
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self.connect_kwargs = connect_kwargs
        self.dialect = PostgresDialect()
        self._pool: Any = pool
        self._owns_pool = pool is None
        self._tables: dict[tuple[str | None, str], TableInfo] = {}
        self._copy_tables: dict[tuple[str | None, str], CopyTable] = {}
        self._bound: contextvars.ContextVar[Any] = contextvars.ContextVar(
            f"xrepo_pg_conn_{id(self)}", default=None
        )

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        if self._pool is not None:
            return
        asyncpg = _driver()
        settings = {"timezone": "UTC", **self.connect_kwargs.pop("server_settings", {})}
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                init=_init_connection,
                server_settings=settings,
                **self.connect_kwargs,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            where = _safe_dsn(self.dsn)
            raise BackendError(f"cannot connect to PostgreSQL ({where}): {exc}") from None

    async def close(self) -> None:
        if self._pool is not None and self._owns_pool:
            pool, self._pool = self._pool, None
            await pool.close()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """The task's transaction connection, else one borrowed from the pool."""
        bound = self._bound.get()
        if bound is not None:
            yield bound
            return
        if self._pool is None:
            await self.connect()
        async with self._pool.acquire() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One transaction for everything this task does on this backend inside the block
        (every repo sharing the backend joins it); nested blocks are savepoints.  An exception
        rolls back and propagates."""
        bound = self._bound.get()
        if bound is not None:
            async with bound.transaction():
                yield
            return
        async with self.connection() as conn:
            token = self._bound.set(conn)
            try:
                async with conn.transaction():
                    yield
            finally:
                self._bound.reset(token)

    def in_transaction(self) -> bool:
        """Whether the current task runs inside a ``transaction()`` block."""
        return self._bound.get() is not None

    # -- plumbing ------------------------------------------------------------------------
    async def fetch(self, sql: str, *params: Any) -> list[Any]:
        """Run one statement and return its records (escape hatch for tests and tools)."""
        async with self.connection() as conn:
            try:
                return list(await conn.fetch(sql, *params))
            except Exception as exc:
                raise _wrap(exc, sql) from exc

    async def execute(self, sql: str, *params: Any) -> str:
        async with self.connection() as conn:
            try:
                return str(await conn.execute(sql, *params))
            except Exception as exc:
                raise _wrap(exc, sql) from exc

    def _table(self, coll: Collection) -> str:
        return self.dialect.table(coll.name, coll.namespace)

    async def stats(self, coll: Collection) -> dict[str, Any]:
        """Storage size, planner cardinality estimates (``pg_stats``; a negative n_distinct
        is a fraction of the rows) and per-index scan counts, for ``XRepo.get_statistics``."""
        table = self._table(coll)  # quoted; bound as text and resolved by ::regclass
        size = await self.fetch(
            "SELECT pg_total_relation_size($1::regclass) AS size, c.reltuples AS n"
            " FROM pg_class c WHERE c.oid = $1::regclass",
            table,
        )
        rows = max(float(size[0]["n"]), 0.0) if size else 0.0
        cards: dict[str, int] = {}
        for r in await self.fetch(
            "SELECT s.attname, s.n_distinct FROM pg_stats s"
            " JOIN pg_class c ON c.relname = s.tablename"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname"
            " WHERE c.oid = $1::regclass",
            table,
        ):
            distinct = float(r["n_distinct"])
            cards[str(r["attname"])] = round(-distinct * rows if distinct < 0 else distinct)
        indexes = {
            str(r["indexrelname"]): {"scans": int(r["idx_scan"] or 0)}
            for r in await self.fetch(
                "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes"
                " WHERE relid = $1::regclass",
                table,
            )
        }
        return {
            "storage_bytes": int(size[0]["size"]) if size else None,
            "cardinalities": cards,
            "indexes": indexes,
        }

    def dialect_for(self, coll: Collection) -> PostgresDialect:
        """The dialect knowing ``coll``'s native-array and ``json`` columns (the generic one
        until the table has been used once)."""
        info = self._tables.get((coll.namespace, coll.name))
        return info.dialect if info is not None else self.dialect

    async def table_info(self, coll: Collection) -> TableInfo:
        key = (coll.namespace, coll.name)
        info = self._tables.get(key)
        if info is not None:
            return info
        rows = await self.fetch(
            "SELECT a.attname, t.typcategory = 'A' AS is_array, t.typname = 'json' AS is_json,"
            " t.typname IN ('json', 'jsonb') AS any_json, t.typname, t.typtype::text AS typtype,"
            " t.typnamespace = 'pg_catalog'::regnamespace AS in_catalog, a.attnotnull,"
            " (t.typtype = 'c' OR (t.typcategory = 'A' AND e.typtype = 'c')) AS composite,"
            " CASE WHEN e.typnamespace = 'pg_catalog'::regnamespace THEN e.typname END AS elem"
            " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " LEFT JOIN pg_type e ON e.oid = t.typelem"
            " WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY a.attnum",
            self._table(coll),
        )
        if not rows:
            raise BackendError(f"PostgreSQL: table {self._table(coll)} has no columns")
        arrays = frozenset(r["attname"] for r in rows if r["is_array"])
        jsons = frozenset(r["attname"] for r in rows if r["is_json"])
        q = self.dialect.quote
        any_json = tuple(r["attname"] for r in rows if r["any_json"])
        reads = [_read_expr(q(r["attname"]), r) for r in rows]
        select_list = ", ".join(reads)
        plain = all(expr == q(r["attname"]) for expr, r in zip(reads, rows, strict=True))
        info = TableInfo(
            tuple(r["attname"] for r in rows),
            arrays,
            jsons,
            self.dialect.for_table(arrays, jsons),
            any_json,
            "*" if plain else select_list,
            {
                r["attname"]: (
                    _driver_type(r["typname"], r["typtype"], r["in_catalog"]),
                    not r["attnotnull"],
                )
                for r in rows
            },
            tuple(r["attname"] for r in rows if r["composite"]),
            frozenset(
                r["attname"]
                for r in rows
                if (r["in_catalog"] and r["typname"] == "money") or r["elem"] == "money"
            ),
        )
        self._tables[key] = info
        return info

    def trusted_types(self, coll: Collection) -> ColumnTypes | None:
        """Column types of ``coll`` as asyncpg decodes them (once the table has been used)."""
        info = self._tables.get((coll.namespace, coll.name))
        return info.types if info is not None else None

    async def _dialect(self, coll: Collection) -> PostgresDialect:
        return (await self.table_info(coll)).dialect

    # -- reads ---------------------------------------------------------------------------
    async def select(self, coll: Collection, query: Query, *, lock: bool = False) -> list[Row]:
        info = await self.table_info(coll)
        sql, params = compiler.select(
            info.dialect, self._table(coll), query, info.select_list, lock=lock
        )
        records = await self.fetch(sql, *params)
        if not records:
            return []
        with gc_paused(len(records)):
            rows = _rows_of(records, info)
            del records  # freed inside the pause: no collection rescans them
        return rows

    async def select_for_update(self, coll: Collection, query: Query) -> list[Row]:
        """:meth:`select` locking the rows (``FOR UPDATE``) until the transaction ends: the
        repo reads an audited write's before-images with it, inside the write's transaction,
        so no other transaction changes them before the write (READ COMMITTED)."""
        return await self.select(coll, query, lock=True)

    async def count(self, coll: Collection, where: Node) -> int:
        sql, params = compiler.count(await self._dialect(coll), self._table(coll), where)
        return int((await self.fetch(sql, *params))[0][0])

    async def exists(self, coll: Collection, where: Node) -> bool:
        d = await self._dialect(coll)
        c = compiler.SQLCompiler(d)
        sql = f"SELECT EXISTS (SELECT 1 FROM {self._table(coll)} WHERE {c.where(where)})"
        return bool((await self.fetch(sql, *c.params))[0][0])

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        sql, params = compiler.distinct(await self._dialect(coll), self._table(coll), field, where)
        return [r[0] for r in await self.fetch(sql, *params)]

    # -- writes --------------------------------------------------------------------------
    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        if not rows:
            return []
        info = await self.table_info(coll)
        d = info.dialect
        table = self._table(coll)
        returning = f" RETURNING {info.select_list}"
        async with self.connection() as conn:
            try:
                async with conn.transaction():
                    if len(rows) < COPY_THRESHOLD:
                        made: list[Any] = []
                        for row in rows:
                            sql, params = compiler.insert(
                                d, table, row, returning=False, json_fields=frozenset()
                            )
                            made.extend(await conn.fetch(sql + returning, *params))
                        return _rows_of(made, info) if made else []
                    # One pause from the first value normalized to the last row built,
                    # COPY included: it is this connection's own round trip, and every
                    # object made in between would otherwise be rescanned (a fifth of
                    # the time for 100,000 rows).
                    with gc_paused(len(rows)):
                        return await self._copy_insert(conn, coll, rows)
            except XRepoError:
                raise
            except Exception as exc:
                raise _wrap(exc, coll.name) from exc

    async def _copy_insert(
        self, conn: Any, coll: Collection, rows: Sequence[Mapping[str, Any]]
    ) -> list[Row]:
        """COPY each run of rows with the same keys into a temporary table, then move them
        with ``INSERT … SELECT … RETURNING *`` (defaults and generated keys apply)."""
        q = self.dialect.quote
        table = self._table(coll)
        info = await self.table_info(coll)
        if isinstance(rows, ColumnRows):
            made = await self._copy_direct(conn, coll, tuple(rows.keys), rows.columns)
            if made is not None:
                return made
        out: list[Row] = []
        start = 0
        while start < len(rows):
            keys = tuple(rows[start])
            end = start + 1
            while end < len(rows) and tuple(rows[end]) == keys:
                end += 1
            if keys:
                run = rows[start:end]
                columns = [list(map(operator.itemgetter(k), run)) for k in keys]
                made = await self._copy_direct(conn, coll, keys, columns)
                if made is not None:
                    out.extend(made)
                    start = end
                    continue
            tmp = f"_xrepo_copy_{uuid.uuid4().hex[:12]}"
            cols = ", ".join(q(k) for k in keys)
            if keys:
                numeric = {k: "numeric[]" if k in info.arrays else "numeric" for k in info.money}
                staged = ", ".join(
                    f"{q(k)}::{numeric[k]} AS {q(k)}" if k in numeric else q(k) for k in keys
                )
                await conn.execute(
                    f"CREATE TEMP TABLE {q(tmp)} ON COMMIT DROP AS"
                    f" SELECT {staged} FROM {table} WITH NO DATA"
                )
                records = [tuple(r[k] for k in keys) for r in rows[start:end]]
                await conn.copy_records_to_table(tmp, records=records, columns=list(keys))
                moved = await conn.fetch(
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {q(tmp)}"
                    f" RETURNING {info.select_list}"
                )
                await conn.execute(f"DROP TABLE {q(tmp)}")
            else:
                moved = []
                default = f"INSERT INTO {table} DEFAULT VALUES RETURNING {info.select_list}"
                for _ in range(end - start):
                    moved.extend(await conn.fetch(default))
            if moved:
                out.extend(_rows_of(moved, info))
            start = end
        return out

    async def _copy_direct(
        self, conn: Any, coll: Collection, keys: tuple[str, ...], columns: Sequence[list[Any]]
    ) -> list[Row] | None:
        """COPY the rows whose ``keys`` hold ``columns`` straight into the table and return
        the rows it now holds, built client-side — or None (nothing done) when they are not
        knowable (:mod:`.postgres_copy`)."""
        key = (coll.namespace, coll.name)
        table = self._copy_tables.get(key)
        if table is None:
            found = await conn.fetch(CATALOG_SQL, self._table(coll))
            table = self._copy_tables[key] = copy_table(found)
        n = len(columns[0])
        try:
            plan = direct_plan(table, keys)
            sent, stored = normalize_columns(plan, columns)
        except NotKnowable:
            return None
        if plan.sequence is not None:
            ids = await conn.fetchval(
                "SELECT array_agg(nextval($1::regclass)) FROM generate_series(1, $2) g",
                plan.sequence,
                n,
            )
            sent.append(ids)
            stored.append(ids)
        # Tuples made as COPY encodes them, none kept: no list of 100,000 to build and free.
        records = zip(*sent, strict=True)
        await conn.copy_records_to_table(
            coll.name, records=records, columns=list(plan.columns), schema_name=coll.namespace
        )
        return stored_rows(plan, stored, n)

    async def _write(self, sql: str, params: Sequence[Any], name: str) -> int:
        async with self.connection() as conn:
            try:
                status = await conn.execute(sql, *params)
            except Exception as exc:
                raise _wrap(exc, name) from exc
        return int(str(status).rsplit(" ", 1)[-1])

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        if not changes:
            return await self.count(coll, where)
        d = await self._dialect(coll)
        sql, params = compiler.update(d, self._table(coll), changes, where)
        return await self._write(sql, params, coll.name)

    async def delete(self, coll: Collection, where: Node) -> int:
        sql, params = compiler.delete(await self._dialect(coll), self._table(coll), where)
        return await self._write(sql, params, coll.name)

    # -- aggregation ---------------------------------------------------------------------
    async def aggregate(self, coll: Collection, pipeline: Pipeline) -> list[Row]:
        """The longest SQL-expressible prefix as one SELECT, the rest in memory on its result
        (:meth:`XRepo.explain_aggregate` says which).  A ``$lookup`` on top-level columns of a
        table of this database is a correlated subquery (:mod:`~xrepo.runtime.aggregate.sqljoin`);
        one left for memory reads only the foreign rows whose key is among the local values."""
        from ..aggregate import sqljoin
        from ..aggregate.sqlpush import compile_pushdown

        async def describe(name: str) -> sqljoin.ForeignTable | None:
            table = self._table(Collection(name=name, namespace=coll.namespace))
            rows = await self.fetch(sqljoin.PG_CATALOG_SQL, table)
            return sqljoin.pg_table(rows, table, self.dialect.quote)

        d = await self._dialect(coll)
        foreign = await sqljoin.prepare(self, coll.namespace, pipeline, describe)
        push = compile_pushdown(pipeline, d, self._table(coll), foreign)
        docs = [push.decode(r) for r in await self.fetch(push.sql, *push.params)]

        async def fetch(name: str, path: str, values: Sequence[Any]) -> tuple[list[Row], Any]:
            head, _, rest = path.partition(".")
            target = Collection(name=name, namespace=coll.namespace)
            info = await self.table_info(target)
            fd = info.dialect
            column = fd.column(head)
            table = self._table(target)
            keys = [v for v in values if v is not None and not isinstance(v, dict | list)]
            if not rest:  # values the column's type cannot equal match nothing (not a bind error)
                keys = [v for v in keys if _comparable(v, info.types.get(head, (None, True))[0])]
            found: list[Row] = []
            # Rows read as every read reads them (money as numeric, inet as printed, JSON
            # parsed), so joined documents hold what the foreign repo's models hold.
            head_sql = f"SELECT {info.select_list} FROM {table} WHERE"
            if rest:
                sql = f"{head_sql} ({column} #> $2::text[]) = ANY($1::jsonb[])"
                extra: list[Any] = [list(rest.split("."))]
                nested = fd.json_extract(column, "$1::text[]")
                null_sql = f"{head_sql} {nested} IS NULL"
            elif head in info.arrays:
                sql = f"{head_sql} {column} && $1"
                extra = []
                null_sql = f"{head_sql} {column} IS NULL"
            else:
                sql = f"{head_sql} {column} = ANY($1)"
                extra = []
                null_sql = f"{head_sql} {column} IS NULL"
            for i in range(0, len(keys), LOOKUP_CHUNK):
                chunk = keys[i : i + LOOKUP_CHUNK]
                records = await self.fetch(sql, chunk, *extra)
                found.extend(_rows_of(records, info) if records else [])
            if any(v is None for v in values):
                null_params = [list(rest.split("."))] if rest else []
                records = await self.fetch(null_sql, *null_params)
                found.extend(_rows_of(records, info) if records else [])
            return found, _same

        return await pipeline.resume(docs, push.pushed, fetch)


def _same(value: Any) -> Any:
    return value


_NUMBERS = (int, float, decimal.Decimal)


def _comparable(value: Any, column: type | None) -> bool:
    """Whether ``value`` can equal a value the driver decodes as ``column`` (None: unknown,
    let the server decide); numbers compare across int, float and Decimal, as in memory."""
    if column is None:
        return True
    if column in _NUMBERS:
        return isinstance(value, _NUMBERS) and not isinstance(value, bool)
    return isinstance(value, column)


def _read_expr(column: str, r: Any) -> str:
    """How the SELECT list reads one catalog column: the driver's own decoding where it
    matches the model, else a cast to what the model holds."""
    if r["any_json"]:
        return f"{column}::text AS {column}"  # parsed once per result (_parse_json_texts)
    if r["is_array"] and r["elem"] in ("inet", "cidr"):
        # Each element through inet's output function as the scalar column (no /32 on
        # hosts), dimensions and NULLs kept: the array's text, read back as text[].
        return f"{column}::text::text[] AS {column}"
    if r["is_array"] and r["elem"] == "money":
        return f"{column}::numeric[] AS {column}"
    if r["in_catalog"] and not r["is_array"]:
        if r["typname"] == "inet":
            # abbrev(inet) is inet's own output ('::1', '10.0.0.1/24'); ::text always adds
            # the prefix length, asyncpg gives ipaddress objects — the model holds str.
            return f"abbrev({column}) AS {column}"
        if r["typname"] == "cidr":
            return f"{column}::text AS {column}"
        if r["typname"] == "money":
            # asyncpg returns money as lc_monetary-formatted text ('-$1,234.56'); numeric is
            # exact and locale-free.
            return f"{column}::numeric AS {column}"
    return column


def _rows_of(records: Sequence[Any], info: TableInfo) -> list[Row]:
    """Fresh dicts of ``records`` (all with the same keys, at least one) holding model
    values: JSON text parsed, composite Records as dicts."""
    keys = tuple(records[0].keys())
    texts = info.any_json if info.select_list != "*" else ()
    decoded = tuple(i for i, k in enumerate(keys) if k in texts)
    parsed = [_parse_json_texts([r[i] for r in records]) for i in decoded]
    rows = dict_maker(keys, decoded)(records, *parsed)
    _plain_composites(rows, info)
    return rows


def _parse_json_texts(texts: list[str | None]) -> list[Any]:
    """The values of JSON ``texts`` (None: SQL NULL) in one parse of a JSON array of them
    all, far cheaper than a ``json.loads`` per value.  pydantic-core's parser takes 0.6× of
    ``json.loads``'s time and gives the same values; what it refuses and ``json`` columns
    can hold (lone surrogates, numbers beyond float range) goes to ``json.loads``."""
    text = "[" + ",".join(["null" if t is None else t for t in texts]) + "]"
    try:
        parsed: list[Any] = from_json(text)
    except ValueError:
        parsed = json.loads(text)
    return parsed


def _plain_composites(rows: list[Row], info: TableInfo) -> None:
    for name in info.composites:
        for row in rows:
            value = row.get(name)
            if value is not None:
                row[name] = _plain(value)


def _plain(value: Any) -> Any:
    """asyncpg Records (composite values, nested or in arrays) as dicts, recursively."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):  # asyncpg.Record is no Mapping but has items()
        return {k: _plain(v) for k, v in value.items()}
    return value


def _money_encode(value: Any) -> str:
    """money binds as text: a plain decimal string, whatever the session's lc_monetary."""
    if isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal | int):
        return format(decimal.Decimal(value), "f")
    raise TypeError(f"money takes Decimal, int or str, not {type(value).__name__}")


_CONSTRAINT_ERRORS: dict[str, type[ConstraintError]] = {
    "23505": UniqueViolation,
    "23503": ForeignKeyViolation,
    "23502": NotNullViolation,
    "23514": CheckViolation,
}


def _wrap(exc: Exception, where: str) -> XRepoError:
    if isinstance(exc, XRepoError):
        return exc
    state = getattr(exc, "sqlstate", None)
    if not isinstance(state, str):
        if isinstance(exc, OSError):
            return BackendError(f"PostgreSQL connection failed on {where}: {exc}")
        return BackendError(f"PostgreSQL error on {where}: {type(exc).__name__}: {exc}")
    constraint = getattr(exc, "constraint_name", None)
    table = getattr(exc, "table_name", None)
    column = getattr(exc, "column_name", None)
    kind = _CONSTRAINT_ERRORS.get(state)
    if kind is not None or state.startswith("23"):
        named = [f"constraint {constraint!r}" if constraint else ""]
        named.append(f"column {column!r}" if column else "")
        what = ", ".join(n for n in named if n)
        detail = getattr(exc, "detail", None)
        message = f"{table or where}: {exc}" + (f" ({what})" if what else "")
        if detail:
            message += f" — {detail}"
        err = (kind or ConstraintError)(message)
        err.constraint, err.table, err.column = constraint, table, column
        return err
    if state in ("2201B", "22P02", "22003", "22007", "22008", "42883"):
        # invalid regex, bad text for a type, out of range, bad datetime, no such operator
        return QueryError(f"PostgreSQL rejected a value on {where}: {exc}")
    return BackendError(f"PostgreSQL error {state} on {where}: {exc}")


def _safe_dsn(dsn: str | None) -> str:
    """The DSN without its password (errors must not leak credentials)."""
    if not dsn:
        return "pool"
    head, sep, tail = dsn.rpartition("@")
    if not sep:
        return dsn
    scheme, _, userinfo = head.partition("://")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}@{tail}"


__all__ = ["COPY_THRESHOLD", "PostgresBackend", "TableInfo"]
