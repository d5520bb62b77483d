"""Foreign tables a pushed-down ``$lookup`` may join, as each SQL backend describes them.

A ``$lookup`` compiles into a correlated subquery that aggregates the matching foreign rows
into one JSON array (:meth:`~xrepo.runtime.sql.dialect.Dialect.json_rows`).  That needs, per
foreign table: its columns in catalog order, how each is read into JSON so that decoding gives
back exactly the value the in-memory ``$lookup`` sees (the driver's ``SELECT *`` value), which
columns may be the join key for a local value of which kind (equal in SQL iff equal in memory),
and the order of the rows (the primary key, else the physical row id).

A table with a column that cannot be read back exactly (PostgreSQL arrays, domains, intervals,
``bpchar`` …; SQLite columns without a declared type, which may hold BLOBs) is not described:
its ``$lookup`` stays in memory.  Descriptions are loaded by the backend before compiling
(:func:`prepare`) and cached per backend, so that ``explain_aggregate`` (synchronous) can tell
what a run would push — before a first run it cannot know, and reports the memory path.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import XRepoError
from .engine import Pipeline
from .stages import LookupStage

Decode = Callable[[Any], Any]
Key = tuple[str | None, str]


@dataclass(frozen=True)
class ForeignTable:
    table_sql: str
    #: (column, SQL suffix applied to the qualified column when read into JSON), catalog order.
    fields: tuple[tuple[str, str], ...]
    #: Join-key columns → (local kinds they compare with exactly, cast suffix for the local SQL).
    keys: Mapping[str, tuple[frozenset[str], str]]
    #: Row order: quoted columns, or a bare row id (``rowid`` / ``ctid``).
    order: tuple[str, ...]
    #: Per-column decoders of the JSON values (columns absent: the JSON value as is).
    decoders: Mapping[str, Decode]

    def decode(self, text: Any) -> Any:
        rows = json.loads(text) if isinstance(text, str | bytes) else text
        if not self.decoders or not rows:
            return rows
        for row in rows:
            for name, dec in self.decoders.items():
                value = row.get(name)
                if value is not None:
                    row[name] = dec(value)
        return rows


_CACHE: weakref.WeakKeyDictionary[Any, dict[Key, ForeignTable | None]] = weakref.WeakKeyDictionary()


async def prepare(
    backend: Any,
    namespace: str | None,
    pipeline: Pipeline,
    load: Callable[[str], Awaitable[ForeignTable | None]],
) -> Callable[[str], ForeignTable | None]:
    """Describe (once per backend) the foreign tables of ``pipeline``'s ``$lookup`` stages."""
    try:
        cache = _CACHE.setdefault(backend, {})
    except TypeError:  # not weak-referenceable: nothing is pushed for it
        return lambda name: None
    for stage in pipeline.stages[pipeline.start :]:
        key = (namespace, stage.source) if isinstance(stage, LookupStage) else None
        if key is not None and key not in cache:
            try:
                cache[key] = await load(key[1])
            except XRepoError:  # no such table (yet): the memory path reports it
                continue
    return known(backend, namespace)


def known(backend: Any, namespace: str | None) -> Callable[[str], ForeignTable | None]:
    """The foreign tables described so far (for ``explain_aggregate``)."""
    try:
        cache = _CACHE.get(backend) or {}
    except TypeError:  # not weak-referenceable: nothing was cached for it
        cache = {}
    return lambda name: cache.get((namespace, name))


# -- PostgreSQL ------------------------------------------------------------------------------
PG_CATALOG_SQL = (
    "SELECT a.attname, t.typname, t.typtype::text AS typtype, t.typcategory::text AS category,"
    " t.typnamespace = 'pg_catalog'::regnamespace AS in_catalog, c.relkind::text AS relkind,"
    " array_position(i.indkey::int2[], a.attnum) AS pk"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " JOIN pg_class c ON c.oid = a.attrelid"
    " LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
    " WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum"
)

