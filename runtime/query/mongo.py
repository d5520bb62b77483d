"""The filter AST → a MongoDB query document (plus sort, paging and keyset ``after``).

The query language was designed after MongoDB's, so most nodes map one to one; the choices:

* ``Not`` becomes ``{"$nor": [x]}``: exactly "x does not match" for any ``x`` (MongoDB's
  field-level ``$not`` is the same thing for the one-field case, and cannot wrap ``$and``).
* Values are converted for BSON (:func:`to_bson`): ``Decimal`` → ``Decimal128``, ``date`` →
  ``datetime`` at midnight UTC (BSON has no date type; reads give that datetime back and models
  validate it into a ``date``), ``time`` → its ISO text, ``timedelta`` → float seconds (both
  order correctly and validate back), tuples and sets → arrays, enums → their values.  UUIDs
  travel as Binary subtype 4 (the backend's codec uses the standard representation).
* ObjectIds: models hold them as 24-hex ``str``; fields listed in ``object_ids`` (source paths,
  see :attr:`~xrepo.runtime.backends.base.Collection.object_ids`) get ``ObjectId`` values on
  the wire, in filters and in written rows alike (:func:`object_ids_in`).  A string that is not
  a valid ObjectId is sent as the string (it then matches nothing stored as an ObjectId).
* Keyset ``after`` is an OR-chain over the sort keys that follows MongoDB's order: null and
  missing first ascending, last descending.  Untyped keys compare with ``$expr``, whose
  comparison operators order across BSON types the way ``sort`` does.
* Field names MongoDB cannot address in a query path (containing ``.``, starting with ``$``,
  or empty) raise :class:`~xrepo.runtime.errors.UnsupportedQueryError` naming the field.

Server-side code is refused before anything is sent: :func:`reject_code` scans a finished
command document for ``$where``, ``$function``, ``$accumulator`` (and friends) anywhere.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import QueryError, UnsupportedQueryError
from ..schema import CollectionSpec, LogicalType, TypeSpec
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
    Query,
    Regex,
    Size,
    SortKey,
)

Doc = dict[str, Any]
Path = tuple[str, ...]
#: Operators that run JavaScript (or other code) on the server: never sent.
CODE_OPERATORS = frozenset({"$where", "$function", "$accumulator", "$eval", "$code"})
_MONGO_CMP = {"eq": "$eq", "ne": "$ne", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


# -- values ------------------------------------------------------------------------------------
def to_bson(value: Any) -> Any:
    """``value`` with the Python types BSON lacks converted (see the module docstring)."""
    tp = type(value)
    if value is None or tp in (str, int, float, bool, datetime.datetime, bytes, uuid.UUID):
        return value
    if isinstance(value, decimal.Decimal):
        from bson.decimal128 import Decimal128

        try:
            return Decimal128(value)
        except (decimal.InvalidOperation, ValueError, TypeError):
            raise QueryError(
                f"decimal {value} does not fit MongoDB's Decimal128 (34 significant digits)"
            ) from None
    if isinstance(value, enum.Enum):
        return to_bson(value.value)
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    if isinstance(value, datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {k: to_bson(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_bson(v) for v in value]
    return value


def as_object_id(value: Any) -> Any:
    """A 24-hex string as an ``ObjectId``; anything else unchanged."""
    if isinstance(value, str) and len(value) == 24:
        from bson.objectid import ObjectId

        if ObjectId.is_valid(value):
            return ObjectId(value)
    return value


def object_ids_in(row: Mapping[str, Any], paths: Iterable[Path]) -> Doc:
    """A copy of ``row`` (already :func:`to_bson`-converted) with the values at ``paths``
    made ObjectIds; lists met on a path are mapped element-wise."""
    out = dict(row)
    for path in paths:
        if path[0] in out:
            out[path[0]] = _convert_at(out[path[0]], path[1:])
    return out


def _convert_at(value: Any, rest: Path) -> Any:
    if isinstance(value, list):
        return [_convert_at(v, rest) for v in value]
    if not rest:
        return as_object_id(value)
    if isinstance(value, Mapping) and rest[0] in value:
        new = dict(value)
        new[rest[0]] = _convert_at(value[rest[0]], rest[1:])
        return new
    return value


def object_id_paths(spec: CollectionSpec) -> frozenset[Path]:
    """Source paths of a snapshot collection's ``object_id`` fields (nested and in arrays)."""
    found: set[Path] = set()

    def walk(tp: TypeSpec, path: Path) -> None:
        if tp.kind == LogicalType.OBJECT_ID:
            found.add(path)
        elif tp.kind == LogicalType.ARRAY and tp.items is not None:
            walk(tp.items, path)
        elif tp.kind == LogicalType.OBJECT and tp.fields:
            for f in tp.fields:
                walk(f.type, (*path, f.name))

    for f in spec.fields:
        walk(f.type, (f.name,))
    return frozenset(found)


