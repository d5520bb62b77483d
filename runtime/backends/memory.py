"""MemoryBackend: collections as dicts of read-only rows, with hash indexes.

Layout: ``rows`` maps a row id (insertion counter) to the stored row; dict order is id order,
which is the order every scan returns.  Rows are frozen on the way in
(:mod:`.readonly`) so reads hand out the stored rows themselves — no copy per match — while
callers still cannot change them; writes replace a row, never mutate it.

Reads: equality and ``$in`` terms on the primary key, a unique field or a declared index are
answered from a hash index (candidate ids, then the predicate on those only); everything else
is one pass of a predicate generated and compiled once per query
(:func:`~xrepo.runtime.query.predicate.compile_filter`).  Sort + limit is a heap top-k.

Transactions: ``async with backend.transaction():`` keeps an undo log while the block is open
(each insert logs the table's counters, each update / delete the rows it replaces); an
exception undoes the log newest first, restoring the stored rows, their scan order and the hash
indexes exactly, and propagates.  Commit drops the log.  Nested blocks (in the task that opened
the block, or tasks it starts inside it) are savepoints: a failing inner block undoes only its
own changes.  Blocks opened by unrelated tasks wait on a lock, so two blocks never interleave.
Like SQLite's shared connection, a transaction is not isolated: other tasks read its
uncommitted rows, and their writes made while it is open join it (rolled back with it).
Outside a block a write pays one attribute check.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConstraintError
from ..query.ast import And, Compare, FieldRef, In, Node, Query
from ..query.cursor import after_predicate
from ..query.predicate import compile_filter
from ..query.sort import order_rows
from ..query.values import MISSING, getter, type_class
from .base import BackendBase, Collection, Row
from .readonly import ReadOnlyDict, Unfreezable, freeze_row

if TYPE_CHECKING:
    from ..aggregate.engine import Pipeline

Key = tuple[Any, ...]


class _Table:
    def __init__(self, coll: Collection) -> None:
        self.rows: dict[int, Row] = {}
        self.next_rowid = 0
        self.next_key = 1
        #: Top-level keys every stored row holds (lets compiled predicates index rows).
        self.present: frozenset[str] = frozenset(coll.fields)
        #: Some stored value could not be frozen: reads then return deep copies.
        self.copy_out = False
        keys = [coll.primary_key] if coll.primary_key else []
        #: unique key (source names) → {values tuple → rowid}
        self.indexes: dict[tuple[str, ...], dict[Key, int]] = {
            k: {} for k in [*keys, *coll.unique] if k
        }
        #: declared (non-unique) index → {values tuple → {rowid, ...}}
        self.multi: dict[tuple[str, ...], dict[Key, set[int]]] = {
            k: {} for k in coll.indexes if k and k not in self.indexes
        }

    def _keys(
        self, row: Mapping[str, Any], indexes: Iterable[tuple[str, ...]]
    ) -> list[tuple[tuple[str, ...], Key]]:
        out = []
        for cols in indexes:
            key = tuple(row.get(c) for c in cols)
            if None not in key:  # NULLs never collide, as in SQL
                out.append((cols, _hashable(key)))
        return out

    def check(self, row: Mapping[str, Any], name: str) -> None:
        for cols, key in self._keys(row, self.indexes):
            if key in self.indexes[cols]:
                shown = dict(zip(cols, key, strict=True))
                raise ConstraintError(f"{name}: duplicate key {shown!r} (unique {cols!r})")

    def index(self, rowid: int) -> None:
        row = self.rows[rowid]
        for cols, key in self._keys(row, self.indexes):
            self.indexes[cols][key] = rowid
        for cols, key in self._keys(row, self.multi):
            self.multi[cols].setdefault(key, set()).add(rowid)

    def unindex(self, rowid: int) -> None:
        row = self.rows[rowid]
        for cols, key in self._keys(row, self.indexes):
            self.indexes[cols].pop(key, None)
        for cols, key in self._keys(row, self.multi):
            ids = self.multi[cols].get(key)
            if ids is not None:
                ids.discard(rowid)
                if not ids:
                    del self.multi[cols][key]

    def store(self, values: Mapping[str, Any]) -> Row:
        """``values`` as a stored row: frozen, or (for unfreezable values) a private copy."""
        try:
            return freeze_row(values)
        except Unfreezable:
            self.copy_out = True
            return copy.deepcopy(dict(values))


class _Undo(NamedTuple):
    """What one write changed in ``table``: the rows it replaced or removed (rowid → row
    before), or — an insert — the table's counters before it (its rows are the rowids from
    ``counters[0]`` up to the table's ``next_rowid`` when this entry is undone)."""

    table: _Table
    rows: dict[int, Row] | None
    counters: tuple[int, int, frozenset[str], bool] | None


