"""SQLite inspector: a database file → snapshot.

The file is opened read-only through a ``file:...?mode=ro`` URI, so a mistyped path is an error
rather than a new empty database, and inspection never writes. Structure comes from the
table-valued PRAGMA functions (``pragma_table_xinfo(?)`` and friends, whose table name is a bound
parameter); what the PRAGMAs do not report (CHECK constraints, AUTOINCREMENT, WITHOUT ROWID,
partial-index WHERE clauses, expression index terms) is parsed from ``sqlite_master.sql`` by
:mod:`.sqlite_sql`. Every identifier spliced into SQL goes through :func:`quote_ident`.

Decisions:

- A table without a declared primary key gets ``primary_key=()``; its implicit rowid is *not*
  exposed as a field (it would change the row shape, and a column named ``rowid`` may shadow it).
  The runtime may address such rows by rowid itself.
- Primary-key columns are reported NOT NULL: SQLite lets NULL into a non-INTEGER key of a rowid
  table only as a documented legacy bug, and a NULL key cannot be addressed.
- ``INTEGER PRIMARY KEY`` (rowid alias) is ``generated="rowid"`` (``"autoincrement"`` with
  AUTOINCREMENT) and not required for writers; generated columns are ``"computed"``.
- An empty declared type (views over expressions, ``CREATE TABLE t(x)``) or one that reaches only
  SQLite's catch-all NUMERIC affinity is typed from the storage classes of the sampled values;
  with no values it is ``unknown`` and a warning names the column. ``source_type`` is the declared
  type verbatim, None when empty.
- ``CHECK (col IN (<literals>))`` on a known column becomes that column's enum type (values in
  declared order) and is not repeated under ``checks``; every other CHECK is kept verbatim.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..schema import (
    CheckSpec,
    CollectionKind,
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    FieldStats,
    ForeignKeySpec,
    Generated,
    IndexSpec,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
)
from .base import InspectError, Progress
from .infer import FieldAccumulator
from .sqlite_sql import (
    ParsedTable,
    parse_create_index,
    parse_create_table,
    parse_in_list,
    quote_ident,
)
from .sqlite_types import map_declared_type

__all__ = ["inspect_sqlite", "quote_ident", "sqlite_path"]

_URL_PREFIX = "sqlite:///"


def sqlite_path(target: str | Path) -> Path:
    """``sqlite:///rel/path``, ``sqlite:////abs/path`` or a plain path → the file's Path."""
    if isinstance(target, Path):
        return target
    if target.startswith("sqlite:"):
        if not target.startswith(_URL_PREFIX) or len(target) == len(_URL_PREFIX):
            raise InspectError(
                f"{target}: not a SQLite file URL; use sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db"
            )
        rest = target[len(_URL_PREFIX) :].split("?", 1)[0]
        return Path(unquote(rest))
    return Path(target)


@contextmanager
def _open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise InspectError(f"{path}: SQLite database {what}; check the path (nothing was created)")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InspectError(f"{path}: cannot open SQLite database: {exc}") from None
    # A TEXT value that is not valid UTF-8 must not abort the inspection.
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    with closing(conn):
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            raise InspectError(f"{path}: cannot read SQLite database: {exc}") from None


