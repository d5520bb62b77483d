"""Sorting rows in memory with the order SQL databases and MongoDB use: null/missing first
ascending (last descending), then values; rows that tie keep their order (the parser appends
the primary key, so the order is total)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .ast import SortKey
from .values import MISSING, getter, type_class

Row = Mapping[str, Any]

#: MongoDB's order of type classes, used only when one untyped field mixes classes.
_RANK = {"null": 0, "num": 1, "str": 2, "dict": 3, "list": 4, "bytes": 5, "uuid": 6, "bool": 7}


def _key(sk: SortKey) -> Callable[[Row], Any]:
    get = getter(sk.field.path, False)
    if sk.field.kind != "any":

        def typed(row: Row) -> Any:
            v = get(row)
            return (0, 0) if v is None or v is MISSING else (1, v)

        return typed

    def untyped(row: Row) -> Any:
        v = get(row)
        if v is MISSING:
            v = None
        cls = type_class(v)
        return (_RANK.get(cls, 8), cls, v if cls != "null" else 0)

    return untyped


def sort_rows(rows: list[Row], keys: Sequence[SortKey]) -> list[Row]:
    """Sort ``rows`` in place by ``keys`` (stable, one pass per key from the last)."""
    if len(keys) == 1 or all(k.direction == keys[0].direction for k in keys):
        funcs = [_key(k) for k in keys]
        if len(funcs) == 1:
            rows.sort(key=funcs[0], reverse=keys[0].direction == -1)
        else:
            rows.sort(key=lambda r: tuple(f(r) for f in funcs), reverse=keys[0].direction == -1)
        return rows
    for k in reversed(keys):
        rows.sort(key=_key(k), reverse=k.direction == -1)
    return rows


__all__ = ["sort_rows"]
