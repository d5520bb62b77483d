"""Aggregation expressions compiled once into closures ``doc -> value``.

A field path (``"$a.b"``) walks nested objects and, like MongoDB, maps over arrays met on the
way (``"$items.sku"`` is the list of every item's sku).  An absent path yields ``MISSING``,
which object expressions drop and most operators treat as null; comparison operators order it
below null (so ``{"$eq": ["$absent", null]}`` is false, as in MongoDB).  Operators outside
:data:`OPERATORS` raise :class:`QueryError` naming the operator and the pipeline stage.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import QueryError
from ..query.values import MISSING, Fan, getter
from .order import is_number, order_key, truthy

Doc = Mapping[str, Any]
Expr = Callable[[Doc], Any]


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an expression sits (for messages) and which top-level fields exist there.

    ``known`` is ``None`` once the document shape is open (fields unknown at compile time).
    """

    where: str
    known: frozenset[str] | None = None

    def error(self, message: str) -> QueryError:
        return QueryError(f"{self.where}: {message}")


def field_path(spec: Any) -> str | None:
    """The dotted path of a ``"$a.b"`` reference (not ``$$`` variables), else ``None``."""
    if isinstance(spec, str) and spec.startswith("$") and not spec.startswith("$$"):
        return spec[1:]
    return None


def compile_path(path: str, scope: Scope) -> Expr:
    """A getter for the dotted ``path`` of the current document."""
    parts = tuple(path.split("."))
    if not path or any(not p for p in parts):
        raise scope.error(f"invalid field path {'$' + path!r}")
    if any(p.startswith("$") for p in parts):
        raise scope.error(f"invalid field path {'$' + path!r} (a part starts with '$')")
    if scope.known is not None and parts[0] not in scope.known:
        known = ", ".join(sorted(scope.known))
        raise scope.error(f"unknown field {parts[0]!r} in {'$' + path!r} (known fields: {known})")
    get = getter(parts, True)

    def read(doc: Doc) -> Any:
        v = get(doc)
        return list(v) if isinstance(v, Fan) else v

    return read if len(parts) > 1 else get


def compile_expr(spec: Any, scope: Scope) -> Expr:
    """Compile one expression (field path, variable, operator, object, array or constant)."""
    if isinstance(spec, str):
        if spec.startswith("$$"):
            return _variable(spec, scope)
        if spec.startswith("$"):
            return compile_path(spec[1:], scope)
        return _const(spec)
    if isinstance(spec, Mapping):
        keys = list(spec)
        ops = [k for k in keys if isinstance(k, str) and k.startswith("$")]
        if not ops:
            return _object(spec, scope)
        if len(keys) != 1:
            raise scope.error(f"an expression object takes exactly one operator, got keys {keys!r}")
        op = ops[0]
        build = OPERATORS.get(op)
        if build is None:
            supported = " ".join(sorted(OPERATORS))
            raise scope.error(f"unsupported expression operator {op!r} (supported: {supported})")
        return build(spec[op], scope)
    if isinstance(spec, list | tuple):
        items = [compile_expr(s, scope) for s in spec]
        return lambda doc: [_nullify(f(doc)) for f in items]
    return _const(spec)


def _const(value: Any) -> Expr:
    return lambda doc: value


def _nullify(v: Any) -> Any:
    return None if v is MISSING else v


def _variable(spec: str, scope: Scope) -> Expr:
    name, _, rest = spec[2:].partition(".")
    if name not in ("ROOT", "CURRENT"):
        raise scope.error(f"unsupported variable {'$$' + name!r} (supported: $$ROOT, $$CURRENT)")
    if not rest:
        return lambda doc: doc
    return compile_path(rest, Scope(scope.where))


def _object(spec: Mapping[str, Any], scope: Scope) -> Expr:
    fields = []
    for key, sub in spec.items():
        if not isinstance(key, str) or not key or "." in key:
            raise scope.error(f"invalid field name {key!r} in an expression object")
        fields.append((key, compile_expr(sub, scope)))

    def build(doc: Doc) -> Any:
        out = {}
        for key, f in fields:
            v = f(doc)
            if v is not MISSING:
                out[key] = v
        return out

    return build


# -- argument helpers -------------------------------------------------------------------------
def _args(op: str, arg: Any, scope: Scope, lo: int, hi: int | None) -> list[Expr]:
    items = list(arg) if isinstance(arg, list | tuple) else [arg]
    if len(items) < lo or (hi is not None and len(items) > hi):
        want = str(lo) if hi == lo else (f"{lo}+" if hi is None else f"{lo}..{hi}")
        raise scope.error(f"{op} takes {want} argument(s), got {len(items)}")
    return [compile_expr(i, scope) for i in items]


