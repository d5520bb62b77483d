"""Catalog rows (the fixed queries of :mod:`.postgres_catalog`) → CollectionSpecs.

Pure: no I/O here, so the whole schema is built from five result sets, however many tables.

Decisions:

- Partitioned tables are one collection (``kind="table"``); their partitions never appear.
- ``serial`` (a ``nextval(...)`` default) → ``generated="autoincrement"``; identity columns →
  ``"identity"`` (BY DEFAULT) or ``"identity_always"``; ``GENERATED ALWAYS AS (...) STORED`` →
  ``"computed"`` (its expression is not reported as a default). None of them is required of
  writers; the last two refuse writers' values (absent from create and update models).
- Views report every column nullable: PostgreSQL does not track NOT NULL through a view.
- ``CHECK (col IN (...))`` on a str or int column becomes that column's enum and is not repeated
  under ``checks``; any other CHECK (and non-enum domain CHECKs, with ``VALUE`` bound to the
  column) is kept verbatim as pg_get_constraintdef prints it.
- Unique constraints appear as the unique indexes backing them; the primary key's index is the
  ``primary_key`` and is not listed again. Expression keys are reported by their text.
- Foreign keys always name the referenced schema (``ref_namespace``); actions are spelled as SQL
  (``NO ACTION``, ``CASCADE``, ...).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, TypeVar

from pydantic import BaseModel

from ..schema import (
    CheckSpec,
    CollectionKind,
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    ForeignKeySpec,
    Generated,
    IndexSpec,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
)
from ..trusted_rows import SET_DICT, SET_EXTRA, SET_FIELDS_SET, SET_PRIVATE
from .postgres_catalog import quote_ident
from .postgres_checks import bind_domain_value, parse_enum_check
from .postgres_types import MappedType, PgType, TypeMapper

__all__ = ["Catalog", "build_collection", "build_snapshot"]

_KINDS: dict[str, CollectionKind] = {
    "r": "table",
    "p": "table",
    "f": "table",
    "v": "view",
    "m": "materialized_view",
}
_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_ENUMERABLE = (LogicalType.STR, LogicalType.INT)
_ATTNUM = itemgetter(1)


@dataclass(slots=True)
class Catalog:
    """The result sets of one catalog read, grouped by relation oid."""

    relations: list[Any]
    columns: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    constraints: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    indexes: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    types: dict[int, PgType] = field(default_factory=dict)
    #: ``format_type`` text by (type oid, typmod), for every pair the columns use.
    type_texts: dict[tuple[int, int], str] = field(default_factory=dict)
    #: (type oid, typmod, dimensions) → its mapping and text, filled as the build meets them.
    resolved: dict[tuple[int, int, int], tuple[MappedType, str]] = field(default_factory=dict)

    def add(self, target: dict[int, list[Any]], rows: Iterable[Any]) -> None:
        for row in rows:
            target[row[0]].append(row)  # every per-relation query selects relid first

    def set_types(self, types: Iterable[PgType]) -> None:
        for t in types:
            self.types[t.oid] = t
            for typmod, text in t.column_texts:
                self.type_texts[t.oid, typmod] = text

    def type_text(self, oid: int, typmod: int) -> str:
        text = self.type_texts.get((oid, typmod))
        if text is None:  # only if the catalog changed between two unsnapshotted queries
            found = self.types.get(oid)
            text = found.text if found is not None else f"oid {oid}"
        return text


# -- trusted construction ------------------------------------------------------------------
#
# Validating the ~24,000 specs of a 1,000-table schema one constructor call at a time was half
# the client's time, and every value here was already typed by this module (str from the
# driver, tuples, ints, LogicalType, specs built by the mapper). So they are built as
# ``model_construct`` would build them, minus its per-call field walk: the complete ``__dict__``
# in declaration order plus the fields-set the validating call would have recorded. The result
# is equal (``==``, dumps) to the validated one — the tests check that on whole snapshots.
# Should schema.py's models ever change shape (a field added, private attributes, extras), the
# layout check below fails at import and every spec goes through validation again.

_M = TypeVar("_M", bound=BaseModel)
_new = object.__new__

_FIELD_KEYS = (
    "name",
    "type",
    "source_type",
    "nullable",
    "required",
    "default",
    "generated",
    "comment",
)
_COLLECTION_KEYS = (
    "name",
    "namespace",
    "kind",
    "primary_key",
    "fields",
    "indexes",
    "foreign_keys",
    "checks",
    "comment",
    "path",
    "file_format",
    "stats",
)
_INDEX_KEYS = ("name", "fields", "unique", "partial", "expression", "sparse", "ttl_seconds")
_FK_KEYS = (
    "name",
    "fields",
    "ref_collection",
    "ref_namespace",
    "ref_fields",
    "on_delete",
    "on_update",
)
_STATS_KEYS = ("row_estimate", "size_bytes", "avg_size_bytes", "sampled", "fields", "ttl")
_SNAPSHOT_KEYS = ("format", "source", "collections", "warnings")
#: The keys each validating call used to pass (its ``model_fields_set``). One set is shared by
#: every spec of a kind — 20,000 fewer objects for the cyclic collector to walk afterwards.
#: Nothing in pydantic mutates it in place on a frozen model: assignment and deletion raise,
#: and ``model_copy`` / ``copy`` / pickling give the copy a set of its own.
_FIELD_SET = set(_FIELD_KEYS)
_COLLECTION_SET = set(_COLLECTION_KEYS) - {"path", "file_format"}
_INDEX_SET = {"name", "fields", "unique", "partial", "expression"}
_FK_SET = set(_FK_KEYS)
_STATS_SET = {"row_estimate", "size_bytes"}
_SNAPSHOT_SET = set(_SNAPSHOT_KEYS) - {"format"}


def _layout_matches() -> bool:
    for model, keys in (
        (FieldSpec, _FIELD_KEYS),
        (CollectionSpec, _COLLECTION_KEYS),
        (IndexSpec, _INDEX_KEYS),
        (ForeignKeySpec, _FK_KEYS),
        (CollectionStats, _STATS_KEYS),
        (Snapshot, _SNAPSHOT_KEYS),
    ):
        config = model.model_config
        if (
            tuple(model.model_fields) != keys
            or model.__private_attributes__
            or config.get("extra") != "forbid"
            or not config.get("frozen")
        ):
            return False
    return True


_TRUSTED = _layout_matches()


def _make(model: type[_M], values: dict[str, Any], given: set[str]) -> _M:
    """``model`` from ``values`` (every field, declaration order) as if validated from the
    ``given`` keys."""
    if not _TRUSTED:
        return model.model_validate({k: v for k, v in values.items() if k in given})
    obj = _new(model)
    SET_DICT(obj, values)
    SET_FIELDS_SET(obj, given)
    SET_EXTRA(obj, None)
    SET_PRIVATE(obj, None)
    return obj


# -- the build ------------------------------------------------------------------------------


def _generated(generation: str, default: str | None) -> Generated | None:
    if generation == "a":
        return "identity_always"
    if generation == "d":
        return "identity"
    if generation == "s":
        return "computed"
    if not generation and default is not None and default.startswith("nextval("):
        return "autoincrement"
    return None


def _resolve(
    catalog: Catalog,
    mapper: TypeMapper,
    typid: int,
    typmod: int,
    ndims: int,
    warnings: list[str],
    schema: str,
    table: str,
    column: str,
) -> tuple[MappedType, str]:
    """A column type's mapping and text; kept for the next column of that type unless mapping
    it warned (a warning names its column)."""
    before = len(warnings)
    mapped = mapper.map(typid, typmod, ndims, f"{schema}.{table}.{column}", warnings)
    found = (mapped, catalog.type_text(typid, typmod))
    if len(warnings) == before:
        catalog.resolved[typid, typmod, ndims] = found
    return found


def build_collection(
    relation: Any, catalog: Catalog, mapper: TypeMapper, warnings: list[str]
) -> CollectionSpec:
    relid = int(relation["oid"])
    schema: str = relation["schema"]
    table: str = relation["name"]
    kind = _KINDS[relation["relkind"]]
    is_table = kind == "table"
    # Positional unpacking (the order of COLUMNS_SQL's select list): at 20,000 columns, lookups
    # by name are a measurable share of the build.
    columns = sorted(catalog.columns.get(relid, ()), key=_ATTNUM)
    by_attnum = {c[1]: c[2] for c in columns}

    constraints = catalog.constraints.get(relid, ())
    defaults = {con[3][0]: con[9] for con in constraints if con[2] == "d"}
    checks: list[CheckSpec] = []
    fields: dict[str, FieldSpec] = {}
    resolved = catalog.resolved
    for _, attnum, col_name, typid, typmod, notnull, ndims, generation, note in columns:
        default = defaults.get(attnum)
        found = resolved.get((typid, typmod, ndims))
        if found is None:
            found = _resolve(
                catalog, mapper, typid, typmod, ndims, warnings, schema, table, col_name
            )
        mapped, source_type = found
        generated = _generated(generation, default)
        nullable = not (notnull or (is_table and mapped.not_null))
        spec = _new(FieldSpec)
        values = {
            "name": col_name,
            "type": mapped.type,
            "source_type": source_type,
            "nullable": nullable,
            "required": is_table
            and not nullable
            and default is None
            and generated is None
            and not mapped.has_default,
            "default": default,
            "generated": generated,
            "comment": note,
        }
        # _make, inlined: this loop runs once per column of the database.
        if _TRUSTED:
            SET_DICT(spec, values)
            SET_FIELDS_SET(spec, _FIELD_SET)
            SET_EXTRA(spec, None)
            SET_PRIVATE(spec, None)
        else:
            spec = FieldSpec.model_validate(values)
        fields[col_name] = spec
        for check in mapped.checks:
            expression = bind_domain_value(check, quote_ident(col_name))
            checks.append(CheckSpec(name=source_type, expression=expression))

    primary_key: tuple[str, ...] = ()
    foreign_keys: list[ForeignKeySpec] = []
    for con in constraints:
        contype = con["contype"]
        if contype == "d":
            continue
        local = tuple(by_attnum[n] for n in con["conkey"] or ())
        if contype == "p":
            primary_key = local
        elif contype == "f":
            foreign_keys.append(
                _make(
                    ForeignKeySpec,
                    {
                        "name": con["conname"],
                        "fields": local,
                        "ref_collection": con["ref_name"],
                        "ref_namespace": con["ref_schema"],
                        "ref_fields": tuple(con["ref_columns"]),
                        "on_delete": _ACTIONS.get(con["on_delete"]),
                        "on_update": _ACTIONS.get(con["on_update"]),
                    },
                    _FK_SET,
                )
            )
        elif contype == "c" and not _as_enum(con["definition"], local, fields):
            checks.append(CheckSpec(name=con["conname"], expression=con["definition"]))

    indexes = [
        _index(ix, by_attnum) for ix in catalog.indexes.get(relid, ()) if not ix["indisprimary"]
    ]
    row_estimate = relation["row_estimate"]
    size = relation["size_bytes"]
    stats = None
    if row_estimate is not None or size is not None:
        stats = _make(
            CollectionStats,
            {
                "row_estimate": round(row_estimate) if row_estimate is not None else None,
                "size_bytes": int(size) if size is not None else None,
                "avg_size_bytes": None,
                "sampled": None,
                "fields": {},
                "ttl": None,
            },
            _STATS_SET,
        )
    if len(indexes) > 1:
        indexes.sort(key=lambda i: i.name)
    if len(foreign_keys) > 1:
        foreign_keys.sort(key=lambda f: f.name or "")
    if len(checks) > 1:
        checks.sort(key=lambda c: (c.name or "", c.expression))
    return _make(
        CollectionSpec,
        {
            "name": table,
            "namespace": schema,
            "kind": kind,
            "primary_key": primary_key,
            "fields": tuple(fields.values()),
            "indexes": tuple(indexes),
            "foreign_keys": tuple(foreign_keys),
            "checks": tuple(checks),
            "comment": relation["comment"],
            "path": None,
            "file_format": None,
            "stats": stats,
        },
        _COLLECTION_SET,
    )


def build_snapshot(
    name: str, collections: Iterable[CollectionSpec], warnings: Iterable[str]
) -> Snapshot:
    """The snapshot: collections by (schema, name), warnings sorted and unique. Its validator
    (no collection listed twice) holds by construction — pg_class has one row per schema and
    name — and re-running it would re-run every collection's too."""
    return _make(
        Snapshot,
        {
            "format": Snapshot.model_fields["format"].default,
            "source": SourceInfo(name=name, kind="postgres"),
            "collections": tuple(sorted(collections, key=lambda c: (c.namespace or "", c.name))),
            "warnings": tuple(sorted(set(warnings))),
        },
        _SNAPSHOT_SET,
    )


