"""Sorting rows in memory with the order SQL databases and MongoDB use: null/missing first
ascending (last descending), then values; rows that tie keep their order (the parser appends
the primary key, so the order is total).

Speed: a sort or a top-k (``limit``) first runs with a *raw* key — the values themselves
(negated for a descending numeric key among ascending ones), built once per query — and falls
back to the null-aware key only when the raw one raises (a null met a value, a nested object
was missing).  Both keys order every pair they can both compare the same way, and the raw key
raises whenever a null would meet a value, so the result is the same.  Top-k uses
``heapq.nsmallest``/``nlargest``, documented as equal to ``sorted(...)[:n]`` (ties included).
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .ast import SortKey
from .values import MISSING, getter, type_class

Row = Mapping[str, Any]
Key = Callable[[Row], Any]
R = TypeVar("R", bound=Mapping[str, Any])

#: MongoDB's order of type classes, used only when one untyped field mixes classes.
_RANK = {"null": 0, "num": 1, "str": 2, "dict": 3, "list": 4, "bytes": 5, "uuid": 6, "bool": 7}
#: Kinds whose values can be negated to reverse their order.
_NEGATABLE = frozenset({"int", "float", "decimal", "bool", "timedelta"})
_FAST_FAILS = (TypeError, KeyError)


def _key(sk: SortKey) -> Key:
    """The null-aware key of one sort field (ascending order)."""
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


def _negated_key(sk: SortKey) -> Key:
    """Null-aware key for a negatable typed field, reversed: nulls after values."""
    get = getter(sk.field.path, False)

    def key(row: Row) -> Any:
        v = get(row)
        return (1, 0) if v is None or v is MISSING else (0, -v)

    return key


@dataclass(frozen=True, slots=True)
class Ordering:
    """How to order rows by some sort keys: ``fast`` (may raise) then ``full`` keys, or
    ``passes`` (one stable sort per key, last first) when no single key exists."""

    fast: Key | None
    full: Key | None
    reverse: bool
    passes: tuple[tuple[Key, bool], ...] = ()


def ordering(keys: Sequence[SortKey]) -> Ordering:
    """Build the key functions for ``keys`` once."""
    if not keys:
        return Ordering(None, lambda r: 0, False)
    typed = all(k.field.kind != "any" for k in keys)
    first = keys[0].direction
    if all(k.direction == first for k in keys):
        parts = [_key(k) for k in keys]
        full = parts[0] if len(parts) == 1 else _tuple_key(parts)
        fast = _raw_key(keys, negate=()) if typed else None
        return Ordering(fast, full, first == -1)
    if typed:
        # Mixed directions: negate the minority side when its kinds allow it.
        for reverse, flip in ((False, -1), (True, 1)):
            flipped = [k for k in keys if k.direction == flip]
            if all(k.field.kind in _NEGATABLE for k in flipped):
                negate = tuple(k.direction == flip for k in keys)
                # A negated key puts nulls after values: last for a descending field in an
                # ascending sort, first for an ascending field in a reversed one.
                parts = [
                    _negated_key(k) if neg else _key(k) for k, neg in zip(keys, negate, strict=True)
                ]
                return Ordering(_raw_key(keys, negate), _tuple_key(parts), reverse)
    passes = tuple((_key(k), k.direction == -1) for k in reversed(keys))
    return Ordering(None, None, False, passes)


def _tuple_key(parts: list[Key]) -> Key:
    if len(parts) == 2:
        a, b = parts
        return lambda r: (a(r), b(r))
    return lambda r: tuple(f(r) for f in parts)


def _raw_key(keys: Sequence[SortKey], negate: tuple[bool, ...]) -> Key:
    """The values themselves (``-v`` where ``negate``): raises on nulls meeting values."""
    if not any(negate) and all(len(k.field.path) == 1 for k in keys):
        return operator.itemgetter(*(k.field.path[0] for k in keys))
    consts: list[Any] = []
    items: list[str] = []
    for i, k in enumerate(keys):
        src = "r"
        for part in k.field.path:
            consts.append(part)
            src = f"{src}[c{len(consts) - 1}]"
        items.append(f"-{src}" if negate and negate[i] else src)
    body = items[0] if len(items) == 1 else "(" + ", ".join(items) + ",)"
    names = ", ".join(f"c{i}" for i in range(len(consts)))
    source = f"def _factory(_c):\n    {names}, = _c\n    return lambda r: {body}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<xrepo sort key>", "exec"), {"__builtins__": {}}, namespace)
    key: Key = namespace["_factory"](tuple(consts))
    return key


def order_rows(rows: Iterable[R], keys: Sequence[SortKey], limit: int | None = None) -> list[R]:
    """A new list of ``rows`` in ``keys`` order; only the first ``limit`` when given."""
    return ordered_by(ordering(keys), rows, limit)


def ordered_by(order: Ordering, rows: Iterable[R], limit: int | None = None) -> list[R]:
    data = rows if isinstance(rows, list) else list(rows)
    if limit is not None and limit <= 0:
        return []
    if order.passes:
        out = list(data)
        for key, reverse in order.passes:
            out.sort(key=key, reverse=reverse)
        return out if limit is None else out[:limit]
    full = order.full
    assert full is not None  # set whenever there are no passes
    if limit is not None and limit < len(data):
        pick = heapq.nlargest if order.reverse else heapq.nsmallest
        if order.fast is not None:
            try:
                return pick(limit, data, key=order.fast)
            except _FAST_FAILS:
                pass
        return pick(limit, data, key=full)
    if order.fast is not None:
        try:
            return sorted(data, key=order.fast, reverse=order.reverse)
        except _FAST_FAILS:
            pass
    return sorted(data, key=full, reverse=order.reverse)


def sort_rows(rows: list[R], keys: Sequence[SortKey]) -> list[R]:
    """Sort ``rows`` in place by ``keys`` (stable)."""
    rows[:] = order_rows(rows, keys)
    return rows


__all__ = ["Ordering", "order_rows", "ordered_by", "ordering", "sort_rows"]
