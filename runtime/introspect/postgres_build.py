"""Catalog rows (the fixed queries of :mod:`.postgres_catalog`) → CollectionSpecs.

Pure: no I/O here, so the whole schema is built from five result sets, however many tables.

Decisions:

- Partitioned tables are one collection (``kind="table"``); their partitions never appear.
- ``serial`` (a ``nextval(...)`` default) → ``generated="autoincrement"``; identity columns (ALWAYS
  or BY DEFAULT) → ``"identity"``; ``GENERATED ALWAYS AS (...) STORED`` → ``"computed"`` (its
  expression is not reported as a default). None of them is required of writers.
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
from typing import Any

from xrepo.runtime.introspect.postgres_catalog import quote_ident
from xrepo.runtime.introspect.postgres_checks import bind_domain_value, parse_enum_check
from xrepo.runtime.introspect.postgres_types import PgType, TypeMapper
from xrepo.runtime.schema import (
    CheckSpec,
    CollectionKind,
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    ForeignKeySpec,
    Generated,
    IndexSpec,
    LogicalType,
    TypeSpec,
)

__all__ = ["Catalog", "build_collection"]

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


@dataclass(slots=True)
class Catalog:
    """The result sets of one catalog read, grouped by relation oid."""

    relations: list[Any]
    columns: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    constraints: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    indexes: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    types: dict[int, PgType] = field(default_factory=dict)

    def add(self, target: dict[int, list[Any]], rows: Iterable[Any]) -> None:
        for row in rows:
            target[row[0]].append(row)  # every per-relation query selects relid first


def _generated(identity: str, generated: str, default: str | None) -> Generated | None:
    if identity in ("a", "d"):
        return "identity"
    if generated == "s":
        return "computed"
    if default is not None and default.startswith("nextval("):
        return "autoincrement"
    return None


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
    columns = sorted(catalog.columns.get(relid, ()), key=lambda c: int(c[1]))
    by_attnum = {int(c[1]): str(c[2]) for c in columns}

    checks: list[CheckSpec] = []
    fields: dict[str, FieldSpec] = {}
    for col in columns:
        _, _, col_name, typid, typmod, type_text, notnull, ndims, identity, gen, default, note = col
        mapped = mapper.lookup(typid, typmod, ndims)
        if mapped is None:
            where = f"{schema}.{table}.{col_name}"
            mapped = mapper.map(int(typid), int(typmod), int(ndims), where, warnings)
        generated = _generated(identity, gen, default)
        nullable = not (notnull or (is_table and mapped.not_null))
        fields[col_name] = FieldSpec(
            name=col_name,
            type=mapped.type,
            source_type=type_text,
            nullable=nullable,
            required=is_table
            and not nullable
            and default is None
            and generated is None
            and not mapped.has_default,
            default=default,
            generated=generated,
            comment=note,
        )
        for check in mapped.checks:
            expression = bind_domain_value(check, quote_ident(col_name))
            checks.append(CheckSpec(name=type_text, expression=expression))

    primary_key: tuple[str, ...] = ()
    foreign_keys: list[ForeignKeySpec] = []
    for con in catalog.constraints.get(relid, []):
        local = tuple(by_attnum[int(n)] for n in con["conkey"] or ())
        contype = con["contype"]
        if contype == "p":
            primary_key = local
        elif contype == "f":
            foreign_keys.append(
                ForeignKeySpec(
                    name=con["conname"],
                    fields=local,
                    ref_collection=con["ref_name"],
                    ref_namespace=con["ref_schema"],
                    ref_fields=tuple(con["ref_columns"]),
                    on_delete=_ACTIONS.get(con["on_delete"]),
                    on_update=_ACTIONS.get(con["on_update"]),
                )
            )
        elif contype == "c" and not _as_enum(con["definition"], local, fields):
            checks.append(CheckSpec(name=con["conname"], expression=con["definition"]))

    indexes = [
        _index(ix, by_attnum) for ix in catalog.indexes.get(relid, []) if not ix["indisprimary"]
    ]
    row_estimate = relation["row_estimate"]
    size = relation["size_bytes"]
    stats = None
    if row_estimate is not None or size is not None:
        stats = CollectionStats(
            row_estimate=round(row_estimate) if row_estimate is not None else None,
            size_bytes=int(size) if size is not None else None,
        )
    return CollectionSpec(
        name=table,
        namespace=schema,
        kind=kind,
        primary_key=primary_key,
        fields=tuple(fields.values()),
        indexes=tuple(sorted(indexes, key=lambda i: i.name)),
        foreign_keys=tuple(sorted(foreign_keys, key=lambda f: f.name or "")),
        checks=tuple(sorted(checks, key=lambda c: (c.name or "", c.expression))),
        comment=relation["comment"],
        stats=stats,
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
    return IndexSpec(
        name=row["name"],
        fields=names,
        unique=bool(row["indisunique"]),
        partial=row["predicate"],
        expression=any(k == 0 for k in keys),
    )
