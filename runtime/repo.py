"""The XRepo API (the seed's method set) and its two flavours.

Signatures are the contract generated code relies on.  Filters, sorts and field names are
Python names (dotted for nested fields); the repo parses them into the AST, maps them to source
names and hands the backend a :class:`~xrepo.runtime.backends.base.Collection` and AST nodes.
Rows coming back are validated with ``model.model_validate``.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import json
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, TypeAdapter

from .acl import ACL, OPERATIONS, Scope, guard_pipeline, visible
from .acl_redact import keys_without, schema_without
from .audit import AuditSink, prepare_sink, query_entries, record_entries, wants_transaction
from .backends.base import Backend, Row
from .backends.memory import MemoryBackend
from .bulk_rows import (
    ColumnRows,
    gc_paused,
    plain_mappings,
    source_columns,
    source_rows,
    validate_creates,
)
from .cache import (
    Cache,
    MemoryCache,
    Uncacheable,
    cache_key,
    dump_plain,
    in_transaction,
    load_plain,
    tracked_transaction,
    written_in_transaction,
)
from .errors import ConfigurationError, PermissionDenied, QueryError
from .governance import (
    SAMPLE_ROWS,
    AuditEntry,
    MemoryAuditSink,
    OperationStats,
    RepoStats,
    sampled_cardinalities,
)
from .model import XObjPrototype
from .query.ast import Node, Query, conjoin
from .query.cursor import Page, decode_cursor, encode_cursor, row_values
from .query.parse import build_query, parse_filter
from .query.predicate import compile_predicate
from .repo_plan import RepoPlan, build_plan, now, plain_row, source_changes, source_row, stamp_for
from .schema import CollectionSpec, FileFormat
from .trusted_rows import build_models

M = TypeVar("M", bound=XObjPrototype)
C = TypeVar("C", bound=XObjPrototype)
U = TypeVar("U", bound=XObjPrototype)
F = TypeVar("F", bound=Mapping[str, Any])
K = TypeVar("K", bound=str)
T = TypeVar("T")

SortOrder = Literal[1, -1]

#: The cache ``RepoMetadata.cache_enabled`` gives: one per backend object.
_DEFAULT_CACHES: weakref.WeakKeyDictionary[Any, Cache] = weakref.WeakKeyDictionary()


class RepoMetadata(BaseModel):
    """Static description of a repo; generated code fills it from the snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    resource_name: str = ""
    model_name: str = ""
    #: Collection (table, file, ...) as the source names it.
    collection: str
    namespace: str | None = None
    #: Python field names of the primary key (empty: none declared).
    primary_key: tuple[str, ...] = ()
    #: Python field names of each index; unique ones also listed in ``unique``.
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    constraints: tuple[str, ...] = ()
    enable_audit: bool = False
    #: Per-operation latencies (``get_statistics().operations``); counts, sizes and
    #: cardinalities are read from the backend whenever asked, whatever this says.
    enable_statistics: bool = True
    cache_enabled: bool = False
    cache_ttl: float = 60.0
    acl_rules: tuple[Any, ...] = ()
    #: delete() marks ``soft_delete_field`` instead of removing the row.
    soft_delete: bool = False
    soft_delete_field: str = "deleted_at"
    auto_timestamps: bool = False
    created_field: str = "created_at"
    updated_field: str = "updated_at"
    #: Python (dotted) names of fields holding MongoDB ObjectIds: ``str`` in models,
    #: ObjectId on the wire. ``None``: from ``Model.Meta.source_schema`` (dynamic models) when
    #: present, else ``_id`` when it is a ``str`` field; ``()``: none.
    object_ids: tuple[str, ...] | None = None


