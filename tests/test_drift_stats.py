"""Statistical drift: for schemaless sources a type's share, a field's presence or its null
ratio moving by at least the threshold; other sources only with stats=True."""

from __future__ import annotations

import pytest

from xrepo.codegen.diff import DEFAULT_STAT_THRESHOLD, diff_snapshots, fails, stat_changes
from xrepo.runtime.schema import (
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    FieldStats,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
)

INT = TypeSpec(kind=LogicalType.INT)


def snap(kind: str = "mongo", **age: object) -> Snapshot:
    stats = CollectionStats(fields={"age": FieldStats(**age)})  # type: ignore[arg-type]
    coll = CollectionSpec(
        name="people",
        kind="collection" if kind == "mongo" else "table",
        fields=(FieldSpec(name="age", type=INT),),
        stats=stats,
    )
    return Snapshot(source=SourceInfo(name="s", kind=kind), collections=(coll,))  # type: ignore[arg-type]


def kinds(old: Snapshot, new: Snapshot, **kw: object) -> list[tuple[str, str]]:
    return [(c.kind, c.message) for c in diff_snapshots(old, new, **kw)]  # type: ignore[arg-type]


def test_default_threshold_is_a_tenth() -> None:
    assert DEFAULT_STAT_THRESHOLD == 0.1


def test_presence_and_null_ratio_past_the_threshold() -> None:
    old = snap(presence_ratio=1.0, null_ratio=0.0)
    assert kinds(old, snap(presence_ratio=0.95, null_ratio=0.05)) == []
    assert kinds(old, snap(presence_ratio=0.9, null_ratio=0.0)) == [
        ("presence", "present in 1.00 → 0.90")
    ]
    assert kinds(old, snap(presence_ratio=1.0, null_ratio=0.3)) == [
        ("null_ratio", "null ratio 0.00 → 0.30")
    ]
    assert kinds(old, snap(presence_ratio=0.95), stat_threshold=0.05) == [
        ("presence", "present in 1.00 → 0.95")
    ]


def test_type_shares_compare_proportions_not_counts() -> None:
    old = snap(type_histogram={"int": 100})
    assert kinds(old, snap(type_histogram={"int": 5000})) == []  # more data, same shape
    got = kinds(old, snap(type_histogram={"int": 70, "str": 30}))
    assert got == [
        ("type_share", "share of int 1.00 → 0.70"),
        ("type_share", "share of str 0.00 → 0.30"),
    ]
    changes = diff_snapshots(old, snap(type_histogram={"int": 70, "str": 30}))
    assert {c.severity for c in changes} == {"statistical"}
    assert fails(changes, "any") and not fails(changes, "additive")


def test_sources_with_a_schema_compare_stats_only_when_asked() -> None:
    old = snap("postgres", null_ratio=0.0)
    new = snap("postgres", null_ratio=0.9)
    assert kinds(old, new) == []
    assert kinds(old, new, stats=True) == [("null_ratio", "null ratio 0.00 → 0.90")]


def test_missing_stats_or_ratios_are_not_drift() -> None:
    assert stat_changes("c", None, CollectionStats(), 0.1) == []
    assert kinds(snap(presence_ratio=None), snap(presence_ratio=0.2)) == []
    assert kinds(snap(), snap(type_histogram={"int": 3})) == []


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_threshold_must_be_a_ratio(bad: float) -> None:
    with pytest.raises(ValueError, match="stat threshold"):
        diff_snapshots(snap(), snap(), stat_threshold=bad)
