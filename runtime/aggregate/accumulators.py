"""``$group`` accumulators: one small state object per group and accumulator.

``$sum`` ignores non-numbers (0 when none), ``$avg`` ignores non-numbers (null when none),
``$min``/``$max`` skip null and missing (null when nothing is left) and compare across types
in MongoDB's order, ``$push``/``$addToSet`` skip missing values (null is kept), ``$first``/
``$last`` give the value of the first/last document in input order (missing → null).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..query.values import MISSING
from .expr import Expr, Scope, compile_expr
from .order import is_number, order_key


class State:
    __slots__ = ()

    def add(self, value: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


def _plus(a: Any, b: Any) -> Any:
    if isinstance(a, decimal.Decimal) and isinstance(b, float):
        b = decimal.Decimal(repr(b))
    elif isinstance(b, decimal.Decimal) and isinstance(a, float):
        a = decimal.Decimal(repr(a))
    return a + b


class Sum(State):
    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total: Any = 0

    def add(self, value: Any) -> None:
        if is_number(value):
            self.total = _plus(self.total, value)

    def result(self) -> Any:
        return self.total


class Avg(State):
    __slots__ = ("n", "total")

    def __init__(self) -> None:
        self.total: Any = 0
        self.n = 0

    def add(self, value: Any) -> None:
        if is_number(value):
            self.total = _plus(self.total, value)
            self.n += 1

    def result(self) -> Any:
        if not self.n:
            return None
        if isinstance(self.total, decimal.Decimal):
            return self.total / self.n
        return self.total / self.n


class Extreme(State):
    __slots__ = ("best", "key", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.best: Any = None
        self.key: Any = None

    def add(self, value: Any) -> None:
        if value is None or value is MISSING:
            return
        k = order_key(value)
        if self.key is None or (k < self.key if self.sign < 0 else k > self.key):
            self.best, self.key = value, k

    def result(self) -> Any:
        return self.best


class Count(State):
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, value: Any) -> None:
        self.n += 1

    def result(self) -> Any:
        return self.n


class Push(State):
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, value: Any) -> None:
        if value is not MISSING:
            self.items.append(value)

    def result(self) -> Any:
        return self.items


class AddToSet(State):
    __slots__ = ("items", "seen")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.seen: set[Any] = set()

    def add(self, value: Any) -> None:
        if value is MISSING:
            return
        k = order_key(value)
        if k not in self.seen:
            self.seen.add(k)
            self.items.append(value)

    def result(self) -> Any:
        return self.items


class First(State):
    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.done = False

    def add(self, value: Any) -> None:
        if not self.done:
            self.value, self.done = (None if value is MISSING else value), True

    def result(self) -> Any:
        return self.value


class Last(State):
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def add(self, value: Any) -> None:
        self.value = None if value is MISSING else value

    def result(self) -> Any:
        return self.value


ACCUMULATORS: dict[str, Callable[[], State]] = {
    "$sum": Sum,
    "$avg": Avg,
    "$min": lambda: Extreme(-1),
    "$max": lambda: Extreme(1),
    "$count": Count,
    "$push": Push,
    "$addToSet": AddToSet,
    "$first": First,
    "$last": Last,
}
#: What SQL aggregate functions can compute with the same semantics (see :mod:`.sqlpush`).
SQL_ACCUMULATORS = frozenset({"$sum", "$avg", "$min", "$max", "$count"})


@dataclass(frozen=True, slots=True)
class Accumulator:
    """One output field of ``$group``: ``name: {op: arg}``."""

    name: str
    op: str
    arg: Any
    expr: Expr
    new: Callable[[], State]


def parse_accumulator(name: str, spec: Any, scope: Scope) -> Accumulator:
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise scope.error(f"field {name!r} must be {{<accumulator>: <expression>}}, got {spec!r}")
    ((op, arg),) = spec.items()
    new = ACCUMULATORS.get(op)
    if new is None:
        supported = " ".join(sorted(ACCUMULATORS))
        raise scope.error(
            f"field {name!r}: unsupported accumulator {op!r} (supported: {supported})"
        )
    if op == "$count":
        if arg != {}:
            raise scope.error(f"field {name!r}: $count takes {{}}, got {arg!r}")
        return Accumulator(name, op, arg, lambda doc: None, new)
    if isinstance(arg, list):
        raise scope.error(f"field {name!r}: {op} in $group takes one expression, not a list")
    return Accumulator(name, op, arg, compile_expr(arg, scope), new)


__all__ = ["ACCUMULATORS", "SQL_ACCUMULATORS", "Accumulator", "State", "parse_accumulator"]
