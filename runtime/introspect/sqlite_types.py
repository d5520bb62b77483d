"""Declared SQLite column types → logical types.

Common declared names map exactly (``VARCHAR(40)`` → str, max_length 40; ``DECIMAL(10,2)`` →
decimal 10/2; ``DATETIME`` → naive datetime). Anything else follows SQLite's own affinity rules
(https://www.sqlite.org/datatype3.html §3.1), in SQLite's order, because they decide what the
database actually stores: a name containing INT is an integer (even ``POINT``), CHAR/CLOB/TEXT is
text, BLOB is bytes, REAL/FLOA/DOUB is a float. A name that only reaches SQLite's catch-all NUMERIC
affinity (``MONEY``, ``GEOMETRY``) or an empty declared type says nothing reliable, so the
inspector infers those columns from sampled values instead (``None`` here).
"""

from __future__ import annotations

import re

from ..schema import LogicalType, TypeSpec

_TYPE_RE = re.compile(r"^\s*([^(]*?)\s*(?:\(\s*([+-]?\d+)\s*(?:,\s*([+-]?\d+)\s*)?\))?\s*$")

_INT = {
    "INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "INT2", "INT4", "INT8",
    "UNSIGNED BIG INT", "BIGSERIAL", "SERIAL",
}  # fmt: skip
_FLOAT = {"REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT", "FLOAT4", "FLOAT8"}
_DECIMAL = {"NUMERIC", "DECIMAL", "NUMBER"}
_BOOL = {"BOOLEAN", "BOOL"}
_TEXT = {
    "TEXT", "CLOB", "STRING", "VARCHAR", "CHAR", "CHARACTER", "NCHAR", "NVARCHAR",
    "VARYING CHARACTER", "CHARACTER VARYING", "NATIVE CHARACTER", "NTEXT", "CITEXT",
}  # fmt: skip
_DATETIME_NAIVE = {"DATETIME", "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"}
_DATETIME_AWARE = {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "DATETIMEOFFSET"}
_BYTES = {"BLOB", "BYTEA", "BINARY", "VARBINARY"}
_JSON = {"JSON", "JSONB"}
_UUID = {"UUID", "GUID", "UNIQUEIDENTIFIER"}


def map_declared_type(declared: str) -> TypeSpec | None:
    """The logical type for a declared column type, or None when values must decide."""
    match = _TYPE_RE.match(declared)
    if match is None:
        base, p1, p2 = declared.strip().upper(), None, None
    else:
        base = " ".join(match.group(1).upper().split())
        p1, p2 = match.group(2), match.group(3)
    first = int(p1) if p1 is not None else None
    second = int(p2) if p2 is not None else None
    if not base:
        return None
    if base in _INT:
        return TypeSpec(kind=LogicalType.INT)
    if base in _FLOAT:
        return TypeSpec(kind=LogicalType.FLOAT)
    if base in _DECIMAL:
        return TypeSpec(kind=LogicalType.DECIMAL, precision=first, scale=second)
    if base in _BOOL:
        return TypeSpec(kind=LogicalType.BOOL)
    if base == "DATE":
        return TypeSpec(kind=LogicalType.DATE)
    if base in _DATETIME_NAIVE:
        return TypeSpec(kind=LogicalType.DATETIME, tz_aware=False)
    if base in _DATETIME_AWARE:
        return TypeSpec(kind=LogicalType.DATETIME, tz_aware=True)
    if base == "TIME":
        return TypeSpec(kind=LogicalType.TIME, tz_aware=False)
    if base in _TEXT:
        return TypeSpec(kind=LogicalType.STR, max_length=first if first and first > 0 else None)
    if base in _BYTES:
        return TypeSpec(kind=LogicalType.BYTES)
    if base in _JSON:
        return TypeSpec(kind=LogicalType.JSON)
    if base in _UUID:
        return TypeSpec(kind=LogicalType.UUID)
    return _by_affinity(base)


def _by_affinity(base: str) -> TypeSpec | None:
    if "INT" in base:
        return TypeSpec(kind=LogicalType.INT)
    if "CHAR" in base or "CLOB" in base or "TEXT" in base:
        return TypeSpec(kind=LogicalType.STR)
    if "BLOB" in base:
        return TypeSpec(kind=LogicalType.BYTES)
    if "REAL" in base or "FLOA" in base or "DOUB" in base:
        return TypeSpec(kind=LogicalType.FLOAT)
    return None
