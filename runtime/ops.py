"""Typed operator documents for generated filter ``TypedDict``s.

A generated filter declares ``"price": Decimal | DecimalOps`` so that mypy checks both the
shorthand equality form and the operator form of the query language.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, TypedDict

StrOps = TypedDict(
    "StrOps",
    {
        "$eq": str | None,
        "$ne": str | None,
        "$gt": str,
        "$gte": str,
        "$lt": str,
        "$lte": str,
        "$in": list[str | None],
        "$nin": list[str | None],
        "$exists": bool,
        "$regex": str,
        "$options": str,
        "$not": "StrOps",
    },
    total=False,
)
IntOps = TypedDict(
    "IntOps",
    {
        "$eq": int | None,
        "$ne": int | None,
        "$gt": int,
        "$gte": int,
        "$lt": int,
        "$lte": int,
        "$in": list[int | None],
        "$nin": list[int | None],
        "$exists": bool,
        "$not": "IntOps",
    },
    total=False,
)
FloatOps = TypedDict(
    "FloatOps",
    {
        "$eq": float | None,
        "$ne": float | None,
        "$gt": float,
        "$gte": float,
        "$lt": float,
        "$lte": float,
        "$in": list[float | None],
        "$nin": list[float | None],
        "$exists": bool,
        "$not": "FloatOps",
    },
    total=False,
)
DecimalOps = TypedDict(
    "DecimalOps",
    {
        "$eq": decimal.Decimal | int | None,
        "$ne": decimal.Decimal | int | None,
        "$gt": decimal.Decimal | int,
        "$gte": decimal.Decimal | int,
        "$lt": decimal.Decimal | int,
        "$lte": decimal.Decimal | int,
        "$in": list[decimal.Decimal | int | None],
        "$nin": list[decimal.Decimal | int | None],
        "$exists": bool,
        "$not": "DecimalOps",
    },
    total=False,
)
BoolOps = TypedDict(
    "BoolOps",
    {
        "$eq": bool | None,
        "$ne": bool | None,
        "$in": list[bool | None],
        "$nin": list[bool | None],
        "$exists": bool,
        "$not": "BoolOps",
    },
    total=False,
)
DateOps = TypedDict(
    "DateOps",
    {
        "$eq": datetime.date | None,
        "$ne": datetime.date | None,
        "$gt": datetime.date,
        "$gte": datetime.date,
        "$lt": datetime.date,
        "$lte": datetime.date,
        "$in": list[datetime.date | None],
        "$nin": list[datetime.date | None],
        "$exists": bool,
        "$not": "DateOps",
    },
    total=False,
)
DateTimeOps = TypedDict(
    "DateTimeOps",
    {
        "$eq": datetime.datetime | None,
        "$ne": datetime.datetime | None,
        "$gt": datetime.datetime,
        "$gte": datetime.datetime,
        "$lt": datetime.datetime,
        "$lte": datetime.datetime,
        "$in": list[datetime.datetime | None],
        "$nin": list[datetime.datetime | None],
        "$exists": bool,
        "$not": "DateTimeOps",
    },
    total=False,
)
TimeOps = TypedDict(
    "TimeOps",
    {
        "$eq": datetime.time | None,
        "$ne": datetime.time | None,
        "$gt": datetime.time,
        "$gte": datetime.time,
        "$lt": datetime.time,
        "$lte": datetime.time,
        "$in": list[datetime.time | None],
        "$nin": list[datetime.time | None],
        "$exists": bool,
        "$not": "TimeOps",
    },
    total=False,
)
TimedeltaOps = TypedDict(
    "TimedeltaOps",
    {
        "$eq": datetime.timedelta | None,
        "$ne": datetime.timedelta | None,
        "$gt": datetime.timedelta,
        "$gte": datetime.timedelta,
        "$lt": datetime.timedelta,
        "$lte": datetime.timedelta,
        "$in": list[datetime.timedelta | None],
        "$nin": list[datetime.timedelta | None],
        "$exists": bool,
        "$not": "TimedeltaOps",
    },
    total=False,
)
UUIDOps = TypedDict(
    "UUIDOps",
    {
        "$eq": uuid.UUID | None,
        "$ne": uuid.UUID | None,
        "$in": list[uuid.UUID | None],
        "$nin": list[uuid.UUID | None],
        "$exists": bool,
        "$not": "UUIDOps",
    },
    total=False,
)
BytesOps = TypedDict(
    "BytesOps",
    {
        "$eq": bytes | None,
        "$ne": bytes | None,
        "$in": list[bytes | None],
        "$nin": list[bytes | None],
        "$exists": bool,
    },
    total=False,
)
#: For enums, JSON, objects, arrays and unions: every operator, values unchecked.
AnyOps = TypedDict(
    "AnyOps",
    {
        "$eq": Any,
        "$ne": Any,
        "$gt": Any,
        "$gte": Any,
        "$lt": Any,
        "$lte": Any,
        "$in": list[Any],
        "$nin": list[Any],
        "$exists": bool,
        "$regex": str,
        "$options": str,
        "$size": int,
        "$all": list[Any],
        "$elemMatch": dict[str, Any],
        "$not": "AnyOps",
    },
    total=False,
)

__all__ = [
    "AnyOps",
    "BoolOps",
    "BytesOps",
    "DateOps",
    "DateTimeOps",
    "DecimalOps",
    "FloatOps",
    "IntOps",
    "StrOps",
    "TimeOps",
    "TimedeltaOps",
    "UUIDOps",
]
