"""Read-only rows: how the memory backend hands out stored rows without copying them.

A query over a million rows must not copy every match (a dict copy per row costs more than the
scan), yet callers must never change what is stored.  So rows are frozen once, on the way in:
dicts and lists become :class:`ReadOnlyDict` / :class:`ReadOnlyList` — real ``dict`` / ``list``
subclasses (``isinstance``, JSON, pydantic all see plain containers) whose mutating methods
raise.  ``dict(row)`` is a shallow mutable copy; :func:`thaw` (or ``copy.deepcopy``) a deep one.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn

_MESSAGE = (
    "rows from the memory backend are read-only (they are the stored rows, not copies); "
    "copy first: dict(row), list(value), or xrepo.runtime.backends.readonly.thaw(row)"
)


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(_MESSAGE)


class ReadOnlyDict(dict[str, Any]):
    """A stored row or nested object; mutating methods raise :class:`TypeError`."""

    __slots__ = ()
    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (dict(self),))


class ReadOnlyList(list[Any]):
    """A stored array; mutating methods raise :class:`TypeError`."""

    __slots__ = ()
    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    reverse = _refuse
    sort = _refuse
    clear = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (list, (list(self),))


#: Immutable leaf types stored as they are.
#: Types whose values cannot change: shared freely between rows, models and callers.
IMMUTABLE_TYPES: frozenset[type] = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
    }
)


class Unfreezable(Exception):
    """A value that cannot be made read-only (a set, a custom mutable object)."""


def freeze(value: Any) -> Any:
    """``value`` with every dict/list replaced by a read-only copy (tuples keep their type).

    Raises :class:`Unfreezable` for other container or unknown types; the caller then falls
    back to copying on the way out.
    """
    tp = type(value)
    if tp in IMMUTABLE_TYPES:
        return value
    if tp is ReadOnlyDict or tp is ReadOnlyList:
        return value  # already frozen all the way down
    if isinstance(value, Mapping):
        return ReadOnlyDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return ReadOnlyList([freeze(v) for v in value])
    if isinstance(value, tuple) and tp is tuple:
        return tuple(freeze(v) for v in value)
    if isinstance(value, frozenset | str | bytes | int | float):
        return value
    raise Unfreezable(tp.__name__)


def freeze_row(values: Mapping[str, Any]) -> ReadOnlyDict:
    return ReadOnlyDict({k: freeze(v) for k, v in values.items()})


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a (possibly read-only) value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    if type(value) is tuple:
        return tuple(thaw(v) for v in value)
    return value if type(value) in IMMUTABLE_TYPES else copy.deepcopy(value)


__all__ = [
    "IMMUTABLE_TYPES",
    "ReadOnlyDict",
    "ReadOnlyList",
    "Unfreezable",
    "freeze",
    "freeze_row",
    "thaw",
]