def _missing_or_null(v: Any) -> bool:
    return v is None or v is MISSING


def _numeric(op: str, v: Any, scope: Scope) -> Any:
    if not is_number(v):
        raise scope.error(f"{op} needs numbers, got {v!r} ({type(v).__name__})")
    return v


def _align(a: Any, b: Any) -> tuple[Any, Any]:
    """Decimal meets float: both as Decimal (MongoDB widens to decimal)."""
    if isinstance(a, decimal.Decimal) and isinstance(b, float):
        return a, decimal.Decimal(repr(b))
    if isinstance(b, decimal.Decimal) and isinstance(a, float):
        return decimal.Decimal(repr(a)), b
    return a, b


_MS = datetime.timedelta(milliseconds=1)


def _add(arg: Any, scope: Scope) -> Expr:
    fs = _args("$add", arg, scope, 0, None)

    def run(doc: Doc) -> Any:
        total: Any = 0
        when: datetime.date | None = None
        for f in fs:
            v = f(doc)
            if _missing_or_null(v):
                return None
            if isinstance(v, datetime.datetime):
                if when is not None:
                    raise scope.error("$add takes at most one date")
                when = v
                continue
            a, b = _align(total, _numeric("$add", v, scope))
            total = a + b
        return total if when is None else when + total * _MS

    return run


def _subtract(arg: Any, scope: Scope) -> Expr:
    fa, fb = _args("$subtract", arg, scope, 2, 2)

    def run(doc: Doc) -> Any:
        a, b = fa(doc), fb(doc)
        if _missing_or_null(a) or _missing_or_null(b):
            return None
        if isinstance(a, datetime.datetime):
            if isinstance(b, datetime.datetime):
                return (a - b) // _MS
            return a - _numeric("$subtract", b, scope) * _MS
        a, b = _align(_numeric("$subtract", a, scope), _numeric("$subtract", b, scope))
        return a - b

    return run


def _multiply(arg: Any, scope: Scope) -> Expr:
    fs = _args("$multiply", arg, scope, 0, None)

    def run(doc: Doc) -> Any:
        total: Any = 1
        for f in fs:
            v = f(doc)
            if _missing_or_null(v):
                return None
            a, b = _align(total, _numeric("$multiply", v, scope))
            total = a * b
        return total

    return run


def _binary_numeric(op: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Scope], Expr]:
    def build(arg: Any, scope: Scope) -> Expr:
        fa, fb = _args(op, arg, scope, 2, 2)

        def run(doc: Doc) -> Any:
            a, b = fa(doc), fb(doc)
            if _missing_or_null(a) or _missing_or_null(b):
                return None
            a, b = _align(_numeric(op, a, scope), _numeric(op, b, scope))
            if b == 0:
                raise scope.error(f"{op} by zero")
            return fn(a, b)

        return run

    return build


def _divide(a: Any, b: Any) -> Any:
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return decimal.Decimal(a) / decimal.Decimal(b)
    return a / b


def _mod(a: Any, b: Any) -> Any:
    # MongoDB's $mod keeps the dividend's sign (C fmod), unlike Python's %.
    if isinstance(a, int) and isinstance(b, int):
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return decimal.Decimal(a) % decimal.Decimal(b)
    return math.fmod(a, b)


def _concat(arg: Any, scope: Scope) -> Expr:
    fs = _args("$concat", arg, scope, 0, None)

    def run(doc: Doc) -> Any:
        parts = []
        for f in fs:
            v = f(doc)
            if _missing_or_null(v):
                return None
            if not isinstance(v, str):
                raise scope.error(f"$concat needs strings, got {v!r} ({type(v).__name__})")
            parts.append(v)
        return "".join(parts)

    return run


def _case(op: str, fn: Callable[[str], str]) -> Callable[[Any, Scope], Expr]:
    def build(arg: Any, scope: Scope) -> Expr:
        (f,) = _args(op, arg, scope, 1, 1)

        def run(doc: Doc) -> Any:
            v = f(doc)
            if _missing_or_null(v):
                return ""
            if isinstance(v, str):
                return fn(v)
            if is_number(v):
                return fn(str(v))
            raise scope.error(f"{op} needs a string, got {v!r} ({type(v).__name__})")

        return run

    return build


