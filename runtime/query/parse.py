"""Filter documents, sorts and paging → the validated, immutable AST (:mod:`.ast`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ..errors import QueryError
from .ast import (
    All,
    And,
    CmpOp,
    Compare,
    ElemMatch,
    Exists,
    In,
    MatchAll,
    Node,
    Nor,
    Not,
    Or,
    Query,
    Regex,
    Size,
    SortKey,
    conjoin,
)
from .fields import FieldInfo, FieldTable, element_info, fields_of
from .regex import check_pattern

_CMP: dict[str, CmpOp] = {
    "$eq": "eq",
    "$ne": "ne",
    "$gt": "gt",
    "$gte": "gte",
    "$lt": "lt",
    "$lte": "lte",
}
FIELD_OPERATORS = frozenset(
    [*_CMP, "$in", "$nin", "$exists", "$regex", "$options", "$not", "$size", "$all", "$elemMatch"]
)
LOGICAL_OPERATORS = frozenset(["$and", "$or", "$nor"])
#: The seed's suffix form: ``{"created_at__gte": "2024-01-01"}``.
SUFFIXES = {
    s: f"${s}" for s in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "regex")
}


def _table(model: type[BaseModel] | FieldTable) -> FieldTable:
    return model if isinstance(model, FieldTable) else fields_of(model)


def parse_filter(model: type[BaseModel] | FieldTable, filters: Mapping[str, Any] | None) -> Node:
    """Parse and validate a filter document against ``model``'s fields (Python names)."""
    if filters is None:
        return MatchAll()
    return _document(_table(model), filters, "filter")


def _document(table: FieldTable, doc: Any, where: str) -> Node:
    if not isinstance(doc, Mapping):
        raise QueryError(f"{where} must be a mapping, got {type(doc).__name__}")
    nodes: list[Node] = []
    for key, value in doc.items():
        if not isinstance(key, str):
            raise QueryError(f"{where}: keys must be strings, got {key!r}")
        if key in LOGICAL_OPERATORS:
            if not isinstance(value, list | tuple) or not value:
                raise QueryError(f"{key} takes a non-empty list of filter documents")
            items = tuple(_document(table, v, key) for v in value)
            nodes.append({"$and": And, "$or": Or, "$nor": Nor}[key](items))
        elif key.startswith("$"):
            raise QueryError(
                f"unknown top-level operator {key!r} (use $and, $or, $nor, or put it under a field)"
            )
        else:
            nodes.append(_keyed(table, key, value))
    return conjoin(*nodes) if nodes else MatchAll()


def _keyed(table: FieldTable, key: str, value: Any) -> Node:
    name, sep, suffix = key.rpartition("__")
    if sep and suffix in SUFFIXES and _known(table, name) and not _known(table, key):
        return _operator(table.resolve(name), SUFFIXES[suffix], value, {})
    return _condition(table.resolve(key), value)


def _known(table: FieldTable, name: str) -> bool:
    try:
        table.resolve(name)
    except QueryError:
        return False
    return True


def _is_operator_doc(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and k.startswith("$") for k in value)
    )


def _condition(info: FieldInfo, value: Any) -> Node:
    """``{field: value}`` — an operator document or an implicit ``$eq``."""
    if isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value):
        if not _is_operator_doc(value):
            raise QueryError(f"field {info.ref.name!r}: cannot mix operators and plain keys")
        if "$options" in value and "$regex" not in value:
            raise QueryError(f"field {info.ref.name!r}: $options needs $regex")
        nodes = [_operator(info, op, v, value) for op, v in value.items() if op != "$options"]
        return conjoin(*nodes)
    return _operator(info, "$eq", value, {})