def inspect_sqlite(
    target: str | Path,
    *,
    name: str,
    sample_rows: int = 1000,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> Snapshot:
    """Snapshot the tables and views of a SQLite file whose names match ``include`` (fnmatch
    patterns, case-sensitive) and none of ``exclude``; up to ``sample_rows`` rows per collection
    are read for statistics (0 disables sampling)."""
    path = sqlite_path(target)
    warnings: list[str] = []
    collections: list[CollectionSpec] = []
    with _open_readonly(path) as conn:
        objects = _schema_objects(conn)
        chosen = [
            obj
            for obj in objects
            if any(fnmatchcase(obj.name, p) for p in include)
            and not any(fnmatchcase(obj.name, p) for p in exclude)
        ]
        if progress is not None:
            progress.update(0, len(chosen))
        for done, obj in enumerate(chosen, start=1):
            collections.append(_inspect_object(conn, obj, sample_rows, warnings))
            if progress is not None:
                progress.update(done, len(chosen))
    return Snapshot(
        source=SourceInfo(name=name, kind="sqlite"),
        collections=tuple(sorted(collections, key=lambda c: c.name)),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True, slots=True)
class _SchemaObject:
    kind: CollectionKind
    name: str
    sql: str


def _schema_objects(conn: sqlite3.Connection) -> list[_SchemaObject]:
    rows = conn.execute(
        "SELECT type, name, coalesce(sql, '') FROM sqlite_master "
        "WHERE type IN ('table', 'view') ORDER BY name"
    ).fetchall()
    shadow = _shadow_tables(conn)
    return [
        _SchemaObject("view" if kind == "view" else "table", obj_name, sql)
        for kind, obj_name, sql in rows
        # sqlite_ names are reserved for SQLite's own tables (case-insensitively).
        if not obj_name.lower().startswith("sqlite_") and obj_name not in shadow
    ]


def _shadow_tables(conn: sqlite3.Connection) -> set[str]:
    """Tables a virtual table (FTS, R*Tree) keeps its data in; pragma_table_list needs 3.37."""
    try:
        rows = conn.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'"
        ).fetchall()
    except sqlite3.OperationalError:
        return set()
    return {r[0] for r in rows}


@dataclass(slots=True)
class _Column:
    name: str
    declared: str
    notnull: bool
    default: str | None
    pk_position: int
    hidden: int


def _columns(conn: sqlite3.Connection, table: str) -> list[_Column]:
    rows = conn.execute(
        'SELECT cid, name, type, "notnull", dflt_value, pk, hidden '
        "FROM pragma_table_xinfo(?) ORDER BY cid",
        (table,),
    ).fetchall()
    return [
        _Column(str(r[1]), str(r[2] or ""), bool(r[3]), r[4], int(r[5]), int(r[6]))
        for r in rows
        if int(r[6]) != 1  # 1 = hidden column of a virtual table (not part of the row)
    ]


def _inspect_object(
    conn: sqlite3.Connection, obj: _SchemaObject, sample_rows: int, warnings: list[str]
) -> CollectionSpec:
    try:
        columns = _columns(conn, obj.name)
    except sqlite3.OperationalError as exc:
        # e.g. a virtual table whose module (fts5, rtree) this SQLite build lacks
        warnings.append(f"{obj.name}: skipped columns ({exc})")
        columns = []
    parsed = parse_create_table(obj.sql) if obj.kind == "table" else ParsedTable()
    enums, checks = _split_checks(parsed, {c.name.casefold(): c.name for c in columns})
    pk_columns = sorted((c for c in columns if c.pk_position > 0), key=lambda c: c.pk_position)
    primary_key = tuple(c.name for c in pk_columns)
    rowid_alias = _rowid_alias(parsed, pk_columns)

    sample = _sample(conn, obj.name, columns, sample_rows)
    row_count = _row_count(conn, obj.name)
    fields: list[FieldSpec] = []
    field_stats: dict[str, FieldStats] = {}
    for index, col in enumerate(columns):
        values = FieldAccumulator()
        for row in sample:
            values.add(row[index])
        type_spec, by_value = _field_type(obj.name, col, enums.get(col.name), values, warnings)
        generated = _generated(col, rowid_alias, parsed)
        nullable = not col.notnull and col.pk_position == 0
        fields.append(
            FieldSpec(
                name=col.name,
                type=type_spec,
                source_type=col.declared or None,
                nullable=nullable,
                required=obj.kind == "table"
                and not nullable
                and col.default is None
                and generated is None,
                default=col.default,
                generated=generated,
            )
        )
        if sample:
            field_stats[col.name] = _field_stats(values, len(sample), row_count, by_value)

    return CollectionSpec(
        name=obj.name,
        kind=obj.kind,
        primary_key=primary_key,
        fields=tuple(fields),
        indexes=_indexes(conn, obj.name) if obj.kind == "table" else (),
        foreign_keys=_foreign_keys(conn, obj.name, parsed, warnings) if obj.kind == "table" else (),
        checks=tuple(checks),
        stats=CollectionStats(row_estimate=row_count, sampled=len(sample), fields=field_stats),
    )


