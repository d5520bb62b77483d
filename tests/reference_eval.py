"""A plain reference interpreter of the query language and pipeline stages over dicts.

Written for the differential tests, independently of ``xrepo.runtime.query`` and
``xrepo.runtime.aggregate`` (imports neither): every rule is spelled out as MongoDB states it,
one document at a time, with no compilation or indexes, so that it is easy to check by reading.

Documents are plain dicts (nested dicts and lists) as a model dumps them.  Filter values are
already of the field's Python type (the tests generate them so).

Rules (MongoDB):
- A dotted path walks nested documents; an array met before the last step is walked element by
  element (each element that is a document continues the path).  The values reached are the
  *candidates*; an array candidate also contributes each of its elements.
- ``{f: v}`` / ``$eq``: some candidate equals ``v`` (``True != 1``, ``1 == 1.0``);
  ``{f: None}``: the path reaches no value, or is missing somewhere, or some candidate is null.
- ``$gt $gte $lt $lte``: some candidate of the same type class as the value compares true.
- ``$in``: ``$eq`` to any listed value; ``$ne``, ``$nin``, ``$not``, ``$nor``: exact negations.
- ``$exists``: the path reaches at least one value (null counts).
- ``$regex``: some string candidate matches (unanchored search).
- ``$size``, ``$all``, ``$elemMatch``: on the array at the path itself.
- Sort: null and missing first ascending (last descending); ties keep input order.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
Doc = dict[str, Any]


# -- values -----------------------------------------------------------------------------------
def type_class(v: Any) -> str:
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float | decimal.Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, datetime.datetime):
        return "datetime"
    if isinstance(v, datetime.date):
        return "date"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def equal(a: Any, b: Any) -> bool:
    """Deep equality within type classes (so ``True`` is not ``1``)."""
    if type_class(a) != type_class(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


# MongoDB's order of type classes (used by $sort and by $min/$max across types).
_ORDER = ["null", "number", "string", "object", "array", "bytes", "uuid", "bool", "date"]


def bson_compare(a: Any, b: Any) -> int:
    """-1, 0, 1 in MongoDB's sort order (missing and null together, first)."""
    ca, cb = type_class(a), type_class(b)
    ra = _ORDER.index(ca) if ca in _ORDER else len(_ORDER)
    rb = _ORDER.index(cb) if cb in _ORDER else len(_ORDER)
    if ra != rb or ca != cb:
        return -1 if (ra, ca) < (rb, cb) else 1
    if ca == "null":
        return 0
    if ca == "array":
        for x, y in zip(a, b, strict=False):
            c = bson_compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ca == "object":
        return bson_compare(list(a.items()), list(b.items()))
    return -1 if a < b else (1 if a > b else 0)


# -- paths ------------------------------------------------------------------------------------
def reach(doc: Any, path: Sequence[str]) -> list[Any]:
    """The values at ``path`` (``MISSING`` where a document lacks the next key)."""
    if not path:
        return [doc]
    if isinstance(doc, dict):
        if path[0] not in doc:
            return [MISSING]
        return reach(doc[path[0]], path[1:])
    if isinstance(doc, list):
        out: list[Any] = []
        for item in doc:
            if isinstance(item, dict):
                out.extend(reach(item, path))
        return out
    return [MISSING]


def candidates(doc: Doc, path: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for v in reach(doc, path):
        out.append(v)
        if isinstance(v, list):
            out.extend(v)
    return out


# -- filters ----------------------------------------------------------------------------------
def matches(doc: Doc, flt: Mapping[str, Any] | None) -> bool:
    if not flt:
        return True
    for key, cond in flt.items():
        if key == "$and":
            ok = all(matches(doc, f) for f in cond)
        elif key == "$or":
            ok = any(matches(doc, f) for f in cond)
        elif key == "$nor":
            ok = not any(matches(doc, f) for f in cond)
        else:
            name, sep, suffix = key.rpartition("__")
            if sep and suffix in _SUFFIXES:
                ok = field_matches(doc, name.split("."), {f"${suffix}": cond})
            else:
                ok = field_matches(doc, key.split("."), cond)
        if not ok:
            return False
    return True


_SUFFIXES = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "regex"}


def _is_ops(cond: Any) -> bool:
    return isinstance(cond, dict) and bool(cond) and all(k.startswith("$") for k in cond)