class _Transaction:
    """The outermost open block on one backend: its undo log, oldest first."""

    __slots__ = ("log",)

    def __init__(self) -> None:
        self.log: list[_Undo] = []


def _undo(log: list[_Undo], mark: int) -> None:
    """Undo ``log[mark:]`` newest first and drop it.  Each entry meets the table exactly as
    its write left it, so removing that write's index keys and putting its rows back is exact."""
    reinserted: set[_Table] = set()
    while len(log) > mark:
        table, before, counters = log.pop()
        rows = table.rows
        if counters is not None:
            for rid in range(counters[0], table.next_rowid):
                if rid in rows:
                    table.unindex(rid)
                    del rows[rid]
            table.next_rowid, table.next_key, table.present, table.copy_out = counters
            continue
        assert before is not None
        for rid in before:  # every key of the write's rows first: no transient collisions
            if rid in rows:
                table.unindex(rid)
        for rid, row in before.items():
            if rid not in rows:
                reinserted.add(table)  # a deleted row: appended, out of rowid order
            rows[rid] = row  # an updated row keeps its place
            table.index(rid)
    for table in reinserted:
        ordered = sorted(table.rows.items())
        table.rows.clear()
        table.rows.update(ordered)


def _hashable(key: Key) -> Key:
    try:
        hash(key)
    except TypeError:
        return tuple(repr(k) for k in key)
    return key


