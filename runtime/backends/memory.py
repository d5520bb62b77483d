"""MemoryBackend: collections as dicts of rows, with hash indexes on the primary key and
unique fields; equality lookups on them skip the scan, everything else is one pass of a
predicate compiled once per query."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConstraintError
from ..query.ast import And, Compare, FieldRef, Node, Query
from ..query.predicate import compile_predicate
from ..query.sort import sort_rows
from ..query.values import MISSING, getter, type_class
from .base import BackendBase, Collection, Row


class _Table:
    def __init__(self, coll: Collection) -> None:
        self.rows: dict[int, Row] = {}
        self.next_rowid = 0
        self.next_key = 1
        keys = [coll.primary_key] if coll.primary_key else []
        #: unique key (source names) → {values tuple → rowid}
        self.indexes: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = {
            k: {} for k in [*keys, *coll.unique] if k
        }

    def _keys(self, row: Mapping[str, Any]) -> list[tuple[tuple[str, ...], tuple[Any, ...]]]:
        out = []
        for cols in self.indexes:
            key = tuple(row.get(c) for c in cols)
            if None not in key:  # NULLs never collide, as in SQL
                out.append((cols, _hashable(key)))
        return out

    def check(self, row: Mapping[str, Any], name: str) -> None:
        for cols, key in self._keys(row):
            if key in self.indexes[cols]:
                shown = dict(zip(cols, key, strict=True))
                raise ConstraintError(f"{name}: duplicate key {shown!r} (unique {cols!r})")

    def index(self, rowid: int) -> None:
        for cols, key in self._keys(self.rows[rowid]):
            self.indexes[cols][key] = rowid

    def unindex(self, rowid: int) -> None:
        for cols, key in self._keys(self.rows[rowid]):
            self.indexes[cols].pop(key, None)


def _hashable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        hash(key)
    except TypeError:
        return tuple(repr(k) for k in key)
    return key


class MemoryBackend(BackendBase):
    """In-process storage; the first-class test double for every generated repo."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str | None, str], _Table] = {}

    def _table(self, coll: Collection) -> _Table:
        key = (coll.namespace, coll.name)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = _Table(coll)
        return table

    # -- writes --------------------------------------------------------------------------
    def insert_now(self, coll: Collection, rows: Iterable[Mapping[str, Any]]) -> list[Row]:
        """Synchronous insert (MaterializedRepo seeds itself with it); all or nothing."""
        table = self._table(coll)
        staged: list[Row] = []
        batch = _Table(coll)
        for given in rows:
            row: Row = {f: None for f in coll.fields}
            row.update(copy.deepcopy(dict(given)))
            if coll.autoincrement and len(coll.primary_key) == 1:
                pk = coll.primary_key[0]
                if row.get(pk) is None:
                    row[pk] = table.next_key + len(staged)
            table.check(row, coll.name)
            batch.check(row, coll.name)
            batch.rows[len(staged)] = row
            batch.index(len(staged))
            staged.append(row)
        for row in staged:
            table.rows[table.next_rowid] = row
            table.index(table.next_rowid)
            table.next_rowid += 1
            if coll.autoincrement and len(coll.primary_key) == 1:
                value = row[coll.primary_key[0]]
                if type(value) is int:
                    table.next_key = max(table.next_key, value + 1)
        return [dict(r) for r in staged]

    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        return self.insert_now(coll, rows)

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        table = self._table(coll)
        ids = self._matching(coll, table, where)
        old = {rid: table.rows[rid] for rid in ids}
        for rid in ids:
            table.unindex(rid)
        done: list[int] = []
        try:
            for rid in ids:
                row = {**old[rid], **copy.deepcopy(dict(changes))}
                table.check(row, coll.name)
                table.rows[rid] = row
                table.index(rid)
                done.append(rid)
        except ConstraintError:
            for rid in done:
                table.unindex(rid)
            for rid in ids:
                table.rows[rid] = old[rid]
                table.index(rid)
            raise
        return len(ids)

    async def delete(self, coll: Collection, where: Node) -> int:
        table = self._table(coll)
        ids = self._matching(coll, table, where)
        for rid in ids:
            table.unindex(rid)
            del table.rows[rid]
        return len(ids)

    # -- reads ---------------------------------------------------------------------------
    async def select(self, coll: Collection, query: Query) -> list[Row]:
        table = self._table(coll)
        rows = [table.rows[rid] for rid in self._matching(coll, table, query.where)]
        if query.sort:
            sort_rows(rows, query.sort)  # type: ignore[arg-type]
        end = None if query.limit is None else query.skip + query.limit
        return [dict(r) for r in rows[query.skip : end]]

    async def count(self, coll: Collection, where: Node) -> int:
        return len(self._matching(coll, self._table(coll), where))

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        table = self._table(coll)
        get = getter(field.path, True)
        seen: list[Any] = []
        for rid in self._matching(coll, table, where):
            value = get(table.rows[rid])
            values = value if isinstance(value, list) else [value]
            for v in values:
                v = None if v is MISSING else v
                if not any(type_class(v) == type_class(s) and v == s for s in seen):
                    seen.append(v)
        return sorted(seen, key=lambda v: (v is not None, v if v is not None else 0))

    def _matching(self, coll: Collection, table: _Table, where: Node) -> list[int]:
        candidates = self._lookup(table, where)
        pred = compile_predicate(where)
        ids = table.rows.keys() if candidates is None else candidates
        return [rid for rid in ids if rid in table.rows and pred(table.rows[rid])]

    def _lookup(self, table: _Table, where: Node) -> list[int] | None:
        """Row ids from a unique hash index when ``where`` pins one by equality."""
        terms = where.items if isinstance(where, And) else (where,)
        pinned: dict[str, Any] = {}
        for t in terms:
            if (
                isinstance(t, Compare)
                and t.op == "eq"
                and t.value is not None
                and len(t.field.path) == 1
                and not t.field.array
                and t.field.kind != "any"
            ):
                pinned[t.field.path[0]] = t.value
        for cols, index in table.indexes.items():
            if all(c in pinned for c in cols):
                rid = index.get(_hashable(tuple(pinned[c] for c in cols)))
                return [] if rid is None else [rid]
        return None


__all__ = ["MemoryBackend"]
