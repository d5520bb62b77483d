"""Keyset (cursor) pagination: opaque cursors and the "rows after this one" predicate.

A cursor holds the sort-key values of the last row of a page (the primary key is always the
last sort key, so the values name one position in a total order) plus the sort it was made
for.  It is URL-safe base64 of ``digest || JSON``; values keep their Python type (dates,
decimals, UUIDs, ``None`` ...) through tagged JSON.  The digest catches edited or truncated
cursors (it is an integrity check, not a secret signature: a forged cursor can only name a
position the caller could have asked for with a filter, and its values are validated against
the sort keys' kinds and always travel as bound parameters).

The predicate follows :mod:`.sort` exactly (null/missing first ascending, last descending;
MongoDB's type-class order for untyped fields), so a page's next page starts where the full
sort would continue.  The SQL form is :meth:`xrepo.runtime.sql.compiler.SQLCompiler.keyset`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import QueryError
from .ast import Kind, SortKey
from .fields import plain
from .sort import _key as _sort_key
from .values import MISSING, getter

T = TypeVar("T")
Row = Mapping[str, Any]

_VERSION = 1
_DIGEST = 8
_KEY = b"xrepo-cursor-v1"
#: Kinds whose cursor values may be ints where the kind says otherwise.
_NUMERIC: frozenset[Kind] = frozenset({"float", "decimal"})
_KIND_TYPES: dict[Kind, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "decimal": (decimal.Decimal,),
    "bool": (bool,),
    "date": (datetime.date,),
    "datetime": (datetime.datetime,),
    "time": (datetime.time,),
    "timedelta": (datetime.timedelta,),
    "uuid": (uuid.UUID,),
    "bytes": (bytes,),
}


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated read; pass ``next_cursor`` as ``after`` for the next
    page (``None``: this was the last page)."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


def signature(keys: Sequence[SortKey]) -> list[list[Any]]:
    """The sort a cursor belongs to: field names and directions, tiebreaker included."""
    return [[k.field.name, k.direction] for k in keys]


def row_values(keys: Sequence[SortKey], row: Row) -> tuple[Any, ...]:
    """The sort-key values of a SOURCE-keyed row (missing → ``None``), as backends store them."""
    out = []
    for k in keys:
        v = getter(k.field.path, False)(row)
        out.append(None if v is MISSING else plain(v))
    return tuple(out)


def encode_cursor(keys: Sequence[SortKey], values: Sequence[Any]) -> str:
    """An opaque, URL-safe cursor naming the position ``values`` in the ``keys`` order."""
    if len(values) != len(keys):
        raise QueryError(f"cursor: {len(values)} values for {len(keys)} sort keys")
    doc = {"v": _VERSION, "s": signature(keys), "k": [_encode(v) for v in values]}
    payload = json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()
    token = base64.urlsafe_b64encode(_digest(payload) + payload).decode("ascii")
    return token.rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[SortKey]) -> tuple[Any, ...]:
    """The typed values of ``cursor``; :class:`QueryError` when it was altered, is not a
    cursor, or was made for another sort."""
    if not isinstance(cursor, str) or not cursor:
        raise QueryError(f"after: expected a cursor string from a previous page, got {cursor!r}")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise QueryError("after: not a valid cursor (bad encoding)") from None
    mac, payload = raw[:_DIGEST], raw[_DIGEST:]
    if len(raw) <= _DIGEST or not hmac.compare_digest(mac, _digest(payload)):
        raise QueryError("after: cursor was altered or truncated; use next_cursor as returned")
    try:
        doc = json.loads(payload)
    except ValueError:
        raise QueryError("after: not a valid cursor (bad payload)") from None
    if not isinstance(doc, dict) or doc.get("v") != _VERSION:
        raise QueryError("after: unknown cursor version; request the first page again")
    if doc.get("s") != signature(keys):
        made = ", ".join(f"{n} {d:+d}" for n, d in doc.get("s") or [])
        now = ", ".join(f"{n} {d:+d}" for n, d in signature(keys))
        raise QueryError(f"after: cursor was made for sort [{made}], this query sorts [{now}]")
    encoded = doc.get("k")
    if not isinstance(encoded, list) or len(encoded) != len(keys):
        raise QueryError("after: cursor values do not match the sort keys")
    return tuple(_checked(k, _decode(v)) for k, v in zip(keys, encoded, strict=True))


def after_predicate(keys: Sequence[SortKey], values: Sequence[Any]) -> Callable[[Row], bool]:
    """True for rows strictly after the position ``values`` in the ``keys`` order."""
    parts: list[tuple[Callable[[Row], Any], bool, Any]] = []
    for k, v in zip(keys, values, strict=True):
        key = _sort_key(k)
        parts.append((key, k.direction == -1, key(_row_at(k.field.path, v))))

    def after(row: Row) -> bool:
        for key, descending, mark in parts:
            here = key(row)
            if here == mark:
                continue
            try:
                return bool(here < mark) if descending else bool(here > mark)
            except TypeError:  # values the sort itself cannot order (naive vs aware)
                return False
        return False

    return after


def _row_at(path: tuple[str, ...], value: Any) -> Row:
    node: Any = value
    for part in reversed(path):
        node = {part: node}
    return dict(node)


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST, key=_KEY).digest()


# -- tagged JSON values ---------------------------------------------------------------------
def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$t": "float", "v": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"$t": "dec", "v": str(value)}
    if isinstance(value, datetime.datetime):
        return {"$t": "dt", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$t": "date", "v": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$t": "time", "v": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {"$t": "td", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, uuid.UUID):
        return {"$t": "uuid", "v": str(value)}
    if isinstance(value, bytes):
        return {"$t": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {"$t": "map", "v": [[str(k), _encode(v)] for k, v in value.items()]}
    raise QueryError(f"cursor: cannot encode a sort value of type {type(value).__name__}")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "float": float,
    "dec": decimal.Decimal,
    "dt": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "td": lambda v: datetime.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "uuid": uuid.UUID,
    "bytes": lambda v: base64.b64decode(v, validate=True),
    "map": lambda v: {str(k): _decode(x) for k, x in v},
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    decoder = _DECODERS.get(value.get("$t", ""))
    if decoder is None or set(value) != {"$t", "v"}:
        raise QueryError("after: not a valid cursor (unknown value tag)")
    try:
        return decoder(value["v"])
    except (ValueError, TypeError, IndexError, ArithmeticError, binascii.Error):
        raise QueryError("after: not a valid cursor (bad value)") from None


def _checked(key: SortKey, value: Any) -> Any:
    kind = key.field.kind
    if value is None or kind in ("any", "object"):
        return value
    types = _KIND_TYPES[kind]
    ok = isinstance(value, types) and not (kind != "bool" and isinstance(value, bool))
    if kind == "date" and isinstance(value, datetime.datetime):
        ok = False
    if kind in _NUMERIC and isinstance(value, int) and not isinstance(value, bool):
        value = decimal.Decimal(value) if kind == "decimal" else value
        ok = True
    if not ok:
        raise QueryError(
            f"after: cursor value {value!r} does not fit sort field {key.field.name!r} ({kind})"
        )
    return value


__all__ = [
    "Page",
    "after_predicate",
    "decode_cursor",
    "encode_cursor",
    "row_values",
    "signature",
]
