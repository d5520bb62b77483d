"""Document inference (nested objects, arrays, unions, presence) and the in-memory inspector.

The JSON file inspector decodes documents and hands them to the same :class:`DocumentAccumulator`,
so a list of dicts and a JSON file holding the same documents give the same snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..schema import (
    CollectionKind,
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    FieldStats,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
)
from .base import InspectError
from .infer import FieldAccumulator

__all__ = ["MAX_FIELDS", "DocumentAccumulator", "inspect_records"]

#: Distinct keys tracked per object. Beyond it the keys are data (ids, language codes...): the
#: object becomes a map and values of every key seen from then on feed one value accumulator.
MAX_FIELDS = 512


def field_order(names: Iterable[str]) -> list[str]:
    """``_id`` first, then by name (code-point order, independent of locale)."""
    return sorted(names, key=lambda n: (n != "_id", n))


class DocumentAccumulator:
    """Per-key :class:`FieldAccumulator`\\ s for the objects seen at one place in the documents."""

    def __init__(self, *, enum_max: int = 0) -> None:
        self.enum_max = enum_max
        self.count = 0
        self.fields: dict[str, FieldAccumulator] = {}
        self.map_values: FieldAccumulator | None = None

    def add(self, doc: Mapping[Any, Any]) -> None:
        self.count += 1
        for key, value in doc.items():
            name = str(key)
            if self.map_values is not None:
                self.map_values.add(value)
                continue
            acc = self.fields.get(name)
            if acc is None:
                if len(self.fields) >= MAX_FIELDS:
                    self.map_values = FieldAccumulator(enum_max=self.enum_max)
                    self.map_values.add(value)
                    continue
                acc = self.fields[name] = FieldAccumulator(enum_max=self.enum_max)
            acc.add(value)

    def to_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(self.fields[n].to_field(n, total=self.count) for n in field_order(self.fields))

    def to_type(self) -> TypeSpec:
        if self.map_values is not None:
            return TypeSpec(kind=LogicalType.OBJECT, map_values=self.map_values.to_type())
        return TypeSpec(kind=LogicalType.OBJECT, fields=self.to_fields())

    def collect_stats(self, prefix: str, out: dict[str, FieldStats]) -> None:
        for name in field_order(self.fields):
            path = f"{prefix}.{name}" if prefix else name
            self.fields[name].collect_stats(path, out, total=self.count)
        if self.map_values is not None:
            self.map_values.collect_stats(f"{prefix}.*" if prefix else "*", out, total=None)


def documents_collection(
    docs: DocumentAccumulator,
    *,
    name: str,
    kind: CollectionKind = "memory",
    row_estimate: int | None = None,
    **extra: Any,
) -> CollectionSpec:
    """The collection a document accumulator describes (fields, ``_id`` key, stats)."""
    stats: dict[str, FieldStats] = {}
    docs.collect_stats("", stats)
    fields = docs.to_fields()
    has_id = any(f.name == "_id" and f.required for f in fields)
    return CollectionSpec(
        name=name,
        kind=kind,
        primary_key=("_id",) if has_id else (),
        fields=fields,
        stats=CollectionStats(
            row_estimate=docs.count if row_estimate is None else row_estimate,
            sampled=docs.count,
            fields=stats,
        ),
        **extra,
    )


def inspect_records(
    records: Iterable[Mapping[str, Any]],
    *,
    name: str,
    collection: str,
    sample_docs: int | None = None,
) -> Snapshot:
    """Snapshot of an in-memory list of dicts (source ``name``, one collection ``collection``)."""
    docs = DocumentAccumulator()
    total = 0
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InspectError(
                f"{name}.{collection}: record {position} is a {type(record).__name__}, "
                "not a mapping (pass a list of dicts)"
            )
        total += 1
        if sample_docs is None or docs.count < sample_docs:
            docs.add(record)
    spec = documents_collection(docs, name=collection, kind="memory", row_estimate=total)
    return Snapshot(source=SourceInfo(name=name, kind="memory"), collections=(spec,))
