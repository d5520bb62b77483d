"""Splitting a filter on a view's fields into per-source filters and a residual.

A view filter is a conjunction (the top-level keys and ``$and`` items). Each conjunct whose
fields all come from one source is translated to that source's field names and pushed down to
its query, so the source sends only matching rows; the rest — conditions across sources, on
cast join keys (the source holds the uncast value) or on the outer side of an outer join
(filtering that side before the join would keep rows the filter drops) — is the *residual*,
applied to the joined rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import QueryError
from .query.fields import FieldInfo, FieldTable
from .query.parse import LOGICAL_OPERATORS, SUFFIXES


@dataclass(frozen=True)
class SplitFilter:
    #: Source name → filter in the source's field names (conjuncts ANDed).
    pushed: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Filter on the view's fields, applied after the join (None: nothing left).
    residual: dict[str, Any] | None = None


def _conjuncts(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, value in doc.items():
        if key == "$and" and isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, Mapping):
                    out.extend(_conjuncts(item))
                else:
                    out.append({key: value})  # malformed: the parser reports it
                    break
        else:
            out.append({key: value})
    return out


def _resolve(table: FieldTable, key: str) -> tuple[FieldInfo, str | None]:
    """The field a filter key names, and its ``__op`` suffix (as the parser reads keys)."""
    name, sep, suffix = key.rpartition("__")
    if sep and suffix in SUFFIXES:
        try:
            table.resolve(key)
        except QueryError:
            return table.resolve(name), suffix
    return table.resolve(key), None


def _walk(table: FieldTable, doc: Any, seen: list[FieldInfo]) -> None:
    if not isinstance(doc, Mapping):
        return
    for key, value in doc.items():
        if key in LOGICAL_OPERATORS:
            for item in value:
                _walk(table, item, seen)
        else:
            seen.append(_resolve(table, key)[0])


def _translate(table: FieldTable, doc: Mapping[str, Any], renames: Mapping[str, str]) -> Any:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in LOGICAL_OPERATORS:
            out[key] = [_translate(table, item, renames) for item in value]
            continue
        info, suffix = _resolve(table, key)
        path = (renames[info.ref.path[0]], *info.ref.path[1:])
        out[".".join(path) + (f"__{suffix}" if suffix else "")] = value
    return out


def split_filter(
    where: Mapping[str, Any] | None,
    table: FieldTable,
    origins: Mapping[str, tuple[str, str]],
    pushable: Sequence[str],
    fixed: frozenset[str] = frozenset(),
) -> SplitFilter:
    """``where`` (already validated against ``table``, the view model's fields) split by field
    origin. ``origins``: view field (source name) → (source, source field); ``pushable``:
    sources a condition may be pushed to; ``fixed``: view fields never pushed (cast keys)."""
    if not where:
        return SplitFilter()
    pushed: dict[str, list[dict[str, Any]]] = {}
    residual: list[dict[str, Any]] = []
    for conj in _conjuncts(where):
        infos: list[FieldInfo] = []
        _walk(table, conj, infos)
        heads = {i.ref.path[0] for i in infos}
        owners = {origins[h][0] for h in heads if h in origins}
        if (
            len(owners) == 1
            and len(heads) == len([h for h in heads if h in origins])
            and not heads & fixed
            and next(iter(owners)) in pushable
        ):
            src = next(iter(owners))
            renames = {h: origins[h][1] for h in heads}
            pushed.setdefault(src, []).append(_translate(table, conj, renames))
        else:
            residual.append(conj)
    return SplitFilter(
        {s: _and(items) for s, items in pushed.items()},
        _and(residual) if residual else None,
    )


def _and(items: list[dict[str, Any]]) -> dict[str, Any]:
    if len(items) == 1:
        return items[0]
    return {"$and": items}


def and_filters(*filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The conjunction of the given filters (None when none is given)."""
    given = [dict(f) for f in filters if f]
    if not given:
        return None
    return _and(given)


__all__ = ["SplitFilter", "and_filters", "split_filter"]
