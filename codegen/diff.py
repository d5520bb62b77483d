"""Classified snapshot diff: each change is breaking, additive or cosmetic.

Severity is judged from the generated code's point of view: a change that can make existing
reader or writer code wrong is breaking; one that only adds what old code can ignore is
additive; one that changes no generated type (comments, indexes, spelling of source types) is
cosmetic. The volatile stats block is ignored unless asked for, with one exception: for
schemaless sources (MongoDB, JSON files, Redis) the *shape* of the data lives in the stats — a
type's share, a field's presence or null ratio — so those ratios are compared, and a move of at
least ``stat_threshold`` is **statistical** drift. The thresholded ratios are stable across
re-samples of unchanged data; counts and sizes are never compared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from xrepo.runtime.schema import (
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    FieldStats,
    LogicalType,
    Snapshot,
    TypeSpec,
)

Severity = Literal["breaking", "additive", "cosmetic", "statistical"]
SEVERITY_RANK: dict[str, int] = {"cosmetic": 0, "statistical": 1, "additive": 2, "breaking": 3}
SEVERITIES: tuple[Severity, ...] = ("breaking", "additive", "statistical", "cosmetic")
FailOn = Literal["breaking", "additive", "any"]
FAIL_ON: tuple[FailOn, ...] = ("breaking", "additive", "any")

#: Sources whose structure is inferred from sampled data: their stats ratios are compared always.
SCHEMALESS_KINDS = frozenset({"mongo", "json", "redis"})
DEFAULT_STAT_THRESHOLD = 0.1
#: Collection kinds whose every field exists on read (as in codegen.plan).
PRESENT_KINDS = frozenset({"table", "view", "materialized_view"})
# Ratios are rounded to 4 places by the inspectors: do not let float noise decide a boundary.
_EPSILON = 1e-9


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


def _writers_must_give(f: FieldSpec) -> bool:
    # As codegen.plan builds the create model: a nullable field is optional there.
    return f.required and not f.nullable


def _may_be_missing(f: FieldSpec, present: bool) -> bool:
    # As codegen.plan builds the read model: documents may lack a field that is not required.
    return not present and not f.required


def _field_changes(
    coll: str, prefix: str, old: FieldSpec, new: FieldSpec, present: bool
) -> list[Change]:
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
    reported = len(out)
    if _writers_must_give(new) and not _writers_must_give(old):
        out.append(Change(coll, name, "breaking", "required", "now required for writers"))
    elif _writers_must_give(old) and not _writers_must_give(new):
        out.append(Change(coll, name, "additive", "required", "no longer required for writers"))
    if not old.nullable and not new.nullable:
        if _may_be_missing(new, present) and not _may_be_missing(old, present):
            msg = "may now be missing (readers may get None)"
            out.append(Change(coll, name, "breaking", "may_be_missing", msg))
        elif _may_be_missing(old, present) and not _may_be_missing(new, present):
            out.append(Change(coll, name, "additive", "may_be_missing", "now always present"))
    if old.required != new.required and len(out) == reported:
        msg = f"required flag {old.required} → {new.required} (no generated type changes)"
        out.append(Change(coll, name, "cosmetic", "required", msg))
    for attr in ("source_type", "default", "generated", "comment"):
        before, after = getattr(old, attr), getattr(new, attr)
        if before != after:
            out.append(Change(coll, name, "cosmetic", attr, f"{attr}: {before!r} → {after!r}"))
    if old.type.kind == new.type.kind == LogicalType.OBJECT:
        out.extend(_fields(coll, name + ".", old.type.fields or (), new.type.fields or (), False))
    return out


def _fields(
    coll: str,
    prefix: str,
    old: tuple[FieldSpec, ...],
    new: tuple[FieldSpec, ...],
    present: bool,
) -> list[Change]:
    before = {f.name: f for f in old}
    after = {f.name: f for f in new}
    out: list[Change] = []
    for name in before.keys() - after.keys():
        out.append(Change(coll, prefix + name, "breaking", "field_removed", "field removed"))
    for name in after.keys() - before.keys():
        f = after[name]
        if _writers_must_give(f):
            out.append(
                Change(coll, prefix + name, "breaking", "field_added", "required field added")
            )
        else:
            out.append(
                Change(coll, prefix + name, "additive", "field_added", "optional field added")
            )
    for name in before.keys() & after.keys():
        out.extend(_field_changes(coll, prefix, before[name], after[name], present))
    common = [n for n in before if n in after]
    if common != [n for n in after if n in before]:
        out.append(Change(coll, prefix or None, "cosmetic", "order", "field order changed"))
    return out


def _share(hist: dict[str, int] | None) -> dict[str, float]:
    total = sum((hist or {}).values())
    return {t: n / total for t, n in (hist or {}).items()} if total else {}


def _ratio_change(
    coll: str, path: str, kind: str, label: str, before: float | None, after: float | None, t: float
) -> list[Change]:
    if before is None or after is None or abs(after - before) < t - _EPSILON:
        return []
    return [Change(coll, path, "statistical", kind, f"{label} {before:.2f} → {after:.2f}")]


def _field_stat_changes(
    coll: str, path: str, old: FieldStats, new: FieldStats, t: float
) -> list[Change]:
    out = _ratio_change(
        coll, path, "presence", "present in", old.presence_ratio, new.presence_ratio, t
    )
    out += _ratio_change(coll, path, "null_ratio", "null ratio", old.null_ratio, new.null_ratio, t)
    before, after = _share(old.type_histogram), _share(new.type_histogram)
    if before and after:
        for name in sorted(before.keys() | after.keys()):
            out += _ratio_change(
                coll,
                path,
                "type_share",
                f"share of {name}",
                before.get(name, 0.0),
                after.get(name, 0.0),
                t,
            )
    return out


def stat_changes(
    coll: str, old: CollectionStats | None, new: CollectionStats | None, threshold: float
) -> list[Change]:
    """Statistical drift between two stats blocks: per field path, presence ratio, null ratio
    and each type's share of the sampled values, where they moved by ``threshold`` or more."""
    if old is None or new is None:
        return []
    out: list[Change] = []
    for path in sorted(old.fields.keys() & new.fields.keys()):
        out += _field_stat_changes(coll, path, old.fields[path], new.fields[path], threshold)
    return out