def _as_enum(definition: str, local: tuple[str, ...], fields: dict[str, FieldSpec]) -> bool:
    """Turn a single-column ``IN`` check into the column's enum type; False if it is not one."""
    found = parse_enum_check(definition)
    if found is None or len(local) != 1 or found[0] != local[0]:
        return False
    spec = fields.get(local[0])
    if spec is None or spec.type.kind not in _ENUMERABLE:
        return False
    values = found[1]
    if (spec.type.kind == LogicalType.INT) != isinstance(values[0], int):
        return False
    fields[local[0]] = spec.model_copy(
        update={"type": TypeSpec(kind=LogicalType.ENUM, enum_values=values)}
    )
    return True


def _index(row: Any, by_attnum: dict[int, str]) -> IndexSpec:
    keys = [int(k) for k in row["keys"] or ()]
    texts = list(row["key_texts"] or ())
    names = tuple(
        by_attnum.get(k, texts[i] if i < len(texts) else "<expression>") if k else texts[i]
        for i, k in enumerate(keys)
    )
    return _make(
        IndexSpec,
        {
            "name": row["name"],
            "fields": names,
            "unique": bool(row["indisunique"]),
            "partial": row["predicate"],
            "expression": any(k == 0 for k in keys),
            "sparse": False,
            "ttl_seconds": None,
        },
        _INDEX_SET,
    )
