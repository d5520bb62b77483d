"""Classified snapshot diff: each change is breaking, additive or cosmetic.

Severity is judged from the generated code's point of view: a change that can make existing
reader or writer code wrong is breaking; one that only adds what old code can ignore is
additive; one that changes no generated type (comments, indexes, spelling of source types) is
cosmetic. The volatile stats block is ignored unless asked for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from xrepo.runtime.schema import CollectionSpec, FieldSpec, LogicalType, Snapshot, TypeSpec

Severity = Literal["breaking", "additive", "cosmetic", "statistical"]
SEVERITY_RANK: dict[str, int] = {"cosmetic": 0, "statistical": 1, "additive": 2, "breaking": 3}


@dataclass(frozen=True, order=True)
class Change:
    collection: str
    field: str | None
    severity: Severity
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Logical types that can hold every value of the key type without loss.
_WIDENINGS: dict[LogicalType, frozenset[LogicalType]] = {
    LogicalType.INT: frozenset({LogicalType.FLOAT, LogicalType.DECIMAL, LogicalType.JSON}),
    LogicalType.FLOAT: frozenset({LogicalType.JSON}),
    LogicalType.ENUM: frozenset({LogicalType.STR}),
    LogicalType.UUID: frozenset({LogicalType.STR}),
    LogicalType.OBJECT_ID: frozenset({LogicalType.STR}),
    LogicalType.DATE: frozenset({LogicalType.DATETIME}),
}


def _key(t: TypeSpec) -> str:
    return t.model_dump_json(exclude_defaults=True)


def _type_change(old: TypeSpec, new: TypeSpec) -> tuple[Severity, str] | None:
    """None when equal for generated code; otherwise severity and what changed."""
    if _key(old) == _key(new):
        return None
    if old.kind == new.kind == LogicalType.ENUM:
        before, after = set(old.enum_values or ()), set(new.enum_values or ())
        gone = ", ".join(repr(v) for v in sorted(before - after, key=str))
        added = ", ".join(repr(v) for v in sorted(after - before, key=str))
        if gone and added:
            return "breaking", f"enum value(s) removed: {gone}; added: {added}"
        if gone:
            return "breaking", f"enum value(s) removed: {gone}"
        if added:
            return "additive", f"enum value(s) added: {added}"
        return "cosmetic", "enum values reordered"
    if old.kind == new.kind == LogicalType.UNION:
        before = {_key(v) for v in old.variants or ()}
        after = {_key(v) for v in new.variants or ()}
        if before - after:
            return "breaking", "union narrowed (a member type is gone)"
        return "additive", "union widened"
    if new.kind == LogicalType.UNION and _key(old) in {_key(v) for v in new.variants or ()}:
        return "additive", f"{old.kind.value} widened to a union"
    if old.kind == LogicalType.UNION and _key(new) in {_key(v) for v in old.variants or ()}:
        return "breaking", f"union narrowed to {new.kind.value}"
    if old.kind == new.kind:
        if old.kind == LogicalType.OBJECT:
            return None  # nested fields are compared field by field by the caller
        if old.kind == LogicalType.ARRAY and old.items and new.items:
            inner = _type_change(old.items, new.items)
            return (inner[0], f"array items: {inner[1]}") if inner else None
        if old.kind == LogicalType.STR and old.semantic and not new.semantic:
            return "additive", f"no longer constrained to {old.semantic}"
        if (old.max_length or 0) and (new.max_length is None or new.max_length > old.max_length):
            return "additive", "maximum length grown"
        if old.precision != new.precision or old.scale != new.scale:
            return "breaking", "numeric precision or scale changed"
        return "breaking", f"{old.kind.value} constraints changed"
    if new.kind in _WIDENINGS.get(old.kind, frozenset()):
        return "additive", f"type widened from {old.kind.value} to {new.kind.value}"
    return "breaking", f"type changed from {old.kind.value} to {new.kind.value}"


def _field_changes(coll: str, prefix: str, old: FieldSpec, new: FieldSpec) -> list[Change]:
    name = prefix + old.name
    out: list[Change] = []
    change = _type_change(old.type, new.type)
    if change:
        out.append(Change(coll, name, change[0], "type", change[1]))
    if old.nullable and not new.nullable:
        out.append(Change(coll, name, "breaking", "nullable", "no longer nullable"))
    elif new.nullable and not old.nullable:
        # The read model's type widens to `T | None`: code that relied on a value breaks.
        out.append(
            Change(coll, name, "breaking", "nullable", "now nullable (readers may get None)")
        )
    if new.required and not old.required:
        out.append(Change(coll, name, "breaking", "required", "now required for writers"))
    elif old.required and not new.required:
        out.append(Change(coll, name, "additive", "required", "no longer required for writers"))
    for attr in ("source_type", "default", "generated", "comment"):
        before, after = getattr(old, attr), getattr(new, attr)
        if before != after:
            out.append(Change(coll, name, "cosmetic", attr, f"{attr}: {before!r} → {after!r}"))
    if old.type.kind == new.type.kind == LogicalType.OBJECT:
        out.extend(_fields(coll, name + ".", old.type.fields or (), new.type.fields or ()))
    return out


def _fields(
    coll: str, prefix: str, old: tuple[FieldSpec, ...], new: tuple[FieldSpec, ...]
) -> list[Change]:
    before = {f.name: f for f in old}
    after = {f.name: f for f in new}
    out: list[Change] = []
    for name in before.keys() - after.keys():
        out.append(Change(coll, prefix + name, "breaking", "field_removed", "field removed"))
    for name in after.keys() - before.keys():
        f = after[name]
        if f.required:
            out.append(
                Change(coll, prefix + name, "breaking", "field_added", "required field added")
            )
        else:
            out.append(
                Change(coll, prefix + name, "additive", "field_added", "optional field added")
            )
    for name in before.keys() & after.keys():
        out.extend(_field_changes(coll, prefix, before[name], after[name]))
    common = [n for n in before if n in after]
    if common != [n for n in after if n in before]:
        out.append(Change(coll, prefix or None, "cosmetic", "order", "field order changed"))
    return out


def _collection(old: CollectionSpec, new: CollectionSpec, stats: bool) -> list[Change]:
    name = old.name
    out = _fields(name, "", old.fields, new.fields)
    if old.primary_key != new.primary_key:
        msg = f"primary key {list(old.primary_key)} → {list(new.primary_key)}"
        out.append(Change(name, None, "breaking", "primary_key", msg))
    if old.kind != new.kind:
        out.append(Change(name, None, "breaking", "kind", f"kind {old.kind} → {new.kind}"))
    simple = ("indexes", "foreign_keys", "checks", "comment", "file_format")
    for attr in simple:
        if getattr(old, attr) != getattr(new, attr):
            out.append(Change(name, None, "cosmetic", attr, f"{attr.replace('_', ' ')} changed"))
    if stats and old.stats != new.stats:
        out.append(Change(name, None, "statistical", "stats", "statistics changed"))
    return out


def diff_snapshots(old: Snapshot, new: Snapshot, *, stats: bool = False) -> list[Change]:
    """Every change from old to new, sorted (collection, field, severity, kind)."""
    before = {c.name: c for c in old.collections}
    after = {c.name: c for c in new.collections}
    out: list[Change] = []
    if (old.source.name, old.source.kind) != (new.source.name, new.source.kind):
        what = f"{old.source.kind} {old.source.name!r} → {new.source.kind} {new.source.name!r}"
        out.append(Change("", None, "breaking", "source", f"different sources compared: {what}"))
    for name in before.keys() - after.keys():
        out.append(Change(name, None, "breaking", "collection_removed", "collection removed"))
    for name in after.keys() - before.keys():
        out.append(Change(name, None, "additive", "collection_added", "collection added"))
    for name in before.keys() & after.keys():
        out.extend(_collection(before[name], after[name], stats))
    return sorted(out, key=lambda c: (c.collection, c.field or "", c.kind, c.message))


def worst(changes: list[Change]) -> Severity | None:
    if not changes:
        return None
    return max((c.severity for c in changes), key=lambda s: SEVERITY_RANK[s])


def fails(changes: list[Change], fail_on: str) -> bool:
    """``fail_on``: breaking | additive | any."""
    threshold = {"any": 0, "additive": SEVERITY_RANK["additive"], "breaking": 3}[fail_on]
    return any(SEVERITY_RANK[c.severity] >= threshold for c in changes)
