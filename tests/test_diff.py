"""The classified snapshot diff behind `xrepo diff` (and, later, `check --live`)."""

from __future__ import annotations

from xrepo.codegen.diff import diff_snapshots, fails, worst
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    IndexSpec,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
)

INT = TypeSpec(kind=LogicalType.INT)
STR = TypeSpec(kind=LogicalType.STR)


def snap(*fields: FieldSpec, pk: tuple[str, ...] = ("id",), **extra: object) -> Snapshot:
    coll = CollectionSpec(
        name="users",
        kind="table",
        primary_key=pk,
        fields=(FieldSpec(name="id", type=INT, nullable=False), *fields),
        **extra,  # type: ignore[arg-type]
    )
    return Snapshot(source=SourceInfo(name="app", kind="sqlite"), collections=(coll,))


def kinds(old: Snapshot, new: Snapshot) -> list[tuple[str | None, str, str]]:
    return [(c.field, c.severity, c.kind) for c in diff_snapshots(old, new)]


def test_identical_snapshots_have_no_changes() -> None:
    s = snap(FieldSpec(name="email", type=STR))
    assert diff_snapshots(s, s) == []
    assert worst([]) is None


def test_field_added_optional_is_additive_required_is_breaking() -> None:
    base = snap()
    assert kinds(base, snap(FieldSpec(name="bio", type=STR))) == [
        ("bio", "additive", "field_added")
    ]
    required = snap(FieldSpec(name="bio", type=STR, nullable=False, required=True))
    assert kinds(base, required) == [("bio", "breaking", "field_added")]


def test_field_removed_is_breaking() -> None:
    assert kinds(snap(FieldSpec(name="bio", type=STR)), snap()) == [
        ("bio", "breaking", "field_removed")
    ]


def test_type_widening_is_additive_narrowing_breaking() -> None:
    as_int = snap(FieldSpec(name="n", type=INT))
    as_float = snap(FieldSpec(name="n", type=TypeSpec(kind=LogicalType.FLOAT)))
    assert kinds(as_int, as_float) == [("n", "additive", "type")]
    assert kinds(as_float, as_int) == [("n", "breaking", "type")]
    as_str = snap(FieldSpec(name="n", type=STR))
    assert kinds(as_int, as_str) == [("n", "breaking", "type")]


def test_enum_values_added_and_removed() -> None:
    def e(*values: str) -> Snapshot:
        return snap(
            FieldSpec(name="tier", type=TypeSpec(kind=LogicalType.ENUM, enum_values=values))
        )

    assert kinds(e("a", "b"), e("a", "b", "c")) == [("tier", "additive", "type")]
    assert kinds(e("a", "b"), e("a")) == [("tier", "breaking", "type")]
    (swap,) = diff_snapshots(e("a", "b"), e("a", "c"))
    assert swap.severity == "breaking"
    assert "removed: 'b'" in swap.message and "added: 'c'" in swap.message


def test_nullability_and_requiredness() -> None:
    nullable = snap(FieldSpec(name="x", type=STR, nullable=True))
    not_null = snap(FieldSpec(name="x", type=STR, nullable=False, required=True))
    got = kinds(nullable, not_null)
    assert ("x", "breaking", "nullable") in got and ("x", "breaking", "required") in got
    # becoming nullable widens the read type to `str | None`: readers break
    assert sorted(kinds(not_null, nullable)) == [
        ("x", "additive", "required"),
        ("x", "breaking", "nullable"),
    ]


def test_union_narrowed_is_breaking_widened_additive() -> None:
    union = TypeSpec(kind=LogicalType.UNION, variants=(INT, STR))
    wide = snap(FieldSpec(name="u", type=union))
    narrow = snap(FieldSpec(name="u", type=INT))
    assert kinds(wide, narrow) == [("u", "breaking", "type")]
    assert kinds(narrow, wide) == [("u", "additive", "type")]


def test_primary_key_change_is_breaking_index_change_cosmetic() -> None:
    base = snap(FieldSpec(name="email", type=STR))
    assert (None, "breaking", "primary_key") in kinds(
        base, snap(FieldSpec(name="email", type=STR), pk=("email",))
    )
    indexed = snap(
        FieldSpec(name="email", type=STR), indexes=(IndexSpec(name="i", fields=("email",)),)
    )
    assert kinds(base, indexed) == [(None, "cosmetic", "indexes")]


def test_collection_added_and_removed() -> None:
    empty = Snapshot(source=SourceInfo(name="app", kind="sqlite"), collections=())
    full = snap()
    assert [(c.collection, c.severity) for c in diff_snapshots(empty, full)] == [
        ("users", "additive")
    ]
    assert [(c.collection, c.severity) for c in diff_snapshots(full, empty)] == [
        ("users", "breaking")
    ]


def test_nested_object_fields_are_compared() -> None:
    def obj(*inner: FieldSpec) -> Snapshot:
        return snap(FieldSpec(name="addr", type=TypeSpec(kind=LogicalType.OBJECT, fields=inner)))

    assert kinds(obj(FieldSpec(name="city", type=STR)), obj()) == [
        ("addr.city", "breaking", "field_removed")
    ]


def test_fail_on_threshold() -> None:
    changes = diff_snapshots(snap(), snap(FieldSpec(name="bio", type=STR)))
    assert fails(changes, "any") and fails(changes, "additive")
    assert not fails(changes, "breaking")
    assert not fails([], "any")


def test_comparing_different_sources_is_flagged() -> None:
    other = snap().model_copy(update={"source": SourceInfo(name="sales", kind="csv")})
    changes = diff_snapshots(snap(), other)
    assert [(c.kind, c.severity) for c in changes] == [("source", "breaking")]
    assert "different sources" in changes[0].message