_NUM = frozenset({"int", "float", "decimal"})
#: typname → (JSON read suffix, decoder or None, local kinds as a key, local cast suffix).
_PG_TYPES: dict[str, tuple[str, Decode | None, frozenset[str], str]] = {
    "int2": ("", None, _NUM, ""),
    "int4": ("", None, _NUM, ""),
    "int8": ("", None, _NUM, ""),
    "numeric": ("::text", decimal.Decimal, frozenset({"int", "decimal"}), ""),
    # float4 through float8: the exact binary value, as asyncpg returns it.
    "float4": ("::float8", float, frozenset({"int", "float"}), ""),
    "float8": ("::float8", float, frozenset({"int", "float"}), ""),
    "text": ("", None, frozenset({"str"}), "::text"),
    "varchar": ("", None, frozenset({"str"}), "::text"),
    "name": ("", None, frozenset({"str"}), "::text"),
    "bool": ("", None, frozenset({"bool"}), "::boolean"),
    "date": ("", datetime.date.fromisoformat, frozenset({"date"}), "::date"),
    "timestamp": ("", datetime.datetime.fromisoformat, frozenset(), ""),
    "timestamptz": ("", datetime.datetime.fromisoformat, frozenset(), ""),
    "time": ("", datetime.time.fromisoformat, frozenset(), ""),
    "uuid": ("", uuid.UUID, frozenset({"uuid"}), "::uuid"),
    "json": ("", None, frozenset(), ""),
    "jsonb": ("", None, frozenset(), ""),
}


def pg_table(rows: list[Any], table_sql: str, quote: Callable[[str], str]) -> ForeignTable | None:
    """The description of a PostgreSQL table from :data:`PG_CATALOG_SQL`'s rows."""
    if not rows or rows[0]["relkind"] not in ("r", "p"):
        return None  # views have neither ctid nor a primary key to order by
    fields: list[tuple[str, str]] = []
    keys: dict[str, tuple[frozenset[str], str]] = {}
    decoders: dict[str, Decode] = {}
    pk: list[tuple[int, str]] = []
    for r in rows:
        name = str(r["attname"])
        if r["typtype"] == "e" and r["category"] != "A":
            spec: tuple[str, Decode | None, frozenset[str], str] = ("", None, frozenset(), "")
        elif r["in_catalog"] and r["typtype"] == "b" and r["category"] != "A":
            found = _PG_TYPES.get(str(r["typname"]))
            if found is None:
                return None
            spec = found
        else:
            return None
        suffix, dec, kinds, cast = spec
        fields.append((name, suffix))
        if dec is not None:
            decoders[name] = dec
        if kinds:
            keys[name] = (kinds, cast)
        if r["pk"] is not None:
            pk.append((int(r["pk"]), name))
    if len(fields) > 50:  # json_build_object takes at most 100 arguments
        return None
    order = tuple(quote(n) for _, n in sorted(pk)) or ("ctid",)
    return ForeignTable(table_sql, tuple(fields), keys, order, decoders)


# -- SQLite ----------------------------------------------------------------------------------
_SQLITE_TEXT_KEYS = frozenset({"str", "date", "uuid"})
_SQLITE_NUM_KEYS = frozenset({"int", "bool", "float"})


def _affinity(declared: str) -> str:
    t = declared.upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if "BLOB" in t or not t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


def sqlite_table(
    kind: str | None, rows: list[Any], table_sql: str, quote: Callable[[str], str]
) -> ForeignTable | None:
    """The description of a SQLite table (``kind`` from ``sqlite_master``, ``rows`` from
    ``pragma_table_info``): stored values read back through ``json_object`` as the driver
    returns them (TEXT as str, INTEGER as int, REAL as float), so no decoding is needed."""
    if kind != "table" or not rows or len(rows) > 60:
        return None
    keys: dict[str, tuple[frozenset[str], str]] = {}
    fields: list[tuple[str, str]] = []
    pk: list[tuple[int, str]] = []
    for r in rows:
        name, affinity = str(r["name"]), _affinity(str(r["type"] or ""))
        if affinity == "blob":  # json_object refuses BLOB values
            return None
        fields.append((name, ""))
        keys[name] = (_SQLITE_TEXT_KEYS if affinity == "text" else _SQLITE_NUM_KEYS, "")
        if r["pk"]:
            pk.append((int(r["pk"]), name))
    order = tuple(quote(n) for _, n in sorted(pk)) or ("rowid",)
    return ForeignTable(table_sql, tuple(fields), keys, order, {})


__all__ = ["PG_CATALOG_SQL", "ForeignTable", "known", "pg_table", "prepare", "sqlite_table"]