# -- filters -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MongoCompiler:
    """Compiles AST nodes of one collection; ``object_ids`` are source paths of ObjectIds."""

    object_ids: frozenset[Path] = frozenset()

    def path(self, ref: FieldRef) -> str:
        for part in ref.path:
            if not part or "." in part or part.startswith("$"):
                raise UnsupportedQueryError(
                    f"field {ref.name!r}: MongoDB cannot query the field name {part!r} "
                    "(it contains '.', starts with '$' or is empty)"
                )
        return ".".join(ref.path)

    def value(self, ref: FieldRef, value: Any, base: Path = ()) -> Any:
        out = to_bson(value)
        if (*base, *ref.path) in self.object_ids:
            if isinstance(out, list):
                return [as_object_id(v) for v in out]
            return as_object_id(out)
        return out

    def filter(self, node: Node, base: Path = ()) -> Doc:
        """The query document of ``node``; ``base`` prefixes paths inside ``$elemMatch``."""
        if isinstance(node, MatchAll):
            return {}
        if isinstance(node, And):
            return {"$and": [self.filter(n, base) for n in node.items]}
        if isinstance(node, Or):
            return {"$or": [self.filter(n, base) for n in node.items]}
        if isinstance(node, Nor):
            return {"$nor": [self.filter(n, base) for n in node.items]}
        if isinstance(node, Not):
            return {"$nor": [self.filter(node.where, base)]}
        field = getattr(node, "field", None)
        if not isinstance(field, FieldRef):
            raise UnsupportedQueryError(f"MongoDB: cannot compile {type(node).__name__}")
        if not field.path:
            raise UnsupportedQueryError(
                f"field {field.name!r}: an element condition outside $elemMatch"
            )
        return {self.path(field): self.condition(node, base)}

    def condition(self, node: Node, base: Path) -> Any:
        """The operator document of a one-field node (the part after ``field:``)."""
        if isinstance(node, Compare):
            return {_MONGO_CMP[node.op]: self.value(node.field, node.value, base)}
        if isinstance(node, In):
            values = [self.value(node.field, v, base) for v in node.values]
            return {"$nin" if node.negate else "$in": values}
        if isinstance(node, Exists):
            return {"$exists": node.present}
        if isinstance(node, Regex):
            out: Doc = {"$regex": node.pattern}
            if node.options:
                out["$options"] = node.options
            return out
        if isinstance(node, Size):
            return {"$size": node.size}
        if isinstance(node, All):
            return {"$all": [self.value(node.field, v, base) for v in node.values]}
        if isinstance(node, ElemMatch):
            inner = (*base, *node.field.path)
            if _scalar_elements(node.where):
                return {"$elemMatch": self.element(node.where, inner)}
            return {"$elemMatch": _merged(self.filter(node.where, inner))}
        raise UnsupportedQueryError(f"MongoDB: cannot compile {type(node).__name__}")

    def element(self, node: Node, base: Path) -> Doc:
        """Conditions on the array element itself (``$elemMatch`` over scalars): one operator
        document, since MongoDB accepts only operators there."""
        if isinstance(node, And):
            merged: Doc = {}
            for item in node.items:
                for op, v in self.element(item, base).items():
                    if op in merged:
                        raise UnsupportedQueryError(
                            f"$elemMatch: operator {op} given twice on one element"
                        )
                    merged[op] = v
            return merged
        if isinstance(node, Not):
            return {"$not": self.element(node.where, base)}
        cond = self.condition(node, base)
        if not isinstance(cond, dict):
            raise UnsupportedQueryError("$elemMatch: unsupported element condition")
        return cond

    # -- sort, keyset ----------------------------------------------------------------------
    def sort(self, keys: Sequence[SortKey]) -> list[tuple[str, int]]:
        return [(self.path(k.field), int(k.direction)) for k in keys]

    def after(self, keys: Sequence[SortKey], values: Sequence[Any]) -> Doc:
        """Rows strictly after the position ``values`` in the ``keys`` order."""
        branches: list[Doc] = []
        equal: list[Doc] = []
        for key, raw in zip(keys, values, strict=True):
            path = self.path(key.field)
            value = self.value(key.field, raw)
            beyond = self._beyond(key, path, value)
            if beyond is not None:
                branches.append(_all([*equal, beyond]))
            equal.append({path: value} if value is not None else {path: None})
        if not branches:
            return {"$nor": [{}]}  # nothing comes after the last position
        return branches[0] if len(branches) == 1 else {"$or": branches}

    def _beyond(self, key: SortKey, path: str, value: Any) -> Doc | None:
        ascending = key.direction == 1
        if value is None:
            # null/missing sort first: everything non-null follows ascending, nothing descending.
            return {path: {"$ne": None}} if ascending else None
        op = "$gt" if ascending else "$lt"
        if key.field.kind == "any":
            cmp: Doc = {"$expr": {op: [f"${path}", {"$literal": value}]}}
        else:
            cmp = {path: {op: value}}
        return cmp if ascending else {"$or": [cmp, {path: None}]}

    def query(self, q: Query) -> MongoQuery:
        where = self.filter(q.where)
        if q.after is not None:
            where = _all([where, self.after(q.sort, q.after)])
        return MongoQuery(where, self.sort(q.sort), q.skip, q.limit)