def _collection(
    label: str, old: CollectionSpec, new: CollectionSpec, stat_threshold: float | None
) -> list[Change]:
    name = label
    out = _fields(name, "", old.fields, new.fields, new.kind in PRESENT_KINDS)
    if old.primary_key != new.primary_key:
        msg = f"primary key {list(old.primary_key)} → {list(new.primary_key)}"
        out.append(Change(name, None, "breaking", "primary_key", msg))
    if old.kind != new.kind:
        out.append(Change(name, None, "breaking", "kind", f"kind {old.kind} → {new.kind}"))
    simple = ("indexes", "foreign_keys", "checks", "comment", "file_format")
    for attr in simple:
        if getattr(old, attr) != getattr(new, attr):
            out.append(Change(name, None, "cosmetic", attr, f"{attr.replace('_', ' ')} changed"))
    if stat_threshold is not None:
        out.extend(stat_changes(name, old.stats, new.stats, stat_threshold))
    return out


def _labels(old: Snapshot, new: Snapshot) -> dict[tuple[str | None, str], str]:
    """Collections are told apart by (namespace, name); shown by name unless that is ambiguous."""
    keys = {(c.namespace, c.name) for c in (*old.collections, *new.collections)}
    by_name: dict[str, int] = {}
    for _, name in keys:
        by_name[name] = by_name.get(name, 0) + 1
    return {(ns, n): (f"{ns}.{n}" if by_name[n] > 1 and ns else n) for ns, n in keys}


def diff_snapshots(
    old: Snapshot,
    new: Snapshot,
    *,
    stats: bool = False,
    stat_threshold: float = DEFAULT_STAT_THRESHOLD,
) -> list[Change]:
    """Every change from old to new, sorted (collection, field, kind, message).

    Statistical drift is compared for schemaless sources always, and for every source with
    ``stats=True``; ``stat_threshold`` is the smallest ratio move reported (0 < t <= 1).
    """
    if not 0 < stat_threshold <= 1:
        raise ValueError(f"stat threshold {stat_threshold}: give a ratio in (0, 1], e.g. 0.1")
    labels = _labels(old, new)
    before = {(c.namespace, c.name): c for c in old.collections}
    after = {(c.namespace, c.name): c for c in new.collections}
    out: list[Change] = []
    if (old.source.name, old.source.kind) != (new.source.name, new.source.kind):
        what = f"{old.source.kind} {old.source.name!r} → {new.source.kind} {new.source.name!r}"
        out.append(Change("", None, "breaking", "source", f"different sources compared: {what}"))
    compare_stats = stats or new.source.kind in SCHEMALESS_KINDS
    threshold = stat_threshold if compare_stats else None
    for key in before.keys() - after.keys():
        out.append(
            Change(labels[key], None, "breaking", "collection_removed", "collection removed")
        )
    for key in after.keys() - before.keys():
        out.append(Change(labels[key], None, "additive", "collection_added", "collection added"))
    for key in before.keys() & after.keys():
        out.extend(_collection(labels[key], before[key], after[key], threshold))
    return sorted(out, key=lambda c: (c.collection, c.field or "", c.kind, c.message))


def worst(changes: list[Change]) -> Severity | None:
    if not changes:
        return None
    return max((c.severity for c in changes), key=lambda s: SEVERITY_RANK[s])


def counts(changes: list[Change]) -> dict[Severity, int]:
    """Number of changes per severity, every severity present (zero when none)."""
    out: dict[Severity, int] = {s: 0 for s in SEVERITIES}
    for c in changes:
        out[c.severity] += 1
    return out


def fails(changes: list[Change], fail_on: str) -> bool:
    """``fail_on``: breaking | additive | any (any includes statistical and cosmetic)."""
    threshold = {"any": 0, "additive": SEVERITY_RANK["additive"], "breaking": 3}[fail_on]
    return any(SEVERITY_RANK[c.severity] >= threshold for c in changes)
