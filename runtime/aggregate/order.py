"""MongoDB's cross-type value order, equality and truthiness for pipeline values.

Order of type classes (BSON comparison order, with Python types mapped onto it):
missing < null < numbers (int, float, Decimal, compared by value) < strings (code point order,
i.e. UTF-8 byte order as MongoDB's default "simple" collation and SQLite's BINARY) < objects
(field by field: name, then value, in stored order) < arrays (element by element) < bytes <
UUID < bool < date/datetime < time < timedelta.  date and datetime share one class (a date is
midnight of that day); aware datetimes compare in UTC, naive ones are taken as UTC.
Documented difference: ``$sort`` orders an array as a whole value (element-wise), where
MongoDB sorts by its smallest (ascending) or largest (descending) element.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from ..query.values import MISSING

_NUM = (int, float, decimal.Decimal)


def order_key(value: Any) -> tuple[Any, ...]:
    """A key giving ``value`` its MongoDB position; equal keys ⇔ equal values (``1 == 1.0``)."""
    if value is MISSING:
        return (-1,)
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (7, value)
    if isinstance(value, _NUM):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, dict):
        return (3, tuple((k, order_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (4, tuple(order_key(v) for v in value))
    if isinstance(value, bytes):
        return (5, value)
    if isinstance(value, uuid.UUID):
        return (6, value.int)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return (8, value)
    if isinstance(value, datetime.date):
        return (8, datetime.datetime(value.year, value.month, value.day))
    if isinstance(value, datetime.time):
        return (9, value.replace(tzinfo=None))
    if isinstance(value, datetime.timedelta):
        return (10, value)
    return (11, type(value).__name__, str(value))


def null_key(value: Any) -> tuple[Any, ...]:
    """Like :func:`order_key` but missing counts as null (``$sort``, ``$group`` keys)."""
    return (0,) if value is MISSING else order_key(value)


def truthy(value: Any) -> bool:
    """MongoDB truthiness: false, null, missing and numeric zero are false; all else true."""
    if value is None or value is MISSING or value is False:
        return False
    if isinstance(value, _NUM) and not isinstance(value, bool):
        return bool(value != 0)
    return True


def is_number(value: Any) -> bool:
    return isinstance(value, _NUM) and not isinstance(value, bool)


__all__ = ["is_number", "null_key", "order_key", "truthy"]
