"""Value access and MongoDB-style comparison rules shared by the predicate and sort compilers.

Comparisons across type classes never raise: they simply do not match (MongoDB would order
across types; we keep the simpler rule "mismatched types → no match" and document it).
Numbers (int, float, Decimal) form one class; bool is its own class, as in MongoDB.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable, Mapping
from typing import Any


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: A path that is absent from a document (distinct from an explicit ``None``).
MISSING: Any = _Missing()


class Fan(list[Any]):
    """Values collected from each element of an array met half-way along a dotted path."""


_CLASS: dict[type, str] = {
    bool: "bool",
    int: "num",
    float: "num",
    decimal.Decimal: "num",
    str: "str",
    datetime.datetime: "datetime",
    datetime.date: "date",
    datetime.time: "time",
    datetime.timedelta: "timedelta",
    uuid.UUID: "uuid",
    bytes: "bytes",
    list: "list",
    dict: "dict",
    type(None): "null",
}


def type_class(value: Any) -> str:
    return _CLASS.get(type(value)) or _slow_class(value)


def _slow_class(value: Any) -> str:
    for tp, name in _CLASS.items():
        if isinstance(value, tp):
            return name
    return type(value).__name__


def same_eq(a: Any, b: Any) -> bool:
    """Equality within one type class (``True != 1``, ``1 == 1.0``)."""
    return type_class(a) == type_class(b) and bool(a == b)


def ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """``op`` restricted to operands of one orderable class; anything else is False."""

    def compare(a: Any, b: Any) -> bool:
        ca = type_class(a)
        if ca in ("list", "dict", "null") or ca != type_class(b):
            return False
        try:
            return op(a, b)
        except TypeError:  # e.g. naive vs aware datetimes
            return False

    return compare


def getter(path: tuple[str, ...], fan_out: bool) -> Callable[[Mapping[str, Any]], Any]:
    """A function returning the value at ``path`` (``MISSING`` if absent).

    With ``fan_out``, lists met before the leaf are traversed and a :class:`Fan` of the leaf
    values found is returned (MongoDB's ``{"items.sku": ...}`` semantics).
    """
    if len(path) == 1:
        key = path[0]
        return lambda row: row.get(key, MISSING)
    if not path:
        return lambda value: value

    def walk(node: Any, i: int) -> Any:
        while i < len(path):
            if isinstance(node, Mapping):
                node = node.get(path[i], MISSING)
                i += 1
            elif fan_out and isinstance(node, list):
                out = Fan()
                for item in node:
                    v = walk(item, i)
                    if isinstance(v, Fan):
                        out.extend(v)
                    elif v is not MISSING:
                        out.append(v)
                return out
            else:
                return MISSING
        return node

    return lambda row: walk(row, 0)


__all__ = ["MISSING", "Fan", "getter", "ordered", "same_eq", "type_class"]