class XRepo(Generic[M, C, U, F, K]):
    """M read model, C create model, U update model, F filter TypedDict, K field-name Literal."""

    model: type[M]
    create_model: type[C]
    update_model: type[U]
    metadata: RepoMetadata
    backend: Backend
    #: Access control (:mod:`xrepo.runtime.acl`): ``repo.acl = ACL(rules, resolver)`` on an
    #: instance or the class; ``None``: no rules (then ``metadata.acl_rules`` must be empty).
    acl: ACL | None = None
    #: Read cache (:mod:`xrepo.runtime.cache`): ``repo.cache = MemoryCache()`` /
    #: ``RedisCache(url, prefix)`` on an instance or the class; ``None``: the backend's shared
    #: :class:`MemoryCache` when ``metadata.cache_enabled``, else no caching.
    cache: Cache | None = None
    _plans: ClassVar[dict[type, RepoPlan]] = {}

    @classmethod
    def plan(cls) -> RepoPlan:
        """Names, keys and descriptors derived once per repo class."""
        plan = XRepo._plans.get(cls)
        if plan is None:
            create = getattr(cls, "create_model", None)
            plan = XRepo._plans[cls] = build_plan(cls.model, create, cls.metadata)
        return plan

    async def _call(
        self,
        op: str,
        user_id: str | None,
        run: Callable[[], Awaitable[T]],
        audit: Callable[[T], builtins.list[AuditEntry]] | None = None,
    ) -> T:
        """The one seam every call passes through: ACL → cache → backend → audit → statistics.

        ``audit`` turns a write's result into its entries. ACL and the cache come with the
        governance issue; they slot in before ``run``.
        """
        started = time.perf_counter()
        if audit is not None and self.metadata.enable_audit:
            result = await self._audited(run, audit)
        else:
            result = await run()
        if self.metadata.enable_statistics:
            self.op_stats.record(op, time.perf_counter() - started)
        return result

    async def _scope(self, op: str, user_id: str | None) -> Scope | None:
        """The ACL step of the seam: PermissionDenied, or the principal's scope (``None``:
        unrestricted).  Runs before the query is handed to ``_call``."""
        acl = self.acl
        if acl is None:
            if self.metadata.acl_rules:
                raise ConfigurationError(
                    f"{self.metadata.name}: metadata.acl_rules is set but no role resolver; "
                    "assign repo.acl = ACL.from_metadata(repo.metadata, resolver)"
                )
            return None
        table = self.plan().table
        acl.check_model(self.model, table)
        return await acl.scope(op, user_id, table)

    async def _scope_as(self, op: str, like: str, user_id: str | None) -> Scope | None:
        """The scope of operation ``like`` for ``op``, a describing method needing what
        ``like`` needs; a denial names ``op``."""
        try:
            return await self._scope(like, user_id)
        except PermissionDenied as exc:
            need = OPERATIONS[like].name
            raise PermissionDenied(op, exc.principal, f"no rule grants {need}") from None

    @staticmethod
    def _in_scope(scope: Scope | None, where: Node, *, check: bool = True) -> Node:
        if scope is None:
            return where
        if check:
            scope.check_filter(where)
        return conjoin(where, scope.row)

    @staticmethod
    def _query_in_scope(scope: Scope | None, query: Query) -> Query:
        if scope is None:
            return query
        scope.check_query(query)
        where = conjoin(query.where, scope.row)
        return Query(where, query.sort, query.skip, query.limit, query.after)

    def _touched(self, data: Any) -> set[str]:
        """Source columns a create / update document sets explicitly."""
        table = self.plan().table
        names = data.model_fields_set if isinstance(data, BaseModel) else set(data)
        return {table.source_name(n) for n in names}

    def _check_creates(
        self, scope: Scope | None, items: Sequence[Any], rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if scope is None:
            return
        inside = compile_predicate(scope.row)
        for item, row in zip(items, rows, strict=True):
            scope.check_write(self._touched(item), updating=False)
            if not inside(row):
                raise scope.deny("the new row is outside the principal's row scope")

    # -- cache ---------------------------------------------------------------------------
    def _active_cache(self) -> Cache | None:
        if self.cache is not None:
            return self.cache
        if not self.metadata.cache_enabled:
            return None
        try:
            found = _DEFAULT_CACHES.get(self.backend)
            if found is None:
                found = _DEFAULT_CACHES[self.backend] = MemoryCache()
        except TypeError:  # a backend without weak references / hash: cache per repo
            found = self.__dict__.get("_own_cache")
            if found is None:
                found = self.__dict__["_own_cache"] = MemoryCache()
        return found

    def _cache_collection(self) -> str:
        return f"{self.metadata.namespace or ''}.{self.metadata.collection}"

    async def _invalidate_after(self, write: Awaitable[T]) -> T:
        """A write (its audit and commit included); then the collection's cache generation is
        bumped — also when the write failed, as part of it may have happened."""
        try:
            return await write
        finally:
            cache = self._active_cache()
            if cache is not None:
                written_in_transaction(self.backend, cache, self._cache_collection())
                await cache.invalidate(self._cache_collection())

    def _cached(
        self,
        op: str,
        scope: Scope | None,
        query: Any,
        run: Callable[[], Awaitable[T]],
        dump: Callable[[T], bytes] = dump_plain,
        load: Callable[[bytes], T] = load_plain,
    ) -> Callable[[], Awaitable[T]]:
        """``run`` reading through the cache.  ``query`` must already hold the principal's
        row rule; the principal and its hidden fields are added to the key here."""
        cache = self._active_cache()
        if cache is None:
            return run
        active: Cache = cache

        async def cached() -> T:
            if in_transaction(self.backend):  # may see uncommitted rows: neither read nor fill
                return await run()
            coll = self._cache_collection()
            generation = await active.generation(coll)
            who = None
            if scope is not None:  # sorted: a frozenset's order differs between processes
                who = (scope.principal, repr(scope.row), sorted(scope.hidden))
            model = f"{self.model.__module__}.{self.model.__qualname__}"
            key = cache_key(model, coll, op, query, who, generation)
            fresh: builtins.list[T] = []

            async def compute() -> bytes | None:
                result = await run()
                fresh.append(result)
                try:
                    return dump(result)
                except (Uncacheable, ValueError):  # no exact JSON form: served uncached
                    return None

            ttl = active.ttl if active.ttl is not None else self.metadata.cache_ttl
            data, _hit = await active.fetch(key, ttl, compute)
            if fresh:
                return fresh[0]
            if data is None:
                return await run()
            return load(data)

        return cached

    def _adapter(self, kind: str) -> TypeAdapter[Any]:
        """JSON codecs of this repo's results (models by source names, as rows are)."""
        store: dict[str, TypeAdapter[Any]] | None = type(self).__dict__.get("_cache_adapters")
        if store is None:
            store = {}
            type(self)._cache_adapters = store  # type: ignore[attr-defined]
        adapter = store.get(kind)
        if adapter is None:
            model: Any = self.model
            shape: Any = model | None if kind == "one" else builtins.list[model]
            adapter = store[kind] = TypeAdapter(shape)
        return adapter

    def _dump_models(self, kind: str) -> Callable[[Any], bytes]:
        adapter = self._adapter(kind)
        return lambda value: adapter.dump_json(value, by_alias=True)

    def _load_models(self, kind: str) -> Callable[[bytes], Any]:
        return self._adapter(kind).validate_json

    def _dump_page(self, page: Page[M]) -> bytes:
        items = self._adapter("many").dump_json(page.items, by_alias=True)
        return json.dumps(page.next_cursor).encode() + b"\n" + items

    def _load_page(self, data: bytes) -> Page[M]:
        cursor, items = data.split(b"\n", 1)
        return Page(self._adapter("many").validate_json(items), json.loads(cursor))

    @builtins.property
    def op_stats(self) -> OperationStats:
        stats: OperationStats | None = self.__dict__.get("_op_stats")
        if stats is None:
            stats = self.__dict__["_op_stats"] = OperationStats()
        return stats

    @builtins.property
    def audit_sink(self) -> AuditSink:
        """Where audit entries go (:mod:`xrepo.runtime.audit`); in memory unless assigned."""
        sink: AuditSink | None = self.__dict__.get("_audit_sink")
        if sink is None:
            sink = self.__dict__["_audit_sink"] = MemoryAuditSink()
        return sink

    @audit_sink.setter
    def audit_sink(self, sink: AuditSink) -> None:
        self.__dict__["_audit_sink"] = sink

    async def _audited(
        self, run: Callable[[], Awaitable[T]], audit: Callable[[T], builtins.list[AuditEntry]]
    ) -> T:
        """The write and its entries, in one transaction where the backend has them: an entry
        that cannot be recorded raises :class:`~xrepo.runtime.audit.AuditError` and rolls the
        change back (no unaudited writes)."""
        sink = self.audit_sink
        if wants_transaction(self.backend, sink):
            await prepare_sink(sink)
            async with self.backend.transaction():  # type: ignore[attr-defined]
                result = await run()
                await record_entries(sink, audit(result))
            return result
        result = await run()
        await record_entries(sink, audit(result))
        return result

    async def _before(self, where: Node) -> builtins.list[dict[str, Any]]:
        """Before-images (JSON-safe, source names) of the rows a write is about to change;
        read inside the write's transaction.  Empty when audit is off."""
        if not self.metadata.enable_audit:
            return []
        plan = self.plan()
        locked = getattr(self.backend, "select_for_update", None)
        # SQLite's write transaction already serialises writers; in a MongoDB transaction a
        # concurrent change of a read document is a write conflict that aborts the write.
        if locked is None:
            rows = await self.backend.select(plan.collection, Query(where, (), 0, None))
        else:  # locked in key order: concurrent bulk writers cannot deadlock on the lock
            order = build_query(plan.table, tiebreak=plan.primary_key).sort
            rows = await locked(plan.collection, Query(where, order, 0, None))
        return [self._image(r) for r in rows]

    def _image(self, row: Mapping[str, Any]) -> dict[str, Any]:
        image: dict[str, Any] = self._out(dict(row)).model_dump(mode="json", by_alias=True)
        return image

    def _row_key(self, image: Mapping[str, Any]) -> Any:
        values = tuple(image.get(c) for c in self.plan().collection.primary_key)
        return values[0] if len(values) == 1 else (values or None)

    def _entry(
        self, op: str, user_id: str | None, entity: Any, changes: dict[str, Any]
    ) -> AuditEntry:
        return AuditEntry(
            timestamp=now(),
            user_id=user_id,
            operation=op,
            entity_id=entity,
            changes=changes,
            metadata={"collection": self.metadata.collection},
        )

    def _key_of(self, item: BaseModel) -> Any:
        pk = self.plan().primary_key
        values = tuple(getattr(item, name) for name in pk)
        return values[0] if len(values) == 1 else (values or None)

    def _out(self, row: Row) -> M:
        return self.model.model_validate(row)

    def _where(self, filters: Mapping[str, Any] | None) -> Node:
        plan = self.plan()
        return plan.alive(parse_filter(plan.table, filters))

    async def _first(self, where: Node) -> M | None:
        rows = await self.backend.select(self.plan().collection, Query(where, (), 0, 1))
        return self._out(rows[0]) if rows else None

    def _stamped(self, row: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        plan = self.plan()
        names = [plan.updated] + ([plan.created] if creating else [])
        at = now()  # one instant: a new row's created_at equals its updated_at
        for name in names:
            if name is not None:
                row.setdefault(plan.table.source_name(name), stamp_for(self.model, name, at))
        return row

    def _create_row(self, data: C | Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        if not isinstance(data, self.create_model):
            raw = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else data
            data = self.create_model.model_validate(raw)
        return self._stamped(source_row(data), creating=True)

    def _changes(self, data: U | Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        if not isinstance(data, self.update_model):
            raw = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else data
            data = self.update_model.model_validate(raw)
        changes = source_changes(self.plan(), data)
        return self._stamped(changes, creating=False) if changes else changes

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        """``async with repo.transaction():`` — one transaction on this repo's backend, which
        every repo on the same connection / client joins until the block ends (an exception
        rolls back).  :class:`ConfigurationError` when the backend has no transactions.
        While it is open reads bypass the cache; collections written in it are invalidated
        when it ends (:mod:`xrepo.runtime.cache`)."""
        start = getattr(self.backend, "transaction", None)
        if start is None:
            raise ConfigurationError(
                f"{self.metadata.name}: {type(self.backend).__name__} has no transactions"
            )
        cm: contextlib.AbstractAsyncContextManager[None] = start()
        return tracked_transaction(self.backend, cm)

    # -- CRUD ----------------------------------------------------------------------------
    async def create(self, data: C | Mapping[str, Any], *, user_id: str | None = None) -> M:
        row = self._create_row(data)
        scope = await self._scope("create", user_id)
        self._check_creates(scope, [data], [row])

        async def run() -> M:
            return self._out((await self.backend.insert(self.plan().collection, [row]))[0])

        def audit(made: M) -> builtins.list[AuditEntry]:
            after = made.model_dump(mode="json", by_alias=True)  # source names, as elsewhere
            return [self._entry("create", user_id, self._key_of(made), {"after": after})]

        written = await self._invalidate_after(self._call("create", user_id, run, audit))

        return visible(written, scope)

    async def read(self, id: Any, *, user_id: str | None = None) -> M | None:
        scope = await self._scope("read", user_id)
        where = self._in_scope(scope, self.plan().alive(self.plan().key_filter(id)), check=False)
        run = self._cached(
            "read",
            scope,
            where,
            lambda: self._first(where),
            self._dump_models("one"),
            self._load_models("one"),
        )
        found: M | None = await self._call("read", user_id, run)
        return visible(found, scope)

    async def update(
        self, id: Any, data: U | Mapping[str, Any], *, user_id: str | None = None
    ) -> M | None:
        plan = self.plan()
        scope = await self._scope("update", user_id)
        where = self._in_scope(scope, plan.alive(plan.key_filter(id)), check=False)
        changes = self._changes(data)
        if scope is not None:
            scope.check_write(self._touched(data), updating=True)

        before: builtins.list[dict[str, Any]] = []

        async def run() -> M | None:
            before[:] = await self._before(where)
            if not await self.backend.update(plan.collection, where, changes):
                return None
            key = tuple(changes.get(c, None) for c in plan.collection.primary_key)
            if all(v is not None for v in key):
                where_new = plan.alive(plan.key_filter(key if len(key) > 1 else key[0]))
            else:
                where_new = where
            return await self._first(self._in_scope(scope, where_new, check=False))

        def audit(updated: M | None) -> builtins.list[AuditEntry]:
            if updated is None:
                return []
            after = updated.model_dump(mode="json", by_alias=True)
            old = before[0] if before else {}
            diff = {
                "set": plain_row(changes),
                "before": {c: old.get(c) for c in changes},
                "after": {c: after.get(c) for c in changes},
            }
            return [self._entry("update", user_id, id, diff)]

        written = await self._invalidate_after(self._call("update", user_id, run, audit))

        return visible(written, scope)

    async def delete(self, id: Any, *, hard: bool = False, user_id: str | None = None) -> bool:
        plan = self.plan()
        scope = await self._scope("delete", user_id)
        where = self._in_scope(scope, plan.key_filter(id), check=False)
        before: builtins.list[dict[str, Any]] = []

        async def run() -> int:
            before[:] = await self._before(self._doomed(where, hard))
            return await self._remove(where, hard)

        def audit(removed: int) -> builtins.list[AuditEntry]:
            if not removed:
                return []
            return [self._entry("delete", user_id, id, {"before": before[0] if before else {}})]

        return await self._invalidate_after(self._call("delete", user_id, run, audit)) > 0

    def _doomed(self, where: Node, hard: bool) -> Node:
        """The rows ``_remove(where, hard)`` changes (a soft delete skips dead rows)."""
        plan = self.plan()
        return plan.alive(where) if plan.soft is not None and not hard else where

    def _removed_entries(
        self, op: str, user_id: str | None, before: Sequence[dict[str, Any]]
    ) -> builtins.list[AuditEntry]:
        return [self._entry(op, user_id, self._row_key(b), {"before": b}) for b in before]

    async def _remove(self, where: Node, hard: bool) -> int:
        plan = self.plan()
        if plan.soft is not None and not hard:
            marker = {plan.soft.column: stamp_for(self.model, plan.soft.name)}
            return await self.backend.update(plan.collection, plan.alive(where), marker)
        return await self.backend.delete(plan.collection, where)

    # -- queries -------------------------------------------------------------------------
    def _query(
        self,
        filters: Mapping[str, Any] | None,
        skip: int,
        limit: int | None,
        sort: Sequence[tuple[str, int]] | None,
        after: str | None = None,
    ) -> Query:
        plan = self.plan()
        q = build_query(
            plan.table, filters, sort=sort, skip=skip, limit=limit, tiebreak=plan.primary_key
        )
        values = None
        if after is not None:
            if not plan.primary_key:
                raise QueryError(
                    f"{self.metadata.name}: keyset pagination (after=) needs a primary key "
                    "as tiebreaker; declare RepoMetadata.primary_key or page with skip="
                )
            values = decode_cursor(after, q.sort)
        return Query(plan.alive(q.where), q.sort, q.skip, q.limit, values)

    async def list(
        self,
        filters: F | None = None,
        *,
        skip: int = 0,
        limit: int | None = None,
        sort: Sequence[tuple[K, SortOrder]] | None = None,
        user_id: str | None = None,
        after: str | None = None,
    ) -> builtins.list[M]:
        """Matching rows in ``sort`` order (primary key as tiebreaker); ``after`` is a
        cursor from :meth:`page` (rows after it, same sort), ``skip``/``limit`` apply last."""
        scope = await self._scope("list", user_id)
        query = self._query_in_scope(scope, self._query(filters, skip, limit, sort, after))

        async def run() -> builtins.list[M]:
            rows = await self.backend.select(self.plan().collection, query)
            return self._validate_rows(rows)

        cached = self._cached(
            "list", scope, query, run, self._dump_models("many"), self._load_models("many")
        )
        return visible(await self._call("list", user_id, cached), scope)

    def _validate_rows(self, rows: Sequence[Mapping[str, Any]]) -> builtins.list[M]:
        """All rows in one validator call (``list[M]``): no per-row Python round trip.

        Large results are validated with the cyclic garbage collector paused: building
        thousands of models (acyclic) would otherwise trigger collections that rescan every
        young object — a third of the time for 10,000 rows.  No await happens inside.

        Backends that know what their driver decodes each column into (``trusted_types``:
        PostgreSQL) hand fresh rows whose exactly-typed values need no re-validation:
        :func:`~xrepo.runtime.trusted_rows.build_models` validates only the other columns,
        in bulk, and falls back here whenever it cannot prove the result equal."""
        trusted = getattr(self.backend, "trusted_types", None)
        if trusted is not None and rows:
            types = trusted(self.plan().collection)
            if types is not None:
                built = build_models(self.model, rows, types)  # type: ignore[arg-type]
                if built is not None:
                    return built
        adapter: TypeAdapter[builtins.list[M]] | None = type(self).__dict__.get("_rows_adapter")
        if adapter is None:
            adapter = TypeAdapter(builtins.list[self.model])  # type: ignore[name-defined]
            type(self)._rows_adapter = adapter  # type: ignore[attr-defined]
        if len(rows) < 1000 or not gc.isenabled():
            return adapter.validate_python(rows)
        gc.disable()
        try:
            return adapter.validate_python(rows)
        finally:
            gc.enable()

    async def page(
        self,
        filters: F | None = None,
        *,
        sort: Sequence[tuple[K, SortOrder]] | None = None,
        limit: int | None = None,
        after: str | None = None,
        user_id: str | None = None,
    ) -> Page[M]:
        """Keyset pagination: up to ``limit`` rows after the cursor ``after`` (``None``: from
        the start) and the cursor of the next page (``None`` once the rows are exhausted).
        Stable under inserts and deletes elsewhere in the order, unlike ``skip``."""
        if limit is not None and (type(limit) is not int or limit < 1):
            raise QueryError(f"page: limit must be a positive int or None, got {limit!r}")
        if not self.plan().primary_key:
            raise QueryError(
                f"{self.metadata.name}: page() needs a primary key as tiebreaker; declare "
                "RepoMetadata.primary_key or use list(skip=, limit=)"
            )
        scope = await self._scope("page", user_id)
        query = self._query(filters, 0, None if limit is None else limit + 1, sort, after)
        query = self._query_in_scope(scope, query)

        async def run() -> Page[M]:
            rows = await self.backend.select(self.plan().collection, query)
            validate = self.model.__pydantic_validator__.validate_python
            more = limit is not None and len(rows) > limit
            items: builtins.list[M] = [validate(r) for r in rows[:limit]]
            if not more:
                return Page(items, None)
            last = row_values(query.sort, items[-1].model_dump(by_alias=True))
            return Page(items, encode_cursor(query.sort, last))

        cached = self._cached("page", scope, query, run, self._dump_page, self._load_page)
        return visible(await self._call("page", user_id, cached), scope)

    async def list_rows(
        self,
        filters: F | None = None,
        *,
        skip: int = 0,
        limit: int | None = None,
        sort: Sequence[tuple[K, SortOrder]] | None = None,
        user_id: str | None = None,
    ) -> builtins.list[Row]:
        """:meth:`list` without building models: the rows as the backend holds them, keyed
        by SOURCE names (aliases).  From the memory backend they are the stored rows,
        read-only (copy with ``dict(row)`` to change one); SQL backends return fresh dicts."""
        scope = await self._scope("list_rows", user_id)
        query = self._query_in_scope(scope, self._query(filters, skip, limit, sort))
        rows = await self._call(
            "list_rows", user_id, lambda: self.backend.select(self.plan().collection, query)
        )
        return rows if scope is None else [dict(visible(r, scope)) for r in rows]

    async def count(self, filters: F | None = None, *, user_id: str | None = None) -> int:
        scope = await self._scope("count", user_id)
        where = self._in_scope(scope, self._where(filters))
        run = self._cached(
            "count", scope, where, lambda: self.backend.count(self.plan().collection, where)
        )
        return await self._call("count", user_id, run)

    async def exists(self, filters: F | None = None, *, user_id: str | None = None) -> bool:
        scope = await self._scope("exists", user_id)
        where = self._in_scope(scope, self._where(filters))
        probe = getattr(self.backend, "exists", None)
        if probe is not None:  # a backend-side existence check (no row, no model)
            coll = self.plan().collection

            async def run() -> bool:
                return bool(await probe(coll, where))

        else:

            async def run() -> bool:
                return await self._first(where) is not None

        return await self._call("exists", user_id, self._cached("exists", scope, where, run))

    async def find_one(
        self,
        filters: F | None = None,
        *,
        sort: Sequence[tuple[K, SortOrder]] | None = None,
        user_id: str | None = None,
    ) -> M | None:
        scope = await self._scope("find_one", user_id)  # denial names find_one, not list
        if scope is not None:  # so does refusing a hidden field in the filter or sort
            scope.check_query(self._query(filters, 0, 1, sort))
        found = await self.list(filters, limit=1, sort=sort, user_id=user_id)
        return found[0] if found else None

    # -- bulk ----------------------------------------------------------------------------
    async def bulk_create(
        self, items: Iterable[C | Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[M]:
        given = builtins.list(items)
        rows = self._create_rows(given)
        scope = await self._scope("bulk_create", user_id)
        self._check_creates(scope, given, rows)

        async def run() -> builtins.list[M]:
            return self._validate_rows(await self.backend.insert(self.plan().collection, rows))

        def audit(made: builtins.list[M]) -> builtins.list[AuditEntry]:
            entries = []
            for item in made:
                after = item.model_dump(mode="json", by_alias=True)
                entries.append(
                    self._entry("bulk_create", user_id, self._key_of(item), {"after": after})
                )
            return entries

        written = await self._invalidate_after(self._call("bulk_create", user_id, run, audit))

        return visible(written, scope)

    def _create_rows(self, items: builtins.list[C | Mapping[str, Any]]) -> Sequence[Row]:
        """``_create_row`` of every item, in one batch (:mod:`~xrepo.runtime.bulk_rows`) when
        the items are all plain dicts (validated in one call; a batch with an invalid item
        goes item by item so the error is the one ``create`` raises) or all create models."""
        create = self.create_model
        theirs = len(items) >= 64 and all(type(i) is create for i in items)
        if len(items) < 64 or not (theirs or plain_mappings(items)):
            return [self._create_row(item) for item in items]
        plan = self.plan()
        with gc_paused(len(items)):
            made: Sequence[BaseModel] | None = (
                cast(builtins.list[BaseModel], items) if theirs else validate_creates(create, items)
            )
            if made is None:
                return [self._create_row(item) for item in items]
            # The caller's own models keep their lists and dicts: the rows hold copies.
            rows = source_columns(create, made, copy=theirs) or source_rows(
                create, made, copy=theirs
            )
            del made  # freed inside the pause: no collection rescans the create models
        if plan.created is not None or plan.updated is not None:
            at = now()  # one instant for the batch, as for one row
            for name in (plan.updated, plan.created):
                if name is not None:
                    source = plan.table.source_name(name)
                    stamp = stamp_for(self.model, name, at)
                    if isinstance(rows, ColumnRows):
                        rows.fill(source, stamp)
                    else:
                        for row in rows:
                            row.setdefault(source, stamp)
        return rows

    async def bulk_update(
        self, filters: F | None, changes: U | Mapping[str, Any], *, user_id: str | None = None
    ) -> int:
        scope = await self._scope("bulk_update", user_id)
        where = self._in_scope(scope, self._where(filters))
        values = self._changes(changes)
        if scope is not None:
            scope.check_write(self._touched(changes), updating=True)
        before: builtins.list[dict[str, Any]] = []

        async def run() -> int:
            before[:] = await self._before(where)
            return await self.backend.update(self.plan().collection, where, values)

        def audit(changed: int) -> builtins.list[AuditEntry]:
            if not changed:
                return []
            entries = []
            for old in before:
                after = self._image({**old, **values})
                diff = {
                    "set": plain_row(values),
                    "before": {c: old.get(c) for c in values},
                    "after": {c: after.get(c) for c in values},
                }
                entries.append(self._entry("bulk_update", user_id, self._row_key(after), diff))
            return entries

        return await self._invalidate_after(self._call("bulk_update", user_id, run, audit))

    async def bulk_delete(
        self, filters: F | None = None, *, hard: bool = False, user_id: str | None = None
    ) -> int:
        scope = await self._scope("bulk_delete", user_id)
        where = self._in_scope(scope, parse_filter(self.plan().table, filters))
        before: builtins.list[dict[str, Any]] = []

        async def run() -> int:
            before[:] = await self._before(self._doomed(where, hard))
            return await self._remove(where, hard)

        def audit(removed: int) -> builtins.list[AuditEntry]:
            return self._removed_entries("bulk_delete", user_id, before) if removed else []

        return await self._invalidate_after(self._call("bulk_delete", user_id, run, audit))

    async def distinct(
        self, field: K, filters: F | None = None, *, user_id: str | None = None
    ) -> builtins.list[Any]:
        info = self.plan().table.resolve(field)
        scope = await self._scope("distinct", user_id)
        if scope is not None and info.ref.column in scope.hidden_sources:
            raise scope.deny(f"distinct on hidden field {field!r}")
        where = self._in_scope(scope, self._where(filters))
        adapter: TypeAdapter[Any] = TypeAdapter(info.py_type)

        async def run() -> builtins.list[Any]:
            values = await self.backend.distinct(self.plan().collection, info.ref, where)
            return [None if v is None else adapter.validate_python(v) for v in values]

        cached = self._cached("distinct", scope, (info.ref, where), run)
        return await self._call("distinct", user_id, cached)

    # -- issue 3 -------------------------------------------------------------------------
    async def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Run a MongoDB-style pipeline (Python field names; see :mod:`xrepo.runtime.aggregate`).

        Validated and compiled once per call; the backend runs it (SQLite pushes the longest
        SQL-expressible prefix down, :meth:`explain_aggregate` says which stages).
        """
        from .aggregate import compile_pipeline

        plan = self.plan()
        scope = await self._scope("aggregate", user_id)
        pipeline = guard_pipeline(scope, pipeline)
        compiled = compile_pipeline(
            plan.table, pipeline, lambda n: self._in_scope(scope, plan.alive(n))
        )
        run = self._cached(
            "aggregate",
            scope,
            pipeline,
            lambda: self.backend.aggregate(plan.collection, compiled),
        )
        return await self._call("aggregate", user_id, run)

    def explain_aggregate(self, pipeline: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Which stages of ``pipeline`` run in the backend (SQL) and which in memory."""
        from .aggregate import compile_pipeline
        from .aggregate.explain import explain

        plan = self.plan()
        compiled = compile_pipeline(plan.table, pipeline, plan.alive)
        return explain(self.backend, plan.collection, compiled)

    async def inspect_schema(self, *, user_id: str | None = None) -> dict[str, Any]:
        """The model's JSON Schema (source names) and how Python names map to the source.

        Under an ACL it needs READ (it describes the rows ``read`` returns), and the fields
        hidden from the principal are absent from ``fields``, ``primary_key`` and
        ``json_schema``."""
        scope = await self._scope_as("inspect_schema", "read", user_id)
        hidden = frozenset() if scope is None else scope.hidden
        table = self.plan().table
        return {
            "model": self.model.__name__,
            "collection": self.metadata.collection,
            "namespace": self.metadata.namespace,
            "primary_key": next(iter(keys_without([self.metadata.primary_key], hidden)), []),
            "fields": {
                name: table.source_name(name)
                for name in self.model.model_fields
                if name not in hidden
            },
            "json_schema": schema_without(
                self.model.model_json_schema(by_alias=True),
                (table.source_name(n) for n in hidden),
            ),
        }

    async def inspect_collection(self, *, user_id: str | None = None) -> dict[str, Any]:
        """What the collection holds now: live row count, keys, indexes and delete mode.

        Under an ACL it needs LIST (it counts rows): the count is of the principal's rows,
        and keys naming a field hidden from it are left out."""
        scope = await self._scope_as("inspect_collection", "count", user_id)
        hidden = frozenset() if scope is None else scope.hidden
        meta = self.metadata
        return {
            "name": meta.name,
            "collection": meta.collection,
            "backend": type(self.backend).__name__,
            "count": await self.count(user_id=user_id),
            "primary_key": next(iter(keys_without([meta.primary_key], hidden)), []),
            "unique": keys_without(meta.unique, hidden),
            "indexes": keys_without(meta.indexes, hidden),
            "soft_delete": meta.soft_delete,
        }

    async def get_statistics(self, *, user_id: str | None = None) -> RepoStats:
        """Row counts (total; created, updated, deleted since midnight UTC — counted by the
        database), field cardinalities, storage and index figures where the backend offers
        them (an optional ``stats(coll)``), and per-operation latencies.  ``operations`` is
        taken right after the total count, before this call's own further queries.

        Under an ACL it needs LIST (it counts rows) and describes only what the principal may
        list: counts within its row scope, no cardinality (and no today-count) of a field
        hidden from it; the table-wide figures (database cardinalities, storage, indexes) and
        ``operations`` (every principal's calls) only for unrestricted principals."""
        scope = await self._scope_as("get_statistics", "count", user_id)
        hidden = frozenset() if scope is None else scope.hidden_sources
        total = await self.count(user_id=user_id)
        operations = self.op_stats.summary() if scope is None else {}
        plan = self.plan()
        meta = self.metadata
        midnight = now().replace(hour=0, minute=0, second=0, microsecond=0)

        async def since(name: str, *, alive: bool) -> int | None:
            if name not in plan.table.by_name or plan.table.source_name(name) in hidden:
                return None
            doc = {name: {"$gte": stamp_for(self.model, name, midnight)}}
            where = parse_filter(plan.table, doc)
            where = self._in_scope(scope, plan.alive(where) if alive else where)
            coll = plan.collection
            return await self._call("count", user_id, lambda: self.backend.count(coll, where))

        deleted = await since(meta.soft_delete_field, alive=False) if plan.soft else None
        fields = {
            info.ref.path[0]: name
            for name, info in plan.table.by_name.items()
            if len(info.ref.path) == 1 and info.ref.path[0] not in hidden
        }
        probe = getattr(self.backend, "stats", None)
        # Table-wide figures would describe rows outside a restricted principal's scope.
        native: dict[str, Any] = (
            await probe(plan.collection) if probe is not None and scope is None else {}
        )
        cards = {
            fields[s]: int(n) for s, n in native.get("cardinalities", {}).items() if s in fields
        }
        source = "database" if cards else None
        if not cards:
            rows = await self.list_rows(limit=SAMPLE_ROWS, user_id=user_id)
            cards = sampled_cardinalities(rows, fields)
            source = "sample" if rows else None
        return RepoStats(
            total_count=total,
            created_today=await since(meta.created_field, alive=True),
            updated_today=await since(meta.updated_field, alive=True),
            deleted_today=deleted,
            cardinalities=cards,
            cardinality_source=source,
            storage_bytes=native.get("storage_bytes"),
            indexes=native.get("indexes", {}),
            operations=operations,
            backend_details={
                k: v
                for k, v in native.items()
                if k not in ("cardinalities", "storage_bytes", "indexes")
            },
        )

    async def get_audit_log(
        self,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        *,
        user_id: str | None = None,
    ) -> builtins.list[AuditEntry]:
        """Audit entries, newest first; ``filters`` match entry attributes exactly.

        Under an ACL it needs ADMIN: entries hold every field of every row written, whatever
        the reader's row and column rules.  The ACL is checked first, so a denied principal
        does not learn whether audit is on."""
        await self._scope("get_audit_log", user_id)
        if not self.metadata.enable_audit:
            raise ConfigurationError(
                f"{self.metadata.name}: audit is off (set RepoMetadata.enable_audit=True)"
            )
        return await query_entries(self.audit_sink, filters, limit)


class ConnectedRepo(XRepo[M, C, U, F, K]):
    """A live resource: filtering, sorting and paging are pushed down to the backend."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend


class MaterializedRepo(XRepo[M, C, U, F, K]):
    """In-memory data with the same semantics (file sources, views, aggregates)."""

    #: File sources: default path (relative to the working directory) and how to read it.
    source_path: str | None = None
    file_format: FileFormat | None = None
    #: Optional full description of the file; by default one is derived from the model.
    collection_spec: ClassVar[CollectionSpec | None] = None

    def __init__(self, rows: Iterable[Mapping[str, Any] | BaseModel] = ()) -> None:
        backend = MemoryBackend()
        self.backend = backend
        stored = []
        for row in rows:
            if isinstance(row, self.model):
                obj = row
            else:
                raw = row.model_dump(by_alias=True) if isinstance(row, BaseModel) else row
                obj = self.model.model_validate(raw)
            stored.append(plain_row(obj.model_dump(by_alias=True)))
        backend.insert_now(self.plan().collection, stored)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> Self:
        """Read the file source (``path`` or ``source_path``) and validate every row."""
        from .file_source import read_model_rows

        target = path if path is not None else cls.source_path
        if target is None:
            raise ConfigurationError(f"{cls.__name__}.from_file: no path given and no source_path")
        return cls(read_model_rows(cls, Path(target)))


__all__ = ["ConnectedRepo", "MaterializedRepo", "RepoMetadata", "SortOrder", "XRepo"]