class MemoryBackend(BackendBase):
    """In-process storage; the first-class test double for every generated repo.

    Rows returned by reads are the stored rows, read-only (:class:`ReadOnlyDict`): copy them
    (``dict(row)``) before changing them.
    """

    def __init__(self) -> None:
        self._tables: dict[tuple[str | None, str], _Table] = {}
        #: The open transaction (its undo log); ``None`` outside a block (the writes' one check).
        self._open: _Transaction | None = None
        #: The transaction the current task (and tasks it started) runs in.
        self._joined: contextvars.ContextVar[_Transaction | None] = contextvars.ContextVar(
            "xrepo_memory_transaction", default=None
        )
        self._lock: asyncio.Lock | None = None

    # -- transactions --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Everything written on this backend inside the block is undone if it raises (see the
        module docstring); a block nested in an open one is a savepoint."""
        current = self._open
        if current is not None and self._joined.get() is current:
            mark = len(current.log)
            try:
                yield
            except BaseException:
                _undo(current.log, mark)
                raise
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            tx = self._open = _Transaction()
            token = self._joined.set(tx)
            try:
                yield
            except BaseException:
                _undo(tx.log, 0)
                raise
            finally:
                self._joined.reset(token)
                self._open = None

    def in_transaction(self) -> bool:
        """Whether a ``transaction()`` block is open (its writes are seen by every task)."""
        return self._open is not None

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
        log = None if self._open is None else self._open.log
        if log is not None:
            counters = (table.next_rowid, table.next_key, table.present, table.copy_out)
            log.append(_Undo(table, None, counters))
        staged: list[Row] = []
        batch = _Table(coll)
        blank = dict.fromkeys(coll.fields)
        auto = coll.primary_key[0] if coll.autoincrement and len(coll.primary_key) == 1 else None
        for given in rows:
            values = {**blank, **given}
            if auto is not None and values.get(auto) is None:
                values[auto] = table.next_key + len(staged)
            row = table.store(values)
            table.check(row, coll.name)
            batch.check(row, coll.name)
            batch.rows[len(staged)] = row
            batch.index(len(staged))
            staged.append(row)
        table.present &= frozenset(coll.fields)
        for row in staged:
            table.rows[table.next_rowid] = row
            table.index(table.next_rowid)
            table.next_rowid += 1
            if auto is not None:
                value = row[auto]
                if type(value) is int:
                    table.next_key = max(table.next_key, value + 1)
        return self._out(table, staged)

    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        return self.insert_now(coll, rows)

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        table = self._table(coll)
        ids = self._matching(table, where)
        old = {rid: table.rows[rid] for rid in ids}
        log = None if self._open is None else self._open.log
        if log is not None:
            log.append(_Undo(table, old, None))
        for rid in ids:
            table.unindex(rid)
        done: list[int] = []
        try:
            for rid in ids:
                row = table.store({**old[rid], **changes})
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
        ids = self._matching(table, where)
        log = None if self._open is None else self._open.log
        if log is not None:
            log.append(_Undo(table, {rid: table.rows[rid] for rid in ids}, None))
        for rid in ids:
            table.unindex(rid)
            del table.rows[rid]
        return len(ids)

    # -- reads ---------------------------------------------------------------------------
    def select_now(self, coll: Collection, query: Query) -> list[Row]:
        """Synchronous :meth:`select` (benchmarks and in-process callers)."""
        table = self._table(coll)
        rows = self._rows(table, query.where)
        if query.after is not None:
            beyond = after_predicate(query.sort, query.after)
            rows = [r for r in rows if beyond(r)]
        if query.sort:
            end = None if query.limit is None else query.skip + query.limit
            rows = order_rows(rows, query.sort, end)
        if query.skip or query.limit is not None:
            end = None if query.limit is None else query.skip + query.limit
            rows = rows[query.skip : end]
        return self._out(table, rows)

    async def select(self, coll: Collection, query: Query) -> list[Row]:
        return self.select_now(coll, query)

    async def count(self, coll: Collection, where: Node) -> int:
        return len(self._rows(self._table(coll), where))

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        table = self._table(coll)
        get = getter(field.path, True)
        seen: list[Any] = []
        for row in self._rows(table, where):
            value = get(row)
            values = value if isinstance(value, list) else [value]
            for v in values:
                v = None if v is MISSING else v
                if not any(type_class(v) == type_class(s) and v == s for s in seen):
                    seen.append(v)
        return self._out(
            table, sorted(seen, key=lambda v: (v is not None, v if v is not None else 0))
        )

    @staticmethod
    def _out(table: _Table, rows: list[Any]) -> list[Any]:
        return copy.deepcopy(rows) if table.copy_out else rows

    def _rows(self, table: _Table, where: Node) -> list[Row]:
        compiled = compile_filter(where, table.present)
        candidates = self._lookup(table, where)
        if candidates is None:
            return compiled.scan(table.rows.values())
        rows = table.rows
        return compiled.scan([rows[rid] for rid in candidates if rid in rows])

    def _matching(self, table: _Table, where: Node) -> list[int]:
        compiled = compile_filter(where, table.present)
        candidates = self._lookup(table, where)
        if candidates is None:
            return compiled.scan_items(table.rows.items())
        rows = table.rows
        return compiled.scan_items([(rid, rows[rid]) for rid in candidates if rid in rows])

    def _lookup(self, table: _Table, where: Node) -> list[int] | None:
        """Candidate row ids (ascending) from a hash index when ``where`` pins its fields by
        equality or ``$in``; ``None`` when no index applies.  A superset is fine: the
        predicate still runs on every candidate."""
        if not table.indexes and not table.multi:
            return None
        terms = where.items if isinstance(where, And) else (where,)
        pinned: dict[str, tuple[Any, ...]] = {}
        for t in terms:
            if isinstance(t, Compare | In) and _indexable(t.field):
                if isinstance(t, Compare) and t.op == "eq" and t.value is not None:
                    pinned.setdefault(t.field.path[0], (t.value,))
                elif isinstance(t, In) and not t.negate and None not in t.values:
                    pinned.setdefault(t.field.path[0], t.values)
        if not pinned:
            return None
        for cols, unique in table.indexes.items():
            if all(c in pinned for c in cols) and _few(cols, pinned):
                probes = (unique.get(_hashable(k)) for k in _combos(cols, pinned))
                return sorted({rid for rid in probes if rid is not None})
        for cols, multi in table.multi.items():
            if all(c in pinned for c in cols) and _few(cols, pinned):
                ids: set[int] = set()
                for k in _combos(cols, pinned):
                    ids |= multi.get(_hashable(k), set())
                return sorted(ids)
        return None

    async def aggregate(self, coll: Collection, pipeline: Pipeline) -> list[Row]:
        """The leading ``$match`` through :meth:`select` (hash indexes apply), the rest in
        memory; ``$lookup`` reads another collection of this backend (same namespace)."""

        async def fetch(name: str, path: str, values: Sequence[Any]) -> tuple[list[Row], Any]:
            if (coll.namespace, name) not in self._tables:
                return [], _same
            return await self.select(Collection(name, coll.namespace), Query()), _same

        table = self._table(coll)
        if not table.copy_out and self._lookup(table, pipeline.where) is None:
            # No index helps: scan the stored (read-only) rows once, without a row list.
            return await pipeline.run_stored(table.rows.values(), table.present, fetch)
        rows = await self.select(coll, Query(pipeline.where))
        return await pipeline.run(rows, fetch)


def _same(value: Any) -> Any:
    return value


def _indexable(ref: FieldRef) -> bool:
    # Arrays match by membership and untyped values by type class: neither is a hash probe.
    return len(ref.path) == 1 and not ref.array and ref.kind not in ("any", "object")


def _few(cols: tuple[str, ...], pinned: Mapping[str, tuple[Any, ...]]) -> bool:
    """Few enough probes (a composite index under several large ``$in`` lists is a scan)."""
    n = 1
    for c in cols:
        n *= len(pinned[c])
    return n <= 4096


def _combos(cols: tuple[str, ...], pinned: Mapping[str, tuple[Any, ...]]) -> list[Key]:
    keys: list[Key] = [()]
    for c in cols:
        keys = [(*k, v) for k in keys for v in pinned[c]]
    return keys


__all__ = ["MemoryBackend", "ReadOnlyDict"]
