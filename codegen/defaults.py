"""Column defaults that are plain literals, spelled as Python source for the create model.

Which defaults count and their values are decided by
:func:`xrepo.runtime.defaults.literal_default_value` (dynamic models use the same rule).
"""

from __future__ import annotations

from decimal import Decimal

from xrepo.runtime.defaults import literal_default_value
from xrepo.runtime.schema import FieldSpec, LogicalType

from .naming import py_str


def literal_default(f: FieldSpec) -> tuple[str, frozenset[str]] | None:
    """(Python source of the default, modules it needs), or None when not a plain literal."""
    found = literal_default_value(f)
    if found is None:
        return None
    value = found[0]
    if isinstance(value, bool):
        return ("True" if value else "False"), frozenset()
    if isinstance(value, str):
        return py_str(value), frozenset()
    if f.type.kind == LogicalType.DECIMAL:
        return f"decimal.Decimal({py_str(str(value))})", frozenset({"decimal"})
    if isinstance(value, Decimal):  # pragma: no cover - only decimal fields keep a Decimal
        return None
    return repr(value), frozenset()
