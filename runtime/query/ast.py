"""The query AST: immutable, validated, keyed by SOURCE names, shared by every compiler.

A filter document is parsed once (:mod:`.parse`) into these nodes; compilers turn them into a
Python predicate (:mod:`.predicate`), SQL (:mod:`xrepo.runtime.sql`) or, later, a Mongo document.
Values in the nodes are already coerced to the field's Python type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: Leaf value kinds the compilers care about.  "any" = untyped (JSON, unions): compared with
#: MongoDB-like care at run time; "object" = nested model; the rest are scalars.
Kind = Literal[
    "str",
    "int",
    "float",
    "decimal",
    "bool",
    "date",
    "datetime",
    "time",
    "timedelta",
    "uuid",
    "bytes",
    "object",
    "any",
]
CmpOp = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
Direction = Literal[1, -1]


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A (possibly dotted) field: ``path`` holds source names, ``name`` the Python spelling."""

    path: tuple[str, ...]
    name: str
    kind: Kind
    #: The leaf holds a list (of ``kind`` items).
    array: bool = False
    #: Some step before the leaf is a list of objects (MongoDB fans out over its elements).
    through_array: bool = False

    @property
    def column(self) -> str:
        return self.path[0]


class Node:
    """Base of the filter nodes."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class MatchAll(Node):
    """The empty filter."""


@dataclass(frozen=True, slots=True)
class Compare(Node):
    field: FieldRef
    op: CmpOp
    #: ``None`` only with ``eq`` / ``ne`` (null-or-missing semantics).
    value: Any


@dataclass(frozen=True, slots=True)
class In(Node):
    """``$in`` (``negate=False``) and ``$nin`` (``negate=True``); ``None`` matches null/missing."""

    field: FieldRef
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Exists(Node):
    field: FieldRef
    present: bool


@dataclass(frozen=True, slots=True)
class Regex(Node):
    field: FieldRef
    pattern: str
    #: MongoDB ``$options`` letters, validated: a subset of "imsx".
    options: str = ""


@dataclass(frozen=True, slots=True)
class Size(Node):
    field: FieldRef
    size: int


@dataclass(frozen=True, slots=True)
class All(Node):
    field: FieldRef
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ElemMatch(Node):
    """Some element of the array ``field`` satisfies ``where``.

    For arrays of objects, ``where`` refers to element fields (paths relative to the element);
    for arrays of scalars its fields have the empty path ``()`` — the element itself.
    """

    field: FieldRef
    where: Node


@dataclass(frozen=True, slots=True)
class Not(Node):
    where: Node


@dataclass(frozen=True, slots=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Nor(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    field: FieldRef
    direction: Direction = 1


@dataclass(frozen=True, slots=True)
class Query:
    """A whole read: filter, order (primary key appended as tiebreaker), paging.

    Keyset pagination: ``after`` holds the sort-key values (one per ``sort`` key, typed like
    filter values) of the last row seen; only rows strictly after that position in the
    ``sort`` order are read, before ``skip``/``limit`` apply.  Compiled to
    ``(k1, k2, ...) > (v1, v2, ...)`` or an OR-chain when directions or NULLs need it
    (:mod:`.cursor`).
    """

    where: Node = field(default_factory=MatchAll)
    sort: tuple[SortKey, ...] = ()
    skip: int = 0
    limit: int | None = None
    after: tuple[Any, ...] | None = None


def conjoin(*nodes: Node) -> Node:
    """AND of ``nodes`` with ``MatchAll`` dropped and nested ANDs flattened."""
    items: list[Node] = []
    for n in nodes:
        if isinstance(n, MatchAll):
            continue
        items.extend(n.items if isinstance(n, And) else (n,))
    if not items:
        return MatchAll()
    return items[0] if len(items) == 1 else And(tuple(items))


__all__ = [
    "All",
    "And",
    "CmpOp",
    "Compare",
    "Direction",
    "ElemMatch",
    "Exists",
    "FieldRef",
    "In",
    "Kind",
    "MatchAll",
    "Node",
    "Nor",
    "Not",
    "Or",
    "Query",
    "Regex",
    "Size",
    "SortKey",
    "conjoin",
]
