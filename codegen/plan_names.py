"""Class-name allocation for one source module: every name requested once, collisions resolved.

Allocation is global to the module (two collections may want ``Order``), cheap, and done before
planning, so each collection's plan depends only on its own spec plus the names it was given —
which is what lets rendered chunks be cached per collection.
"""

from __future__ import annotations

from collections.abc import Sequence

from xrepo.runtime.schema import CollectionSpec, LogicalType, TypeSpec

from .naming import NameAllocator, pascal_case

#: Names generated modules import; no class may take them.
IMPORTED_NAMES = frozenset(
    {
        "AnyOps",
        "BoolOps",
        "BytesOps",
        "ConnectedRepo",
        "DateOps",
        "DateTimeOps",
        "DecimalOps",
        "FileFormat",
        "FloatOps",
        "IntOps",
        "MaterializedRepo",
        "RepoMetadata",
        "StrOps",
        "TimeOps",
        "TimedeltaOps",
        "UUIDOps",
        "XObjPrototype",
    }
)

#: Fixed suffixes of the per-collection names (key → suffix).
VARIANTS: tuple[tuple[str, str], ...] = (
    ("create", "Create"),
    ("update", "Update"),
    ("filter", "Filter"),
    ("field", "Field"),
    ("repo", "Repo"),
)

NameKey = tuple[str, ...]

_NAMED_KINDS = frozenset(
    {LogicalType.OBJECT, LogicalType.ARRAY, LogicalType.ENUM, LogicalType.UNION}
)


def _type_requests(
    ts: TypeSpec, key: NameKey, wanted: str, singular: bool, out: list[tuple[NameKey, str]]
) -> None:
    kind = ts.kind
    if kind is LogicalType.OBJECT and ts.fields:
        out.append((key, wanted))
        for f in ts.fields:
            _field_requests(f.name, f.type, key, wanted, singular, out)
    elif kind is LogicalType.OBJECT and ts.map_values is not None:
        _type_requests(ts.map_values, (*key, "{}"), wanted + "Value", singular, out)
    elif kind is LogicalType.ARRAY and ts.items is not None:
        _type_requests(ts.items, (*key, "[]"), wanted, singular, out)
    elif kind is LogicalType.ENUM:
        out.append((key, wanted))
    elif kind is LogicalType.UNION and ts.variants:
        for i, v in enumerate(ts.variants):
            _type_requests(v, (*key, f"|{i}"), wanted, singular, out)


def _field_requests(
    name: str,
    ts: TypeSpec,
    parent: NameKey,
    owner: str,
    singular: bool,
    out: list[tuple[NameKey, str]],
) -> None:
    kind = ts.kind
    if kind not in _NAMED_KINDS or (
        kind is LogicalType.OBJECT and not ts.fields and ts.map_values is None
    ):
        return  # scalars need no class name; skip the (costly) PascalCase
    in_array = kind is LogicalType.ARRAY
    wanted = owner + pascal_case(name, singular=singular and in_array)
    _type_requests(ts, (*parent, name), wanted, singular, out)


def collection_requests(
    coll: CollectionSpec, base: str, singular: bool
) -> list[tuple[NameKey, str]]:
    """Every class name a collection wants, keyed by its place in the spec, in a fixed order."""
    out: list[tuple[NameKey, str]] = [((key,), base + suffix) for key, suffix in VARIANTS]
    for f in coll.fields:
        _field_requests(f.name, f.type, ("f",), base, singular, out)
    return out


def allocate(collections: Sequence[CollectionSpec], singular: bool) -> list[dict[NameKey, str]]:
    """Per collection (same order): name key → class name; ``("model",)`` is the read model."""
    alloc = NameAllocator(IMPORTED_NAMES, separator="")
    bases = [alloc.take(pascal_case(c.name, singular=singular)) for c in collections]
    result: list[dict[NameKey, str]] = []
    for coll, base in zip(collections, bases, strict=True):
        names: dict[NameKey, str] = {("model",): base}
        for key, wanted in collection_requests(coll, base, singular):
            names[key] = alloc.take(wanted)
        result.append(names)
    return result
