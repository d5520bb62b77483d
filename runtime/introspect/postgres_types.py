"""PostgreSQL types → snapshot TypeSpecs, from the rows of the catalog's type-closure query.

Decisions (the snapshot depends on them):

- ``numeric(p,s)`` → decimal with precision and scale; bare ``numeric`` → decimal with neither.
- ``money`` → decimal without precision/scale: its value is an exact amount, but its *text*
  (and asyncpg's decoding) carries a locale-dependent currency symbol, so readers select
  ``col::numeric``; ``source_type`` stays ``money`` for them to see.
- ``inet``, ``cidr``, ``macaddr``, ``macaddr8`` → str without a catalog-level semantic: an
  ``inet`` may hold a prefix (``10.0.0.1/24``) that no IP-address validator accepts, and ``cidr``
  is a network. Sampling may still refine an ``inet`` column to ipv4/ipv6/ip when every sampled
  value is a bare address.
- ``time``/``timestamp`` are naive (``tz_aware=False``), ``timetz``/``timestamptz`` aware.
- Arrays carry their item type; ``dimensions`` is set when the declaration has more than one
  (``attndims``; PostgreSQL does not enforce it, so it documents intent).
- Domains map to their base type (typmod included); a domain NOT NULL makes the column NOT NULL,
  a domain ``CHECK (VALUE IN (...))`` makes it an enum, other domain checks become table checks.
- Extension string types (``citext`` and any base type in the string category) → str. Anything
  else unknown (geometry, ranges, tsvector, bit strings, ...) → ``unknown`` and a warning naming
  the column and the type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..schema import FieldSpec, LogicalType, TypeSpec
from .postgres_checks import parse_enum_check

__all__ = ["MappedType", "PgAttribute", "PgType", "TypeMapper"]

_SIMPLE: dict[str, LogicalType] = {
    "int2": LogicalType.INT,
    "int4": LogicalType.INT,
    "int8": LogicalType.INT,
    "oid": LogicalType.INT,
    "float4": LogicalType.FLOAT,
    "float8": LogicalType.FLOAT,
    "text": LogicalType.STR,
    "name": LogicalType.STR,
    "xml": LogicalType.STR,
    "inet": LogicalType.STR,
    "cidr": LogicalType.STR,
    "macaddr": LogicalType.STR,
    "macaddr8": LogicalType.STR,
    "bool": LogicalType.BOOL,
    "date": LogicalType.DATE,
    "interval": LogicalType.TIMEDELTA,
    "uuid": LogicalType.UUID,
    "json": LogicalType.JSON,
    "jsonb": LogicalType.JSON,
    "bytea": LogicalType.BYTES,
    "money": LogicalType.DECIMAL,
}
_TEMPORAL: dict[str, tuple[LogicalType, bool]] = {
    "time": (LogicalType.TIME, False),
    "timetz": (LogicalType.TIME, True),
    "timestamp": (LogicalType.DATETIME, False),
    "timestamptz": (LogicalType.DATETIME, True),
}
#: Extension types known by name wherever the extension was installed.
_EXTENSION: dict[str, LogicalType] = {"citext": LogicalType.STR}
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class PgAttribute:
    """One attribute of a composite type."""

    name: str
    type_oid: int
    typmod: int
    ndims: int
    text: str


@dataclass(frozen=True, slots=True)
class PgType:
    oid: int
    schema: str
    name: str
    typtype: str
    category: str
    elem: int
    base: int
    typmod: int
    not_null: bool
    ndims: int
    has_default: bool
    text: str
    enum_labels: tuple[str, ...] | None = None
    domain_checks: tuple[str, ...] = ()
    attributes: tuple[PgAttribute, ...] = ()
    #: ``format_type`` of this type with each typmod the inspected columns use.
    column_texts: tuple[tuple[int, str], ...] = ()

    @classmethod
    def from_row(cls, row: Any) -> PgType:
        attributes: tuple[PgAttribute, ...] = ()
        if row["attributes"]:
            attributes = tuple(
                PgAttribute(a["name"], int(a["type"]), int(a["typmod"]), int(a["ndims"]), a["text"])
                for a in json.loads(row["attributes"])
            )
        labels = row["enum_labels"]
        return cls(
            oid=int(row["oid"]),
            schema=row["schema"],
            name=row["typname"],
            typtype=row["typtype"],
            category=row["typcategory"],
            elem=int(row["typelem"]),
            base=int(row["typbasetype"]),
            typmod=int(row["typtypmod"]),
            not_null=bool(row["typnotnull"]),
            ndims=int(row["typndims"]),
            has_default=bool(row["has_default"]),
            text=row["type_text"],
            enum_labels=tuple(labels) if labels is not None else None,
            domain_checks=tuple(row["domain_checks"] or ()),
            attributes=attributes,
            column_texts=tuple(
                zip(row["column_typmods"] or (), row["column_texts"] or (), strict=True)
            ),
        )


@dataclass(slots=True)
class MappedType:
    type: TypeSpec
    #: A domain in the chain is NOT NULL.
    not_null: bool = False
    #: A domain in the chain has a default.
    has_default: bool = False
    #: Domain CHECKs that are not enums, still spelled with ``VALUE``.
    checks: list[str] = field(default_factory=list)


def _numeric(typmod: int) -> TypeSpec:
    if typmod < 4:
        return TypeSpec(kind=LogicalType.DECIMAL)
    packed = typmod - 4
    # PostgreSQL 15 packs a signed 11-bit scale (negative scales round left of the point).
    scale = ((packed & 0x7FF) ^ 1024) - 1024
    return TypeSpec(kind=LogicalType.DECIMAL, precision=(packed >> 16) & 0xFFFF, scale=scale)


def _base(t: PgType, typmod: int) -> TypeSpec | None:
    if t.schema == "pg_catalog":
        simple = _SIMPLE.get(t.name)
        if simple is not None:
            return TypeSpec(kind=simple)
        if t.name == "numeric":
            return _numeric(typmod)
        if t.name in ("varchar", "bpchar"):
            return TypeSpec(kind=LogicalType.STR, max_length=typmod - 4 if typmod >= 4 else None)
        if t.name == "char":
            return TypeSpec(kind=LogicalType.STR, max_length=1)
        temporal = _TEMPORAL.get(t.name)
        if temporal is not None:
            return TypeSpec(kind=temporal[0], tz_aware=temporal[1])
        return None
    known = _EXTENSION.get(t.name)
    if known is not None:
        return TypeSpec(kind=known)
    if t.typtype == "b" and t.category == "S":
        return TypeSpec(kind=LogicalType.STR)
    return None


class TypeMapper:
    """Maps (type oid, typmod, declared dimensions) to TypeSpecs over one catalog read."""

    def __init__(self, types: dict[int, PgType]) -> None:
        self.types = types
        # Thousands of columns share a handful of types: map each once (specs are frozen).
        self._cache: dict[tuple[int, int, int], MappedType] = {}

    def lookup(self, oid: int, typmod: int, ndims: int) -> MappedType | None:
        """The mapping already made for this (type, typmod, dimensions), if any."""
        return self._cache.get((oid, typmod, ndims))

    def map(self, oid: int, typmod: int, ndims: int, where: str, warnings: list[str]) -> MappedType:
        """``where`` names the column (``schema.table.column``) for warnings."""
        key = (oid, typmod, ndims)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        before = len(warnings)
        mapped = self._map(oid, typmod, ndims, where, warnings, 0)
        if len(warnings) == before:  # a warning names its column: never reuse those
            self._cache[key] = mapped
        return mapped

    def _unknown(self, text: str, where: str, warnings: list[str]) -> MappedType:
        warnings.append(f"{where}: type {text} is not supported; typed as unknown")
        return MappedType(TypeSpec(kind=LogicalType.UNKNOWN))

    def _map(
        self, oid: int, typmod: int, ndims: int, where: str, warnings: list[str], depth: int
    ) -> MappedType:
        t = self.types.get(oid)
        if t is None or depth > _MAX_DEPTH:
            return self._unknown(t.text if t else f"oid {oid}", where, warnings)
        if t.category == "A" and t.elem:
            item = self._map(t.elem, typmod, 0, where, warnings, depth + 1)
            array = TypeSpec(
                kind=LogicalType.ARRAY, items=item.type, dimensions=ndims if ndims > 1 else None
            )
            # A domain over the element type constrains the items, not the column itself.
            return MappedType(array)
        if t.typtype == "d":
            return self._domain(t, ndims, where, warnings, depth)
        if t.typtype == "e":
            return MappedType(TypeSpec(kind=LogicalType.ENUM, enum_values=t.enum_labels or ()))
        if t.typtype == "c":
            return MappedType(self._composite(t, where, warnings, depth))
        base = _base(t, typmod)
        if base is None:
            return self._unknown(t.text, where, warnings)
        return MappedType(base)

    def _domain(
        self, t: PgType, ndims: int, where: str, warnings: list[str], depth: int
    ) -> MappedType:
        dims = ndims if ndims > 1 else t.ndims
        inner = self._map(t.base, t.typmod, dims, where, warnings, depth + 1)
        spec = inner.type
        checks = list(inner.checks)
        for definition in t.domain_checks:
            found = parse_enum_check(definition)
            if (
                found is not None
                and found[0] == "VALUE"
                and spec.kind in (LogicalType.STR, LogicalType.INT)
            ):
                spec = TypeSpec(kind=LogicalType.ENUM, enum_values=found[1])
            else:
                checks.append(definition)
        return MappedType(
            spec,
            not_null=inner.not_null or t.not_null,
            has_default=inner.has_default or t.has_default,
            checks=checks,
        )

    def _composite(self, t: PgType, where: str, warnings: list[str], depth: int) -> TypeSpec:
        fields: list[FieldSpec] = []
        for attr in t.attributes:
            inner = self._map(
                attr.type_oid, attr.typmod, attr.ndims, f"{where}.{attr.name}", warnings, depth + 1
            )
            fields.append(
                FieldSpec(
                    name=attr.name,
                    type=inner.type,
                    source_type=attr.text,
                    nullable=not inner.not_null,
                )
            )
        return TypeSpec(kind=LogicalType.OBJECT, fields=tuple(fields))