def _rowid_alias(parsed: ParsedTable, pk_columns: list[_Column]) -> _Column | None:
    """The column that *is* the rowid: a lone ``INTEGER`` key of a rowid table.

    Exactly the declared name INTEGER qualifies (not INT, not BIGINT), and the column form
    ``INTEGER PRIMARY KEY DESC`` is, by a documented SQLite quirk, not an alias.
    """
    if parsed.without_rowid or len(pk_columns) != 1:
        return None
    col = pk_columns[0]
    if col.declared.strip().upper() != "INTEGER":
        return None
    info = parsed.columns.get(col.name.casefold())
    if info is not None and info.pk_desc:
        return None
    return col


def _generated(col: _Column, rowid_alias: _Column | None, parsed: ParsedTable) -> Generated | None:
    if col.hidden in (2, 3):
        return "computed"
    if rowid_alias is col:
        info = parsed.columns.get(col.name.casefold())
        return "autoincrement" if info is not None and info.autoincrement else "rowid"
    return None


def _split_checks(
    parsed: ParsedTable, columns: dict[str, str]
) -> tuple[dict[str, tuple[str | int, ...]], list[CheckSpec]]:
    """CHECK constraints → (enum values per column, the CHECKs that stay generic)."""
    enums: dict[str, tuple[str | int, ...]] = {}
    checks: list[CheckSpec] = []
    for check in parsed.checks:
        found = parse_in_list(check.expression)
        column = columns.get(found[0].casefold()) if found is not None else None
        if found is not None and column is not None and column not in enums:
            enums[column] = found[1]
        else:
            checks.append(CheckSpec(name=check.name, expression=check.expression))
    return enums, checks


#: Significant digits an IEEE double keeps exactly: what NUMERIC affinity stores beyond integers.
_EXACT_DIGITS = 15


def _field_type(
    table: str,
    col: _Column,
    enum_values: tuple[str | int, ...] | None,
    values: FieldAccumulator,
    warnings: list[str],
) -> tuple[TypeSpec, bool]:
    """The column's TypeSpec, and whether it was typed from its values (not its declaration)."""
    if enum_values is not None:
        return TypeSpec(kind=LogicalType.ENUM, enum_values=enum_values), False
    declared = map_declared_type(col.declared)
    if declared is not None:
        semantic = values.semantic() if declared.kind == LogicalType.STR else None
        if semantic is not None:
            declared = declared.model_copy(update={"semantic": semantic})
        if declared.kind == LogicalType.DECIMAL and (declared.precision or 0) > _EXACT_DIGITS:
            warnings.append(
                f"{table}.{col.name}: {col.declared} holds more digits than SQLite keeps exactly: "
                f"NUMERIC affinity stores numbers as 8-byte REAL (~{_EXACT_DIGITS} digits); "
                "declare the column TEXT to keep every digit"
            )
        return declared, False
    inferred = values.to_type()
    if inferred.kind == LogicalType.UNKNOWN:
        what = (
            f"declared type {col.declared!r} is not recognised"
            if col.declared
            else "no declared type"
        )
        warnings.append(
            f"{table}.{col.name}: {what} and no sampled values to infer from; typed as unknown"
        )
    return inferred, True