def _merged(doc: Doc) -> Doc:
    """A top-level ``$and`` of documents with distinct keys as one document (some servers
    accept only that form inside ``$elemMatch``; the meaning is the same)."""
    items = doc.get("$and") if len(doc) == 1 else None
    if not isinstance(items, list):
        return doc
    out: Doc = {}
    for item in items:
        if any(k in out for k in item):
            return doc
        out.update(item)
    return out


def _all(docs: Sequence[Doc]) -> Doc:
    items = [d for d in docs if d]
    if not items:
        return {}
    return items[0] if len(items) == 1 else {"$and": items}


def _scalar_elements(node: Node) -> bool:
    """True when ``node`` (an ``$elemMatch`` body) tests the element itself (empty paths)."""
    if isinstance(node, And | Or | Nor):
        return all(_scalar_elements(n) for n in node.items)
    if isinstance(node, Not):
        return _scalar_elements(node.where)
    field = getattr(node, "field", None)
    return isinstance(field, FieldRef) and not field.path


@dataclass(frozen=True, slots=True)
class MongoQuery:
    """A compiled read: ``filter`` document, ``sort`` pairs, ``skip``, ``limit`` (None: all)."""

    filter: Doc
    sort: list[tuple[str, int]]
    skip: int = 0
    limit: int | None = None


def compile_filter(node: Node, object_ids: Iterable[Path] = ()) -> Doc:
    """``node`` as a MongoDB query document."""
    return MongoCompiler(frozenset(object_ids)).filter(node)


def compile_query(query: Query, object_ids: Iterable[Path] = ()) -> MongoQuery:
    """``query`` (filter, sort with tiebreaker, keyset ``after``, skip, limit) for ``find``."""
    return MongoCompiler(frozenset(object_ids)).query(query)


# -- code-executing operators ------------------------------------------------------------------
def reject_code(doc: Any, where: str) -> None:
    """:class:`QueryError` if ``doc`` holds a code-executing operator key at any depth."""
    stack: list[Any] = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if isinstance(key, str) and key in CODE_OPERATORS:
                    raise QueryError(
                        f"{where}: {key} runs code on the server and is never sent "
                        "(use the query language or pipeline operators instead)"
                    )
                stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def walk_values(doc: Any, convert: Callable[[Any], Any]) -> Any:
    """``doc`` with every leaf value passed through ``convert`` (keys kept)."""
    if isinstance(doc, Mapping):
        return {k: walk_values(v, convert) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [walk_values(v, convert) for v in doc]
    return convert(doc)


__all__ = [
    "CODE_OPERATORS",
    "MongoCompiler",
    "MongoQuery",
    "as_object_id",
    "compile_filter",
    "compile_query",
    "object_id_paths",
    "object_ids_in",
    "reject_code",
    "to_bson",
    "walk_values",
]
