"""Joins for materialized views: a hash join with SQL semantics, and the view's merged schema.

The join builds a hash table on the smaller input and streams the larger one, so memory holds
one input plus the output. Semantics are SQL's: a key with a NULL (or missing) component never
matches anything — not even another NULL; duplicate keys give every pairing (a cartesian
product per key value); ``left``/``right``/``full`` keep the unmatched rows of that side with
NULLs for the other. Output order does not depend on which side was built: left rows in
order, each with its matches in right order, then unmatched right rows in right order.

``max_rows`` bounds the output: the join stops with :class:`JoinSizeError` as soon as it would
produce more, instead of exhausting memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ConfigurationError, XRepoError
from .naming import NameAllocator
from .schema import CollectionSpec, FieldSpec

JoinType = Literal["inner", "left", "right", "full"]
JOIN_TYPES: tuple[JoinType, ...] = ("inner", "left", "right", "full")
PrefixMode = Literal["collisions", "always"]
Row = dict[str, Any]
KeyFn = Callable[[Mapping[str, Any]], tuple[Any, ...] | None]


class JoinSizeError(XRepoError):
    """A join (or one of its inputs) exceeded the view's ``max_rows``."""


def hashable(value: Any) -> Any:
    """A hashable stand-in for a key value (lists and dicts compare by content)."""
    if isinstance(value, list | tuple):
        return tuple(hashable(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(hashable(v) for v in value)
    return value


def key_fn(fields: Sequence[str]) -> KeyFn:
    """Key of a row on ``fields``; None when a component is NULL or missing (never matches)."""
    names = tuple(fields)

    def key(row: Mapping[str, Any]) -> tuple[Any, ...] | None:
        out = []
        for name in names:
            value = row.get(name)
            if value is None:
                return None
            out.append(hashable(value))
        return tuple(out)

    return key


def coalesce_key_fn(alternatives: Sequence[Sequence[str]]) -> KeyFn:
    """Key of an already-joined row: per component, the first non-NULL among the sources joined
    so far (SQL's ``COALESCE(a.k, b.k)``, what a chained full join keys on)."""
    columns = [tuple(col) for col in zip(*alternatives, strict=True)]

    def key(row: Mapping[str, Any]) -> tuple[Any, ...] | None:
        out = []
        for names in columns:
            value = None
            for name in names:
                value = row.get(name)
                if value is not None:
                    break
            if value is None:
                return None
            out.append(hashable(value))
        return tuple(out)

    return key


class _Budget:
    def __init__(self, max_rows: int | None, what: str) -> None:
        self.max_rows = max_rows
        self.what = what
        self.used = 0

    def take(self, n: int = 1) -> None:
        self.used += n
        if self.max_rows is not None and self.used > self.max_rows:
            raise JoinSizeError(
                f"{self.what}: the join produces more than max_rows={self.max_rows} rows; "
                "filter the sources (per-source filters) or raise max_rows"
            )


def hash_join(
    left: Sequence[Mapping[str, Any]],
    right: Sequence[Mapping[str, Any]],
    left_key: KeyFn,
    right_key: KeyFn,
    how: JoinType,
    combine: Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], Row],
    *,
    max_rows: int | None = None,
    what: str = "join",
) -> list[Row]:
    """Join two row lists; ``combine(l, r)`` builds an output row (one side None when
    unmatched)."""
    if how not in JOIN_TYPES:
        raise ConfigurationError(f"{what}: unknown join type {how!r} (use one of {JOIN_TYPES})")
    budget = _Budget(max_rows, what)
    keep_left = how in ("left", "full")
    keep_right = how in ("right", "full")
    out: list[Row] = []
    if len(right) <= len(left):
        table = _index(right, right_key)
        matched = bytearray(len(right)) if keep_right else None
        for lrow in left:
            k = left_key(lrow)
            hits = table.get(k) if k is not None else None
            if hits:
                budget.take(len(hits))
                for ri in hits:
                    out.append(combine(lrow, right[ri]))
                    if matched is not None:
                        matched[ri] = 1
            elif keep_left:
                budget.take()
                out.append(combine(lrow, None))
        if matched is not None:
            for ri, seen in enumerate(matched):
                if not seen:
                    budget.take()
                    out.append(combine(None, right[ri]))
        return out
    # Build on the (smaller) left side, stream the right; pairs are put back in left order.
    ltable = _index(left, left_key)
    lmatched = bytearray(len(left))
    pairs: list[tuple[int, int]] = []
    unmatched_right: list[int] = []
    for ri, rrow in enumerate(right):
        k = right_key(rrow)
        hits = ltable.get(k) if k is not None else None
        if hits:
            budget.take(len(hits))
            for li in hits:
                pairs.append((li, ri))
                lmatched[li] = 1
        elif keep_right:
            budget.take()
            unmatched_right.append(ri)
    if keep_left:
        for li, seen in enumerate(lmatched):
            if not seen:
                budget.take()
                pairs.append((li, -1))
    pairs.sort()
    for li, ri in pairs:
        out.append(combine(left[li], right[ri] if ri >= 0 else None))
    out.extend(combine(None, right[ri]) for ri in unmatched_right)
    return out


def _index(rows: Sequence[Mapping[str, Any]], key: KeyFn) -> dict[tuple[Any, ...], list[int]]:
    table: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(rows):
        k = key(row)
        if k is not None:
            table.setdefault(k, []).append(i)
    return table


# -- the view's schema ------------------------------------------------------------------


@dataclass(frozen=True)
class ViewSource:
    """One source of a view: its name (the field prefix), schema and join key (source names)."""

    name: str
    spec: CollectionSpec
    key: tuple[str, ...]


@dataclass(frozen=True)
class MergedSchema:
    spec: CollectionSpec
    #: Per source (same order): source field name → view field name.
    renames: tuple[dict[str, str], ...]