def _field_stats(
    values: FieldAccumulator, sampled: int, row_count: int | None, by_value: bool
) -> FieldStats:
    stats = values.to_stats()
    distinct = stats.distinct_estimate or 0
    update: dict[str, Any] = {"type_histogram": stats.type_histogram if by_value else None}
    if values.non_null and distinct == values.non_null and row_count and row_count > sampled:
        # every sampled value unique: assume the column stays unique beyond the sample
        update["distinct_estimate"] = round(row_count * values.non_null / sampled)
    return stats.model_copy(update=update)


def _sample(
    conn: sqlite3.Connection, table: str, columns: list[_Column], limit: int
) -> list[tuple[Any, ...]]:
    if limit <= 0 or not columns:
        return []
    column_list = ", ".join(quote_ident(c.name) for c in columns)
    try:
        return conn.execute(
            f"SELECT {column_list} FROM {quote_ident(table)} LIMIT ?", (limit,)
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # a view over a missing table, or a virtual table without its module


def _row_count(conn: sqlite3.Connection, table: str) -> int | None:
    try:
        row = conn.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()
    except sqlite3.OperationalError:
        return None
    return int(row[0])


def _indexes(conn: sqlite3.Connection, table: str) -> tuple[IndexSpec, ...]:
    listed = conn.execute(
        'SELECT name, "unique", origin, partial FROM pragma_index_list(?)', (table,)
    ).fetchall()
    indexes: list[IndexSpec] = []
    for index_name, unique, origin, partial in listed:
        if origin == "pk":
            continue  # the primary key is reported as primary_key
        keys = conn.execute(
            "SELECT cid, name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno",
            (index_name,),
        ).fetchall()
        parsed = None
        if origin == "c":
            row = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index_name,)
            ).fetchone()
            parsed = parse_create_index(row[0]) if row is not None and row[0] else None
        fields: list[str] = []
        for position, (cid, key_name) in enumerate(keys):
            if cid == -2:  # an expression: report its text as written
                terms = parsed.terms if parsed is not None else ()
                fields.append(terms[position] if position < len(terms) else "<expression>")
            elif cid == -1:
                fields.append("rowid")
            else:
                fields.append(str(key_name))
        indexes.append(
            IndexSpec(
                name=index_name,
                fields=tuple(fields),
                unique=bool(unique),
                partial=parsed.where if partial and parsed is not None else None,
                expression=any(cid == -2 for cid, _ in keys),
            )
        )
    return tuple(sorted(indexes, key=lambda i: i.name))


def _foreign_keys(
    conn: sqlite3.Connection, table: str, parsed: ParsedTable, warnings: list[str]
) -> tuple[ForeignKeySpec, ...]:
    rows = conn.execute(
        'SELECT id, seq, "table", "from", "to", on_update, on_delete '
        "FROM pragma_foreign_key_list(?) ORDER BY id DESC, seq",
        (table,),
    ).fetchall()
    grouped: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(int(row[0]), []).append(row)
    keys: list[ForeignKeySpec] = []
    # pragma ids count from the last declared key: descending id is declaration order
    for parts in grouped.values():
        ref_table = str(parts[0][2])
        local = tuple(str(p[3]) for p in parts)
        targets: tuple[str, ...]
        if all(p[4] is not None for p in parts):
            targets = tuple(str(p[4]) for p in parts)
        else:
            targets = _primary_key_of(conn, ref_table)
            if len(targets) != len(local):
                warnings.append(
                    f"{table}: foreign key {local} references {ref_table}'s primary key, "
                    "which could not be resolved"
                )
                targets = local
        keys.append(
            ForeignKeySpec(
                name=parsed.fk_names.get(local),
                fields=local,
                ref_collection=ref_table,
                ref_fields=targets,
                on_delete=parts[0][6],
                on_update=parts[0][5],
            )
        )
    return tuple(keys)


def _primary_key_of(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    try:
        rows = conn.execute(
            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
        ).fetchall()
    except sqlite3.OperationalError:
        return ()
    return tuple(str(r[0]) for r in rows)
