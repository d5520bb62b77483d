"""Column defaults that are plain literals become defaults of the create model.

Then a row created through any backend — the database applying ``DEFAULT 'free'`` or the
in-memory test double that knows no SQL — carries the same value. Expressions
(``CURRENT_TIMESTAMP``, ``nextval(...)``) stay the database's business: the field is optional.

Shared by the code generator (which spells the value) and dynamic models (which use it).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

from .schema import FieldSpec, LogicalType

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

LiteralValue = str | int | float | bool | Decimal


def _unwrap(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _parse(text: str) -> str | int | float | bool | Decimal | None:
    """The literal's value; raises ValueError for anything that is not a plain literal."""
    text = _unwrap(text)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        body = text[1:-1]
        if "'" in body.replace("''", ""):
            raise ValueError(text)
        return body.replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        value = json.loads(text)  # JSON Schema defaults are JSON literals
        if not isinstance(value, str):
            raise ValueError(text)
        return value
    lower = text.lower()
    if lower in ("true", "false"):
        return lower == "true"
    if _NUMBER.fullmatch(text):
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else Decimal(text)
    raise ValueError(text)


def literal_default_value(f: FieldSpec) -> tuple[LiteralValue] | None:
    """``(value,)`` typed as the field's Python type, or None when not a plain literal."""
    if f.default is None or f.generated is not None:
        return None
    try:
        value = _parse(f.default)
    except (ValueError, InvalidOperation):
        return None
    kind = f.type.kind
    if kind == LogicalType.BOOL and isinstance(value, bool | int) and value in (0, 1):
        return (bool(value),)
    if kind == LogicalType.STR and isinstance(value, str):
        if f.type.max_length is not None and len(value) > f.type.max_length:
            return None
        return (value,)
    if kind == LogicalType.ENUM and value in (f.type.enum_values or ()):
        assert isinstance(value, str | int)
        return (value,)
    if kind == LogicalType.INT and isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    numeric = isinstance(value, int | Decimal) and not isinstance(value, bool)
    if kind == LogicalType.FLOAT and numeric:
        assert isinstance(value, int | Decimal)
        return (float(value),)
    if kind == LogicalType.DECIMAL and numeric:
        return (Decimal(str(value)),)
    return None


__all__ = ["LiteralValue", "literal_default_value"]