def _operator(info: FieldInfo, op: str, value: Any, siblings: Mapping[str, Any]) -> Node:
    ref = info.ref
    if op not in FIELD_OPERATORS:
        known = " ".join(sorted(FIELD_OPERATORS))
        raise QueryError(f"field {ref.name!r}: unknown operator {op!r} (supported: {known})")
    if op in _CMP:
        cmp = _CMP[op]
        if value is None and cmp not in ("eq", "ne"):
            raise QueryError(f"field {ref.name!r}: {op} cannot compare with null")
        return Compare(ref, cmp, _value(info, value, op))
    if op in ("$in", "$nin"):
        if not isinstance(value, list | tuple | set | frozenset):
            raise QueryError(f"field {ref.name!r}: {op} takes a list, got {value!r}")
        return In(ref, tuple(_value(info, v, op) for v in value), negate=op == "$nin")
    if op == "$exists":
        if not isinstance(value, bool):
            raise QueryError(f"field {ref.name!r}: $exists takes true or false, got {value!r}")
        return Exists(ref, value)
    if op == "$regex":
        options = siblings.get("$options", "")
        if not isinstance(value, str) or not isinstance(options, str):
            raise QueryError(f"field {ref.name!r}: $regex and $options take strings")
        if ref.kind not in ("str", "any"):
            raise QueryError(f"field {ref.name!r}: $regex needs a string field, not {ref.kind}")
        check_pattern(value, options, ref.name)
        return Regex(ref, value, "".join(sorted(set(options))))
    if op == "$not":
        if isinstance(value, str):
            return Not(_operator(info, "$regex", value, {}))
        if not _is_operator_doc(value):
            raise QueryError(f"field {ref.name!r}: $not takes an operator document or a regex")
        return Not(_condition(info, value))
    return _array_operator(info, op, value)


def _array_operator(info: FieldInfo, op: str, value: Any) -> Node:
    ref = info.ref
    if not (ref.array or ref.kind == "any"):
        raise QueryError(f"field {ref.name!r}: {op} needs an array field")
    if op == "$size":
        if type(value) is not int or value < 0:
            raise QueryError(f"field {ref.name!r}: $size takes a non-negative int, got {value!r}")
        return Size(ref, value)
    if op == "$all":
        if not isinstance(value, list | tuple):
            raise QueryError(f"field {ref.name!r}: $all takes a list, got {value!r}")
        return All(ref, tuple(_value(info, v, op) for v in value))
    # $elemMatch
    if not isinstance(value, Mapping) or not value:
        raise QueryError(f"field {ref.name!r}: $elemMatch takes a non-empty document")
    if info.children is not None and not _is_operator_doc(value):
        return ElemMatch(ref, _document(info.children, value, f"{ref.name}.$elemMatch"))
    if not _is_operator_doc(value):
        raise QueryError(f"field {ref.name!r}: $elemMatch on scalars takes operators only")
    return ElemMatch(ref, _condition(element_info(info), value))


def _value(info: FieldInfo, value: Any, op: str) -> Any:
    if info.ref.array and isinstance(value, list | tuple) and op in ("$eq", "$ne"):
        return tuple(info.coerce(v) for v in value)  # whole-array equality
    if isinstance(value, list | tuple) and info.ref.kind != "any":
        raise QueryError(f"field {info.ref.name!r}: {op} takes a single value, got {value!r}")
    return info.coerce(value)


def parse_sort(
    model: type[BaseModel] | FieldTable,
    sort: Sequence[tuple[str, int]] | None,
    tiebreak: Sequence[str] = (),
) -> tuple[SortKey, ...]:
    """Validate ``[(field, 1 | -1)]``; ``tiebreak`` fields (the primary key) are appended."""
    table = _table(model)
    keys: list[SortKey] = []
    seen: set[tuple[str, ...]] = set()
    for item in sort or ():
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise QueryError(f"sort items are (field, 1 | -1) pairs, got {item!r}")
        name, direction = item
        if direction not in (1, -1) or isinstance(direction, bool):
            raise QueryError(f"sort {name!r}: direction must be 1 or -1, got {direction!r}")
        ref = table.resolve(name).ref
        if ref.array or ref.through_array or ref.kind == "object":
            raise QueryError(f"sort {name!r}: cannot sort by an array or object field")
        if ref.path not in seen:
            seen.add(ref.path)
            keys.append(SortKey(ref, 1 if direction == 1 else -1))
    for name in tiebreak:
        ref = table.resolve(name).ref
        if ref.path not in seen:
            seen.add(ref.path)
            keys.append(SortKey(ref, 1))
    return tuple(keys)


def build_query(
    model: type[BaseModel] | FieldTable,
    filters: Mapping[str, Any] | None = None,
    *,
    sort: Sequence[tuple[str, int]] | None = None,
    skip: int = 0,
    limit: int | None = None,
    tiebreak: Sequence[str] = (),
) -> Query:
    """Filter + sort + paging in one validated :class:`Query`."""
    if type(skip) is not int or skip < 0:
        raise QueryError(f"skip must be a non-negative int, got {skip!r}")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise QueryError(f"limit must be a non-negative int or None, got {limit!r}")
    table = _table(model)
    return Query(parse_filter(table, filters), parse_sort(table, sort, tiebreak), skip, limit)


__all__ = ["FIELD_OPERATORS", "SUFFIXES", "build_query", "parse_filter", "parse_sort"]