def field_matches(doc: Doc, path: list[str], cond: Any) -> bool:
    if not _is_ops(cond):
        return op_eq(doc, path, cond)
    for op, arg in cond.items():
        if op == "$options":
            continue
        if not _operator(doc, path, op, arg, cond):
            return False
    return True


def _operator(doc: Doc, path: list[str], op: str, arg: Any, siblings: Mapping[str, Any]) -> bool:
    if op == "$eq":
        return op_eq(doc, path, arg)
    if op == "$ne":
        return not op_eq(doc, path, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        test = _RANGE[op]
        return any(
            type_class(c) == type_class(arg) and type_class(c) not in ("array", "object", "null")
            and test(c, arg)
            for c in candidates(doc, path)
        )  # fmt: skip
    if op == "$in":
        return any(op_eq(doc, path, v) for v in arg)
    if op == "$nin":
        return not any(op_eq(doc, path, v) for v in arg)
    if op == "$exists":
        present = any(v is not MISSING for v in reach(doc, path))
        return present == bool(arg)
    if op == "$regex":
        flags = 0
        for letter in siblings.get("$options", ""):
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[letter]
        rx = re.compile(arg, flags)
        return any(isinstance(c, str) and rx.search(c) for c in candidates(doc, path))
    if op == "$not":
        if isinstance(arg, str):
            return not _operator(doc, path, "$regex", arg, {})
        return not field_matches(doc, path, arg)
    if op == "$size":
        return any(isinstance(v, list) and len(v) == arg for v in reach(doc, path))
    if op == "$all":
        return bool(arg) and all(op_eq(doc, path, v) for v in arg)
    if op == "$elemMatch":
        for arr in reach(doc, path):
            if not isinstance(arr, list):
                continue
            for e in arr:
                if _is_ops(arg):
                    if field_matches({"e": e}, ["e"], arg):
                        return True
                elif isinstance(e, dict) and matches(e, arg):
                    return True
        return False
    raise ValueError(f"reference: unknown operator {op}")


_RANGE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def op_eq(doc: Doc, path: list[str], value: Any) -> bool:
    if isinstance(value, tuple):
        value = list(value)
    if value is None:
        # Null matches a missing path: reaching no value at all (``{"a.b": None}`` on
        # ``{"a": []}``) or a document lacking the key, or an explicit null.
        found = candidates(doc, path)
        return all(c is MISSING for c in found) or any(c is None or c is MISSING for c in found)
    return any(equal(c, value) for c in candidates(doc, path))


def filter_docs(docs: Sequence[Doc], flt: Mapping[str, Any] | None) -> list[Doc]:
    return [d for d in docs if matches(d, flt)]


# -- sort and paging --------------------------------------------------------------------------
def _sort_value(doc: Doc, path: str) -> Any:
    found = reach(doc, path.split("."))
    value = found[0] if len(found) == 1 else MISSING
    return None if value is MISSING else value


def sort_docs(docs: Sequence[Doc], keys: Sequence[tuple[str, int]]) -> list[Doc]:
    """Stable sort by ``keys`` in MongoDB's order (null/missing lowest)."""

    def cmp(a: Doc, b: Doc) -> int:
        for path, direction in keys:
            c = bson_compare(_sort_value(a, path), _sort_value(b, path))
            if c:
                return c * direction
        return 0

    return sorted(docs, key=functools.cmp_to_key(cmp))


def query(
    docs: Sequence[Doc],
    flt: Mapping[str, Any] | None,
    sort: Sequence[tuple[str, int]],
    skip: int = 0,
    limit: int | None = None,
) -> list[Doc]:
    rows = sort_docs(filter_docs(docs, flt), sort)
    return rows[skip:] if limit is None else rows[skip : skip + limit]


# -- aggregation expressions ------------------------------------------------------------------
def path_value(doc: Any, path: Sequence[str]) -> Any:
    """``"$a.b"``: nested documents walked, arrays mapped over (missing elements dropped)."""
    if not path:
        return doc
    if isinstance(doc, dict):
        return path_value(doc[path[0]], path[1:]) if path[0] in doc else MISSING
    if isinstance(doc, list):
        out = [path_value(item, path) for item in doc if isinstance(item, dict | list)]
        return [v for v in out if v is not MISSING]
    return MISSING


def evaluate(expr: Any, doc: Doc) -> Any:
    if isinstance(expr, str) and expr.startswith("$"):
        return path_value(doc, expr[1:].split("."))
    if isinstance(expr, dict) and len(expr) == 1 and next(iter(expr)).startswith("$"):
        ((op, arg),) = expr.items()
        args = arg if isinstance(arg, list) else [arg]
        values = [evaluate(a, doc) for a in args]
        return _EXPR[op](values)
    if isinstance(expr, dict):
        out = {k: evaluate(v, doc) for k, v in expr.items()}
        return {k: v for k, v in out.items() if v is not MISSING}
    if isinstance(expr, list):
        return [evaluate(v, doc) for v in expr]
    return expr


def _null(v: Any) -> bool:
    return v is None or v is MISSING


def _add(values: list[Any]) -> Any:
    if any(_null(v) for v in values):
        return None
    total: Any = 0
    for v in values:
        if type_class(v) != "number":
            raise ValueError("reference: $add of a non-number")
        total += v
    return total


def _concat(values: list[Any]) -> Any:
    if any(_null(v) for v in values):
        return None
    return "".join(values)


def _if_null(values: list[Any]) -> Any:
    for v in values[:-1]:
        if not _null(v):
            return v
    return values[-1]


def _to_lower(values: list[Any]) -> Any:
    (v,) = values
    return "" if _null(v) else str(v).lower()


def _agg_compare(sign: Callable[[int], bool]) -> Callable[[list[Any]], bool]:
    def run(values: list[Any]) -> bool:
        a, b = values
        # In expressions missing sorts below null.
        ka = (0, None) if a is MISSING else (1, a)
        kb = (0, None) if b is MISSING else (1, b)
        if ka[0] != kb[0]:
            return sign(-1 if ka[0] < kb[0] else 1)
        return sign(bson_compare(a, b) if a is not MISSING else 0)

    return run


def _cond(values: list[Any]) -> Any:
    test, then, other = values
    return then if _truthy(test) else other


def _truthy(v: Any) -> bool:
    return not (_null(v) or v is False or (type_class(v) == "number" and v == 0))


def _size(values: list[Any]) -> Any:
    (v,) = values
    if not isinstance(v, list):
        raise ValueError("reference: $size of a non-array")
    return len(v)


_EXPR: dict[str, Callable[[list[Any]], Any]] = {
    "$add": _add,
    "$concat": _concat,
    "$ifNull": _if_null,
    "$toLower": _to_lower,
    "$cond": _cond,
    "$size": _size,
    "$eq": _agg_compare(lambda c: c == 0),
    "$ne": _agg_compare(lambda c: c != 0),
    "$gt": _agg_compare(lambda c: c > 0),
    "$gte": _agg_compare(lambda c: c >= 0),
    "$lt": _agg_compare(lambda c: c < 0),
    "$lte": _agg_compare(lambda c: c <= 0),
}


# -- accumulators -----------------------------------------------------------------------------
def _numbers(values: list[Any]) -> list[Any]:
    return [v for v in values if type_class(v) == "number"]


def _acc_sum(values: list[Any]) -> Any:
    return sum(_numbers(values), 0)


def _acc_avg(values: list[Any]) -> Any:
    nums = _numbers(values)
    return sum(nums) / len(nums) if nums else None


def _acc_extreme(sign: int) -> Callable[[list[Any]], Any]:
    def run(values: list[Any]) -> Any:
        present = [v for v in values if not _null(v)]
        if not present:
            return None
        best = present[0]
        for v in present[1:]:
            if bson_compare(v, best) * sign > 0:
                best = v
        return best

    return run


def _acc_push(values: list[Any]) -> Any:
    return [v for v in values if v is not MISSING]


def _acc_add_to_set(values: list[Any]) -> Any:
    out: list[Any] = []
    for v in values:
        if v is not MISSING and not any(equal(v, s) for s in out):
            out.append(v)
    return out


def _acc_first(values: list[Any]) -> Any:
    return None if not values or values[0] is MISSING else values[0]


def _acc_last(values: list[Any]) -> Any:
    return None if not values or values[-1] is MISSING else values[-1]


ACCUMULATORS: dict[str, Callable[[list[Any]], Any]] = {
    "$sum": _acc_sum,
    "$avg": _acc_avg,
    "$min": _acc_extreme(-1),
    "$max": _acc_extreme(1),
    "$push": _acc_push,
    "$addToSet": _acc_add_to_set,
    "$first": _acc_first,
    "$last": _acc_last,
}


# -- stages -----------------------------------------------------------------------------------
def _group_key(v: Any) -> Any:
    """A hashable stand-in honouring MongoDB's group equality (1 == 1.0, True != 1)."""
    if v is MISSING:
        v = None
    if isinstance(v, list):
        return ("array", tuple(_group_key(x) for x in v))
    if isinstance(v, dict):
        return ("object", tuple((k, _group_key(x)) for k, x in v.items()))
    return (type_class(v), v)


def _group(docs: list[Doc], spec: Mapping[str, Any]) -> list[Doc]:
    order: list[Any] = []
    members: dict[Any, list[Doc]] = {}
    ids: dict[Any, Any] = {}
    for d in docs:
        key = evaluate(spec["_id"], d)
        key = None if key is MISSING else key
        hk = _group_key(key)
        if hk not in members:
            order.append(hk)
            members[hk] = []
            ids[hk] = key
        members[hk].append(d)
    out = []
    for hk in order:
        row: Doc = {"_id": ids[hk]}
        for name, acc in spec.items():
            if name == "_id":
                continue
            ((op, arg),) = acc.items()
            if op == "$count":
                row[name] = len(members[hk])
            else:
                row[name] = ACCUMULATORS[op]([evaluate(arg, d) for d in members[hk]])
        out.append(row)
    return out


def _project(docs: list[Doc], spec: Mapping[str, Any]) -> list[Doc]:
    body = {k: v for k, v in spec.items() if k != "_id"}
    exclude = bool(body) and all(v in (0, False) for v in body.values())
    out = []
    for d in docs:
        if exclude:
            row = {k: v for k, v in d.items() if k not in body}
        else:
            row = {}
            for name, value in body.items():
                got = d.get(name, MISSING) if value in (1, True) else evaluate(value, d)
                if got is not MISSING:
                    row[name] = got
        if "_id" in d and spec.get("_id", 1) not in (0, False):
            row = {"_id": d["_id"], **row}
        elif "_id" in row and spec.get("_id", 1) in (0, False):
            del row["_id"]
        out.append(row)
    return out


def _add_fields(docs: list[Doc], spec: Mapping[str, Any]) -> list[Doc]:
    out = []
    for d in docs:
        row = dict(d)
        for name, expr in spec.items():
            v = evaluate(expr, d)
            if v is MISSING:
                row.pop(name, None)
            else:
                row[name] = v
        out.append(row)
    return out


def _unwind(docs: list[Doc], spec: Any) -> list[Doc]:
    options = spec if isinstance(spec, dict) else {"path": spec}
    name = options["path"][1:]
    keep = options.get("preserveNullAndEmptyArrays", False)
    out = []
    for d in docs:
        v = d.get(name, MISSING)
        if isinstance(v, list) and v:
            out.extend({**d, name: e} for e in v)
        elif isinstance(v, list) or _null(v):
            if keep:
                row = dict(d)
                if isinstance(v, list):
                    row.pop(name)
                out.append(row)
        else:
            out.append(dict(d))
    return out


def run_pipeline(docs: Sequence[Doc], pipeline: Sequence[Mapping[str, Any]]) -> list[Doc]:
    rows = [dict(d) for d in docs]
    for stage in pipeline:
        ((op, spec),) = stage.items()
        if op == "$match":
            rows = filter_docs(rows, spec)
        elif op == "$sort":
            rows = sort_docs(rows, list(spec.items()))
        elif op == "$skip":
            rows = rows[spec:]
        elif op == "$limit":
            rows = rows[:spec]
        elif op == "$project":
            rows = _project(rows, spec)
        elif op in ("$addFields", "$set"):
            rows = _add_fields(rows, spec)
        elif op == "$unset":
            names = [spec] if isinstance(spec, str) else list(spec)
            rows = [{k: v for k, v in r.items() if k not in names} for r in rows]
        elif op == "$group":
            rows = _group(rows, spec)
        elif op == "$unwind":
            rows = _unwind(rows, spec)
        elif op == "$count":
            rows = [{spec: len(rows)}] if rows else []
        elif op == "$sortByCount":
            grouped = _group(rows, {"_id": spec, "count": {"$sum": 1}})
            rows = sort_docs(grouped, [("count", -1)])
        else:
            raise ValueError(f"reference: unsupported stage {op}")
    return rows


__all__ = [
    "MISSING",
    "bson_compare",
    "equal",
    "evaluate",
    "filter_docs",
    "matches",
    "query",
    "run_pipeline",
    "sort_docs",
    "type_class",
]
