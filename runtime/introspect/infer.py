"""Streaming value inference shared by the CSV, JSON, in-memory and SQLite inspectors.

A :class:`FieldAccumulator` is fed one value at a time — python values with :meth:`add`, raw CSV
cells with :meth:`add_text` — and keeps only counters and bounded sets, so its memory does not
grow with the input. At the end it answers :meth:`to_field` / :meth:`to_stats` / :meth:`to_type`.

Rules (documented here because the snapshot depends on them):

* **Widening, not unions**: int with float → float, int with decimal → decimal; CSV date with
  datetime → datetime. Any other mix of kinds is a union whose per-kind counts are in the stats
  type histogram. ``null`` never makes a union: it makes the field nullable.
* **CSV decimal**: a numeric column is decimal (not float) when a value has more than 17
  significant digits (no float prints that many, so they were written for their own sake), or
  when every fractional value has the same scale of 2 to 4 and some value shows a trailing
  fractional zero ("12.50") — money-like amounts. Measurements ("39.1", "8.94956", float repr
  noise like "8.3945900000000009") stay float.
* **CSV bool**: true/false, t/f, yes/no, y/n (any case). A 0/1 column is int.
* **Leading zeros** ("007", zip codes) are text, never int: the zeros are data.
* **Enum** (only when ``enum_max`` > 0, as the CSV inspector does): a str field whose sample holds
  at least ``MIN_ENUM_SAMPLE`` non-null values, at most ``enum_max`` distinct values, each seen
  twice on average, all label-like (<= 64 chars, <= 5 words, one line, not a sentence ending in
  punctuation) and with no semantic type. Values are listed sorted.
* **Observed lengths / precision** are statistics, not constraints: ``max_length`` and precision
  are tracked but not written into the type (a longer value tomorrow is still valid); the fixed
  scale of an inferred decimal is written, since it is what made the column decimal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ..files import (
    BOOL_FALSE,
    BOOL_TRUE,
    DATE_RE,
    DATETIME_RE,
    FLOAT_RE,
    INT_RE,
    TIME_RE,
    ObjectIdText,
)
from ..schema import FieldSpec, FieldStats, LogicalType, Semantic, TypeSpec
from .semantic import DISTINCT_CAP, DistinctCounter, SemanticTracker, cardinality_class

__all__ = [
    "DISTINCT_CAP",
    "MIN_ENUM_SAMPLE",
    "DistinctCounter",
    "FieldAccumulator",
    "kind_of",
]

MIN_ENUM_SAMPLE = 10
_LABEL_MAX = 64
_ORDER = {k.value: i for i, k in enumerate(LogicalType)}
_SCALARS = frozenset(_ORDER) - {"object", "array", "null", "unknown", "union", "json"}


def kind_of(value: Any) -> str:
    """The logical type name of a python (or bson) value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, ObjectIdText):
        return "object_id"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, datetime):
        return "datetime"
    for typ, name in ((date, "date"), (time, "time"), (timedelta, "timedelta"), (UUID, "uuid")):
        if isinstance(value, typ):
            return name
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    bson_kinds = {"ObjectId": "object_id", "Decimal128": "decimal", "Binary": "bytes"}
    return bson_kinds.get(type(value).__name__, "unknown")


def _classify_text(text: str) -> str:
    if text.lower() in BOOL_TRUE or text.lower() in BOOL_FALSE:
        return "bool"
    if INT_RE.fullmatch(text):
        return "int"
    if FLOAT_RE.fullmatch(text):
        return "float"
    try:
        if DATE_RE.fullmatch(text):
            date.fromisoformat(text)
            return "date"
        match = DATETIME_RE.fullmatch(text)
        if match:
            datetime.fromisoformat(text)
            return "datetime_aware" if match.group("tz") else "datetime_naive"
        if TIME_RE.fullmatch(text):
            time.fromisoformat(text)
            return "time"
    except ValueError:
        pass
    return "str"