def nullable_sides(how: JoinType, count: int) -> list[bool]:
    """Which sources may contribute NULL rows (their fields become nullable in the view)."""
    if how == "inner":
        return [False] * count
    if how == "left":
        return [False] + [True] * (count - 1)
    if how == "right":
        return [True] * (count - 1) + [False]
    return [True] * count


def merge_schemas(
    name: str,
    sources: Sequence[ViewSource],
    how: JoinType,
    *,
    prefix: PrefixMode = "collisions",
    namespace: str | None = None,
) -> MergedSchema:
    """The view's collection spec (kind ``view``): every field of every source, in source order.

    A field is renamed ``<source>_<field>`` when another source has a field of the same name
    (``prefix="collisions"``, the default) or always (``prefix="always"``); join keys are no
    exception, so each side's key stays visible (NULL on the side that did not match).
    Fields of a side that may be missing from a row (the outer side of a join) become nullable.
    """
    if prefix not in ("collisions", "always"):
        raise ConfigurationError(f"view {name!r}: prefix must be 'collisions' or 'always'")
    counts: dict[str, int] = {}
    for src in sources:
        for f in src.spec.fields:
            counts[f.name] = counts.get(f.name, 0) + 1
    alloc = NameAllocator()
    fields: list[FieldSpec] = []
    renames: list[dict[str, str]] = []
    for src, outer in zip(sources, nullable_sides(how, len(sources)), strict=True):
        mapping: dict[str, str] = {}
        for f in src.spec.fields:
            wanted = f.name
            if prefix == "always" or counts[f.name] > 1:
                wanted = f"{src.name}_{f.name}"
            out = alloc.take(wanted)
            mapping[f.name] = out
            update: dict[str, Any] = {"name": out}
            if outer:
                update |= {"nullable": True, "required": False}
            fields.append(f.model_copy(update=update))
        renames.append(mapping)
    described = ", ".join(f"{s.name}({', '.join(s.key)})" for s in sources)
    spec = CollectionSpec(
        name=name,
        namespace=namespace,
        kind="view",
        fields=tuple(fields),
        comment=f"{how} join of {described}",
    )
    return MergedSchema(spec, tuple(renames))


def combine_rows(
    renames: Sequence[Mapping[str, str]], left_count: int
) -> Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], Row]:
    """``combine`` for joining source number ``left_count`` onto the first ``left_count``
    sources (whose rows are already view rows)."""
    left_blank: Row = {out: None for m in renames[:left_count] for out in m.values()}
    mapping = renames[left_count]

    def combine(lrow: Mapping[str, Any] | None, rrow: Mapping[str, Any] | None) -> Row:
        row: Row = dict(lrow) if lrow is not None else dict(left_blank)
        if rrow is None:
            for out in mapping.values():
                row[out] = None
        else:
            for src, out in mapping.items():
                row[out] = rrow.get(src)
        return row

    return combine


def join_sources(
    rows: Sequence[Sequence[Mapping[str, Any]]],
    sources: Sequence[ViewSource],
    merged: MergedSchema,
    how: JoinType,
    *,
    max_rows: int | None = None,
    what: str = "view",
) -> list[Row]:
    """Join the sources' rows left to right. With more than two sources each step joins the
    next source on the coalesced keys of the sources joined so far."""
    if len(sources) < 2:
        raise ConfigurationError(f"{what}: a join needs at least two sources")
    widths = {len(s.key) for s in sources}
    if len(widths) != 1 or 0 in widths:
        raise ConfigurationError(
            f"{what}: every source needs a join key of the same length, got "
            + ", ".join(f"{s.name}={list(s.key)}" for s in sources)
        )
    for src in sources:
        known = {f.name for f in src.spec.fields}
        missing = [k for k in src.key if k not in known]
        if missing:
            raise ConfigurationError(
                f"{what}: source {src.name!r} has no field {missing[0]!r} to join on "
                f"(fields: {', '.join(sorted(known))})"
            )
    first = merged.renames[0]
    current: list[Row] = [{out: r.get(src) for src, out in first.items()} for r in rows[0]]
    for i in range(1, len(sources)):
        done = [[merged.renames[j][k] for k in sources[j].key] for j in range(i)]
        current = hash_join(
            current,
            rows[i],
            coalesce_key_fn(done),
            key_fn(sources[i].key),
            how,
            combine_rows(merged.renames, i),
            max_rows=max_rows,
            what=what,
        )
    return current


def reference_join(
    left: Iterable[Mapping[str, Any]],
    right: Iterable[Mapping[str, Any]],
    left_key: KeyFn,
    right_key: KeyFn,
    how: JoinType,
    combine: Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], Row],
) -> list[Row]:
    """Nested-loop join with the same semantics and order (for tests and tiny inputs)."""
    lrows, rrows = list(left), list(right)
    out: list[Row] = []
    rseen = [False] * len(rrows)
    for lrow in lrows:
        lk = left_key(lrow)
        hit = False
        for ri, rrow in enumerate(rrows):
            rk = right_key(rrow)
            if lk is not None and rk is not None and lk == rk:
                out.append(combine(lrow, rrow))
                rseen[ri] = hit = True
        if not hit and how in ("left", "full"):
            out.append(combine(lrow, None))
    if how in ("right", "full"):
        out.extend(combine(None, r) for r, seen in zip(rrows, rseen, strict=True) if not seen)
    return out


__all__ = [
    "JOIN_TYPES",
    "JoinSizeError",
    "JoinType",
    "MergedSchema",
    "PrefixMode",
    "ViewSource",
    "coalesce_key_fn",
    "hash_join",
    "join_sources",
    "key_fn",
    "merge_schemas",
    "nullable_sides",
    "reference_join",
]