def _cond(arg: Any, scope: Scope) -> Expr:
    if isinstance(arg, Mapping):
        if set(arg) != {"if", "then", "else"}:
            raise scope.error(f"$cond takes {{if, then, else}}, got keys {sorted(arg)!r}")
        parts: Sequence[Any] = [arg["if"], arg["then"], arg["else"]]
    else:
        parts = arg
    fi, ft, fe = _args("$cond", parts, scope, 3, 3)
    return lambda doc: ft(doc) if truthy(fi(doc)) else fe(doc)


def _if_null(arg: Any, scope: Scope) -> Expr:
    fs = _args("$ifNull", arg, scope, 2, None)
    *tries, last = fs

    def run(doc: Doc) -> Any:
        for f in tries:
            v = f(doc)
            if not _missing_or_null(v):
                return v
        return last(doc)

    return run


def _compare(op: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Scope], Expr]:
    def build(arg: Any, scope: Scope) -> Expr:
        fa, fb = _args(op, arg, scope, 2, 2)
        return lambda doc: test(order_key(fa(doc)), order_key(fb(doc)))

    return build


def _and(arg: Any, scope: Scope) -> Expr:
    fs = _args("$and", arg, scope, 0, None)
    return lambda doc: all(truthy(f(doc)) for f in fs)


def _or(arg: Any, scope: Scope) -> Expr:
    fs = _args("$or", arg, scope, 0, None)
    return lambda doc: any(truthy(f(doc)) for f in fs)


def _not(arg: Any, scope: Scope) -> Expr:
    (f,) = _args("$not", arg, scope, 1, 1)
    return lambda doc: not truthy(f(doc))


def _array(op: str, v: Any, scope: Scope) -> list[Any]:
    if not isinstance(v, list):
        shown = "missing" if v is MISSING else f"{v!r} ({type(v).__name__})"
        raise scope.error(f"{op} needs an array, got {shown}")
    return v


def _in(arg: Any, scope: Scope) -> Expr:
    fv, fa = _args("$in", arg, scope, 2, 2)

    def run(doc: Doc) -> Any:
        key = order_key(_nullify(fv(doc)))
        return any(order_key(x) == key for x in _array("$in", fa(doc), scope))

    return run


def _size(arg: Any, scope: Scope) -> Expr:
    (f,) = _args("$size", arg, scope, 1, 1)
    return lambda doc: len(_array("$size", f(doc), scope))


def _elem_at(arg: Any, scope: Scope) -> Expr:
    fa, fi = _args("$arrayElemAt", arg, scope, 2, 2)

    def run(doc: Doc) -> Any:
        a, i = fa(doc), fi(doc)
        if _missing_or_null(a) or _missing_or_null(i):
            return None
        a = _array("$arrayElemAt", a, scope)
        if not is_number(i) or int(i) != i:
            raise scope.error(f"$arrayElemAt needs an integer index, got {i!r}")
        i = int(i)
        return a[i] if -len(a) <= i < len(a) else MISSING

    return run


def _end(op: str, index: int) -> Callable[[Any, Scope], Expr]:
    def build(arg: Any, scope: Scope) -> Expr:
        (f,) = _args(op, arg, scope, 1, 1)

        def run(doc: Doc) -> Any:
            a = f(doc)
            if _missing_or_null(a):
                return None
            a = _array(op, a, scope)
            return a[index] if a else MISSING

        return run

    return build


def _literal(arg: Any, scope: Scope) -> Expr:
    return _const(arg)


OPERATORS: dict[str, Callable[[Any, Scope], Expr]] = {
    "$add": _add,
    "$subtract": _subtract,
    "$multiply": _multiply,
    "$divide": _binary_numeric("$divide", _divide),
    "$mod": _binary_numeric("$mod", _mod),
    "$concat": _concat,
    "$toLower": _case("$toLower", str.lower),
    "$toUpper": _case("$toUpper", str.upper),
    "$cond": _cond,
    "$ifNull": _if_null,
    "$eq": _compare("$eq", lambda a, b: a == b),
    "$ne": _compare("$ne", lambda a, b: a != b),
    "$gt": _compare("$gt", lambda a, b: a > b),
    "$gte": _compare("$gte", lambda a, b: a >= b),
    "$lt": _compare("$lt", lambda a, b: a < b),
    "$lte": _compare("$lte", lambda a, b: a <= b),
    "$and": _and,
    "$or": _or,
    "$not": _not,
    "$in": _in,
    "$size": _size,
    "$arrayElemAt": _elem_at,
    "$first": _end("$first", 0),
    "$last": _end("$last", -1),
    "$literal": _literal,
}

__all__ = ["OPERATORS", "Doc", "Expr", "Scope", "compile_expr", "compile_path", "field_path"]