def _is_label(text: str) -> bool:
    return (
        len(text) <= _LABEL_MAX
        and text.strip() == text
        and "\n" not in text
        and len(text.split()) <= 5
        and text[-1:] not in {".", "!", "?"}
    )


class FieldAccumulator:
    """Everything inferred about one field, from values seen one at a time (bounded memory)."""

    def __init__(
        self, *, enum_max: int = 0, distinct_cap: int = DISTINCT_CAP, text: bool = False
    ) -> None:
        self.enum_max = enum_max
        self.text = text
        self.count = 0  # times the field was present (null included)
        self.nulls = 0
        self.histogram: Counter[str] = Counter()
        self.max_length: int | None = None
        self.distinct = DistinctCounter(distinct_cap)
        self._semantic = SemanticTracker()
        self._labels: set[str] | None = set()
        self._aware = 0
        self._naive = 0
        # numeric text, for the decimal rule
        self.precision = 0
        self._scales: set[int] = set()
        self._trailing_zero = False
        self._children: Any = None  # DocumentAccumulator, built lazily (import cycle)
        self.items: FieldAccumulator | None = None
        #: Kinds an inspector reports as rare minorities instead of widening the type with them;
        #: they stay in the stats histogram.
        self.ignored_kinds: frozenset[str] = frozenset()

    # -- feeding -------------------------------------------------------------------------------
    def add(self, value: Any) -> None:
        """One python value (None = null). Objects and arrays recurse."""
        self.count += 1
        kind = kind_of(value)
        self.histogram[kind] += 1
        if kind == "null":
            self.nulls += 1
        elif kind == "str" or kind == "object_id":
            self._add_string(value)
        elif kind == "object":
            self.children.add(value)
        elif kind == "array":
            if self.items is None:
                self.items = FieldAccumulator(enum_max=self.enum_max)
            for item in value:
                self.items.add(item)
        elif kind == "datetime":
            if value.tzinfo is None:
                self._naive += 1
            else:
                self._aware += 1
            self.distinct.add(value.isoformat())
        elif kind in _SCALARS:
            self.distinct.add(f"{kind}:{value!r}")

    def add_text(self, text: str | None) -> None:
        """One raw CSV cell; the caller has already turned null tokens into None."""
        self.count += 1
        if text is None:
            self.nulls += 1
            self.histogram["null"] += 1
            return
        kind = _classify_text(text)
        if kind.startswith("datetime"):
            if kind == "datetime_aware":
                self._aware += 1
            else:
                self._naive += 1
            kind = "datetime"
        elif kind == "float" or kind == "int":
            self._numeric(text)
        self.histogram[kind] += 1
        self._add_string(text)

    def _add_string(self, text: str) -> None:
        self.distinct.add(text)
        self.max_length = max(self.max_length or 0, len(text))
        self._semantic.add(text)
        labels = self._labels
        if labels is not None and text not in labels:
            if len(labels) >= self.enum_max or not _is_label(text):
                self._labels = None
            else:
                labels.add(text)

    def _numeric(self, text: str) -> None:
        body = text.lstrip("+-")
        if "e" in body.lower() or (not body[:1].isdigit() and not body.startswith(".")):
            self._scales.add(-1)  # exponent or nan/inf: float only
            return
        whole, _, frac = body.partition(".")
        digits = (whole + frac).lstrip("0")
        self.precision = max(self.precision, len(digits))
        if frac:
            self._scales.add(len(frac))
            self._trailing_zero = self._trailing_zero or frac.endswith("0")

    @property
    def children(self) -> Any:
        if self._children is None:
            # Imported here: documents hold fields and fields hold documents.
            from .memory import DocumentAccumulator

            self._children = DocumentAccumulator(enum_max=self.enum_max)
        return self._children

    # -- answers -------------------------------------------------------------------------------
    def semantic(self) -> Semantic | None:
        """The semantic type all string values agree on (see :mod:`.semantic`)."""
        return self._semantic.result()

    @property
    def non_null(self) -> int:
        return self.count - self.nulls

    def kinds(self) -> list[str]:
        """Kinds seen (null excluded) after widening, in vocabulary order."""
        ignored = self.ignored_kinds
        kinds = {k for k, n in self.histogram.items() if n and k != "null" and k not in ignored}
        if "float" in kinds and "int" in kinds:
            kinds.discard("int")
        if "decimal" in kinds and "int" in kinds:
            kinds.discard("int")
        if self.text:
            if "float" in kinds and self._is_decimal():
                kinds = (kinds - {"float"}) | {"decimal"}
            if kinds == {"date", "datetime"}:
                kinds = {"datetime"}
            if len(kinds) > 1:
                kinds = {"str"}  # CSV cells are text: a mixed column is just text
        return sorted(kinds, key=_ORDER.__getitem__)

    def _is_decimal(self) -> bool:
        if -1 in self._scales:
            return False
        if self.precision > 17:
            return True
        return len(self._scales) == 1 and 2 <= min(self._scales) <= 4 and self._trailing_zero

    def to_type(self) -> TypeSpec:
        kinds = self.kinds()
        if not kinds:
            return TypeSpec(kind=LogicalType.STR if self.text else LogicalType.UNKNOWN)
        if len(kinds) == 1:
            return self._type_of(kinds[0])
        return TypeSpec(kind=LogicalType.UNION, variants=tuple(self._type_of(k) for k in kinds))

    def _type_of(self, kind: str) -> TypeSpec:
        if kind == "str":
            semantic = self._semantic.result()
            labels = self._labels
            if (
                self.enum_max > 0
                and semantic is None
                and labels
                and self.non_null >= MIN_ENUM_SAMPLE
                and len(labels) * 2 <= self.non_null
            ):
                return TypeSpec(kind=LogicalType.ENUM, enum_values=tuple(sorted(labels)))
            return TypeSpec(kind=LogicalType.STR, semantic=semantic)
        if kind in {"datetime", "time"}:
            aware = None if self._aware and self._naive else bool(self._aware)
            return TypeSpec(kind=LogicalType(kind), tz_aware=aware)
        if kind == "decimal" and self.text and len(self._scales) == 1:
            return TypeSpec(kind=LogicalType.DECIMAL, scale=next(iter(self._scales)))
        if kind == "object":
            return self.children.to_type()  # type: ignore[no-any-return]
        if kind == "array":
            items = self.items
            if items is None or items.count == 0:
                return TypeSpec(kind=LogicalType.ARRAY, items=TypeSpec(kind=LogicalType.UNKNOWN))
            item_type = items.to_type()
            if items.nulls and items.non_null:
                item_type = item_type.or_null()
            elif items.nulls:
                item_type = TypeSpec(kind=LogicalType.NULL)
            return TypeSpec(kind=LogicalType.ARRAY, items=item_type)
        return TypeSpec(kind=LogicalType(kind))

    def to_field(self, name: str, *, total: int | None = None) -> FieldSpec:
        """``total``: how many parent records were seen (None: the field is always present)."""
        return FieldSpec(
            name=name,
            type=self.to_type(),
            nullable=self.nulls > 0 or self.count == 0,
            required=total is None or self.count >= total,
        )

    def to_stats(self, *, total: int | None = None) -> FieldStats:
        scalar = any(k in _SCALARS for k in self.histogram)
        distinct = self.distinct.estimate() if scalar else None
        return FieldStats(
            null_ratio=round(self.nulls / self.count, 4) if self.count else None,
            presence_ratio=round(self.count / total, 4) if total else None,
            distinct_estimate=distinct,
            cardinality=cardinality_class(distinct, self.non_null) if distinct else None,
            type_histogram=dict(sorted(self.histogram.items())),
        )

    def collect_stats(self, path: str, out: dict[str, FieldStats], *, total: int | None) -> None:
        """Stats for this field and everything nested in it, keyed by dotted path."""
        out[path] = self.to_stats(total=total)
        if self._children is not None:
            self._children.collect_stats(path, out)
        if self.items is not None:
            self.items.collect_stats(f"{path}[]", out, total=None)
