"""AST → a Python predicate, compiled once per query into composed closures.

MongoDB semantics: ``{"x": None}`` matches null and missing; a condition on an array field
matches when some element matches (``{"tags": "a"}``); ``$ne``/``$nin``/``$not``/``$nor`` are
exact negations (so ``{"x": {"$ne": 5}}`` matches null and missing); values of another type class
never match and never raise.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from .ast import (
    All,
    And,
    Compare,
    ElemMatch,
    Exists,
    FieldRef,
    In,
    MatchAll,
    Node,
    Nor,
    Not,
    Or,
    Regex,
    Size,
)
from .regex import compile_search
from .values import MISSING, Fan, getter, ordered, same_eq

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
Test = Callable[[Any], bool]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_TYPED = frozenset(
    {"str", "int", "float", "decimal", "bool", "date", "datetime", "time", "timedelta", "uuid"}
)


def compile_predicate(node: Node) -> Predicate:
    """A ``row -> bool`` function for ``node`` (rows keyed by source names)."""
    if isinstance(node, MatchAll):
        return lambda row: True
    if isinstance(node, And):
        preds = tuple(compile_predicate(n) for n in node.items)
        if len(preds) == 2:
            a, b = preds
            return lambda row: a(row) and b(row)
        return lambda row: all(p(row) for p in preds)
    if isinstance(node, Or):
        preds = tuple(compile_predicate(n) for n in node.items)
        return lambda row: any(p(row) for p in preds)
    if isinstance(node, Nor):
        preds = tuple(compile_predicate(n) for n in node.items)
        return lambda row: not any(p(row) for p in preds)
    if isinstance(node, Not):
        inner = compile_predicate(node.where)
        return lambda row: not inner(row)
    if isinstance(node, Compare) and node.op == "ne":
        eq = compile_predicate(Compare(node.field, "eq", node.value))
        return lambda row: not eq(row)
    if isinstance(node, In) and node.negate:
        pos = compile_predicate(In(node.field, node.values))
        return lambda row: not pos(row)
    fast = _fast(node)
    if fast is not None:
        return fast
    return _leaf(node)


def _simple(ref: FieldRef) -> bool:
    return ref.kind in _TYPED and not ref.array and not ref.through_array


def _fast(node: Node) -> Predicate | None:
    """Typed scalar columns: no arrays, no cross-type values — the hot path."""
    if not isinstance(node, Compare | In) or not _simple(node.field):
        return None
    path = node.field.path
    get: Callable[[Row], Any]
    if len(path) == 1:
        key = path[0]

        def get(row: Row) -> Any:
            return row.get(key)
    else:
        walk = getter(path, False)

        def get(row: Row) -> Any:
            v = walk(row)
            return None if v is MISSING else v

    if isinstance(node, In):
        try:
            members: Any = frozenset(node.values)
        except TypeError:
            members = node.values
        return lambda row: get(row) in members
    value = node.value
    if node.op == "eq":
        if value is None:
            return lambda row: get(row) is None
        return lambda row: get(row) == value
    op = _OPS[node.op]

    def compare(row: Row) -> bool:
        try:
            return op(get(row), value)
        except TypeError:  # None, or a value of another type
            return False

    return compare


def _leaf(node: Node) -> Predicate:
    ref: FieldRef = node.field  # type: ignore[attr-defined]
    get = getter(ref.path, True)
    on_missing = False
    whole: Test | None = None
    test: Test
    if isinstance(node, Compare):
        value = node.value
        if value is None:
            on_missing = True
            test = _is_none
        elif node.op == "eq":
            test = _equals(value)
            if isinstance(value, tuple):
                listed = list(value)
                whole = lambda v: v == listed  # noqa: E731
        else:
            cmp = ordered(_OPS[node.op])
            test = lambda v: cmp(v, value)  # noqa: E731
    elif isinstance(node, In):
        on_missing = None in node.values
        tests = tuple(_is_none if v is None else _equals(v) for v in node.values)
        test = lambda v: any(t(v) for t in tests)  # noqa: E731
    elif isinstance(node, Exists):
        present = node.present
        return lambda row: _present(get(row)) == present
    elif isinstance(node, Regex):
        search = compile_search(node.pattern, node.options)
        test = lambda v: isinstance(v, str) and search(v)  # noqa: E731
    elif isinstance(node, Size):
        size = node.size
        return _on_lists(get, lambda v: len(v) == size)
    elif isinstance(node, All):
        needed = tuple(_equals(v) for v in node.values)
        if not needed:
            return lambda row: False
        return _on_lists(get, lambda v: all(any(t(x) for x in v) for t in needed))
    elif isinstance(node, ElemMatch):
        inner = compile_predicate(node.where)
        return _on_lists(get, lambda v: any(inner(x) for x in v))
    else:  # pragma: no cover - the parser builds no other node
        raise TypeError(f"unknown node {node!r}")
    return _over_values(get, test, whole, on_missing)


def _is_none(v: Any) -> bool:
    return v is None


def _equals(value: Any) -> Test:
    if isinstance(value, tuple):
        value = list(value)
    return lambda v: same_eq(v, value)


def _present(v: Any) -> bool:
    return v is not MISSING and not (isinstance(v, Fan) and not v)


def _over_values(
    get: Callable[[Row], Any], test: Test, whole: Test | None, on_missing: bool
) -> Predicate:
    def single(v: Any) -> bool:
        if isinstance(v, list):
            return any(test(x) for x in v) or (whole is not None and whole(v))
        return test(v)

    def pred(row: Row) -> bool:
        v = get(row)
        if isinstance(v, Fan):
            return any(single(x) for x in v) if v else on_missing
        if v is MISSING:
            return on_missing
        return single(v)

    return pred


def _on_lists(get: Callable[[Row], Any], test: Test) -> Predicate:
    def pred(row: Row) -> bool:
        v = get(row)
        if isinstance(v, Fan):
            return any(isinstance(x, list) and test(x) for x in v)
        return isinstance(v, list) and test(v)

    return pred


__all__ = ["Predicate", "compile_predicate"]
