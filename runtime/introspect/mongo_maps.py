"""Sub-documents keyed by data (ids, language codes) recognised as maps, before inference.

Rule: a sub-document (at one place in the documents, across the detection sample) is a map when
it shows more than :data:`MAP_MIN_KEYS` distinct keys and every key looks like data
(:func:`.mongo_types.is_data_key`: numbers, hex ids, UUIDs, language / region codes, prefixed
ids), or when it shows more than :data:`~.memory.MAX_FIELDS` distinct keys of any shape. A
document with 65 genuinely named fields is rare; one keyed by 65 language codes is a map. Sixty
four keys or fewer stay fields even when they look like codes (a fixed set of ``en`` / ``fr``
columns is a schema, not data).

The decision needs the keys of the whole detection sample before any value is typed, so it runs
as a pass over raw documents; maps nested in map values are found by repeating the pass with
the maps known so far. :func:`prepare` then plants a map-valued accumulator at each map's place,
so :class:`~.memory.DocumentAccumulator` feeds every key's value into one value type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .infer import FieldAccumulator
from .memory import MAX_FIELDS, DocumentAccumulator
from .mongo_types import ITEMS, VALUES, Path, is_data_key

__all__ = ["MAP_MIN_KEYS", "detect_maps", "prepare"]

MAP_MIN_KEYS = 64
_MAX_PASSES = 8


class _Keys:
    __slots__ = ("data_like", "keys")

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.data_like = True

    def add(self, key: str) -> None:
        if len(self.keys) <= MAX_FIELDS and key not in self.keys:
            self.keys.add(key)
            if self.data_like and not is_data_key(key):
                self.data_like = False

    def is_map(self) -> bool:
        n = len(self.keys)
        return n > MAX_FIELDS or (n > MAP_MIN_KEYS and self.data_like)


def _scan(value: Any, path: Path, maps: set[Path], seen: dict[Path, _Keys]) -> None:
    if isinstance(value, Mapping):
        if path in maps:
            inner = (*path, VALUES)
            for v in value.values():
                _scan(v, inner, maps, seen)
            return
        keys = seen.get(path)
        if keys is None:
            keys = seen[path] = _Keys()
        for k, v in value.items():
            name = str(k)
            keys.add(name)
            if isinstance(v, (Mapping, list)):
                _scan(v, (*path, ("k", name)), maps, seen)
    elif isinstance(value, list):
        inner = (*path, ITEMS)
        for v in value:
            if isinstance(v, (Mapping, list)):
                _scan(v, inner, maps, seen)


def _live(path: Path, maps: set[Path]) -> bool:
    """False when an outer map swallowed this path's named step (a stale earlier decision)."""
    return not any(step[0] == "k" and path[:i] in maps for i, step in enumerate(path))


def detect_maps(docs: Iterable[Mapping[str, Any]]) -> frozenset[Path]:
    """The places in ``docs`` that are maps (never the top level: those are the fields)."""
    batch = list(docs)
    maps: set[Path] = set()
    for _ in range(_MAX_PASSES):
        seen: dict[Path, _Keys] = {}
        for doc in batch:
            _scan(doc, (), maps, seen)
        new = {p for p, keys in seen.items() if p and keys.is_map()} - maps
        if not new:
            break
        maps |= new
    return frozenset(p for p in maps if _live(p, maps))


def prepare(root: DocumentAccumulator, maps: Iterable[Path]) -> None:
    """Plant a map-valued accumulator at each place in ``maps`` (shortest paths first)."""
    for path in sorted(maps, key=len):
        doc: DocumentAccumulator = root
        field: FieldAccumulator | None = None
        for tag, name in path:
            if tag == "i":
                assert field is not None  # an items step follows a field or an item
                if field.items is None:
                    field.items = FieldAccumulator(enum_max=root.enum_max)
                field = field.items
                continue
            if field is not None:
                doc = field.children
            if tag == "k":
                field = doc.fields.get(name)
                if field is None:
                    field = doc.fields[name] = FieldAccumulator(enum_max=root.enum_max)
            else:  # VALUES: the enclosing map's value accumulator (planted before, shorter path)
                if doc.map_values is None:
                    doc.map_values = FieldAccumulator(enum_max=root.enum_max)
                field = doc.map_values
        assert field is not None
        target: DocumentAccumulator = field.children
        if target.map_values is None:
            target.map_values = FieldAccumulator(enum_max=root.enum_max)
