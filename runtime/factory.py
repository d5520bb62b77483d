"""XRepoFactory: repos from whatever the caller has — a model class, a resource, plain data, a
schema, several sources to join, repos to aggregate.

``create(**inputs)`` looks at the inputs and hands them to the first matching *strategy*, in
priority order (highest first); :meth:`XRepoFactory.register_strategy` adds one. The built-in
strategies, by priority:

=====  ================  ===========================================================
 100   ``view``          ``sources`` + ``join_config`` → :meth:`create_view_from_resources`
  95   ``aggregate``     ``source_repos`` + ``aggregation_config`` → :meth:`create_aggregate_repo`
  90   ``model_class``   ``model_class`` (+ ``resource`` / ``data``) → typed repo of that model
  80   ``resource``      ``resource`` (+ ``collection``) → :meth:`create_from_resource`
  70   ``data``          ``data`` (list of dicts or models) + ``name`` → in-memory repo
  60   ``schema``        ``schema`` alone → empty in-memory repo of that schema
=====  ================  ===========================================================

``schema=`` (a CollectionSpec, its dict form, or a Snapshot) overrides the discovered schema in
the resource, data and model_class strategies. All methods are coroutines: discovering a schema
and reading sources may do I/O.

Repos over databases are :class:`ConnectedRepo` (queries pushed down); over files, lists,
views and aggregates they are :class:`MaterializedRepo` — the same split the code generator
makes — and their metadata (primary key, indexes, soft delete, timestamps) is derived from the
schema by the generator's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, overload

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .dict_repo import DictRepo
from .dynamic import schema_hash
from .errors import ConfigurationError, QueryError
from .join_config import join_keys, join_type
from .join_config import source_filters as filters_by_source
from .model import XObjPrototype
from .naming import pascal_case
from .query.fields import FieldInfo as QueryField
from .query.fields import fields_of
from .query.parse import parse_filter
from .query.predicate import compile_predicate
from .refresh import LoadResult, RefreshableRepo
from .registry import ModelRegistry
from .repo import ConnectedRepo, MaterializedRepo, RepoMetadata, XRepo
from .repo_specs import (
    SchemaInput,
    metadata_for,
    model_spec,
    natural_key,
    optional_variant,
    schema_of,
    spec_of,
    typed_rows,
    with_key,
)
from .resources.base import MaterializedResource, XResource
from .resources.memory import MemoryResource
from .rollup import aggregate_rows, parse_config, result_spec
from .schema import CollectionSpec, LogicalType
from .strategies import BUILTIN_STRATEGIES, CreationStrategy
from .view_filters import and_filters, split_filter
from .view_keys import cast_rows, plan_view
from .views import JoinSizeError, PrefixMode, join_sources, nullable_sides

AnyRepo = XRepo[Any, Any, Any, Any, Any]
Row = dict[str, Any]


@dataclass(frozen=True)
class _Registered:
    priority: int
    order: int
    strategy: CreationStrategy


# -- the factory ------------------------------------------------------------------------


class XRepoFactory:
    def __init__(
        self,
        registry: ModelRegistry | None = None,
        *,
        soft_delete_field: str = "deleted_at",
        created_field: str = "created_at",
        updated_field: str = "updated_at",
        max_rows: int | None = None,
    ) -> None:
        self.registry = registry or ModelRegistry()
        self.soft_delete_field = soft_delete_field
        self.created_field = created_field
        self.updated_field = updated_field
        #: Default bound on view / aggregate inputs and outputs (None: unbounded).
        self.max_rows = max_rows
        self._strategies: list[_Registered] = []
        self._classes: dict[tuple[Any, ...], type[AnyRepo]] = {}
        for strategy, priority in BUILTIN_STRATEGIES:
            self.register_strategy(strategy, priority)

    # -- strategies ----------------------------------------------------------------------

    def register_strategy(self, strategy: CreationStrategy, priority: int) -> None:
        """Add a strategy; among equal priorities the one registered first wins."""
        self._strategies.append(_Registered(priority, len(self._strategies), strategy))
        self._strategies.sort(key=lambda r: (-r.priority, r.order))

    @property
    def strategies(self) -> list[tuple[str, int]]:
        return [(r.strategy.name, r.priority) for r in self._strategies]

    def detect(self, **inputs: Any) -> CreationStrategy:
        """The strategy ``create(**inputs)`` would use."""
        for reg in self._strategies:
            if reg.strategy.matches(inputs):
                return reg.strategy
        raise ConfigurationError(
            f"XRepoFactory.create: cannot tell what to build from {sorted(inputs)}; pass "
            "model_class=, resource= (+ collection=), data= (+ name=), schema=, "
            "sources= + join_config=, or source_repos= + aggregation_config="
        )

    async def create(self, **inputs: Any) -> Any:
        return await self.detect(**inputs).create(self, inputs)

    # -- building blocks ------------------------------------------------------------------

    def _metadata(self, spec: CollectionSpec, model: type[BaseModel]) -> RepoMetadata:
        return metadata_for(
            spec,
            fields_of(model).by_source,
            model.__name__,
            soft_delete_field=self.soft_delete_field,
            created_field=self.created_field,
            updated_field=self.updated_field,
        )

    def repo_class(
        self,
        spec: CollectionSpec,
        model: type[XObjPrototype],
        create_model: type[XObjPrototype],
        update_model: type[XObjPrototype],
        *,
        materialized: bool,
        base: type[AnyRepo] | None = None,
    ) -> type[AnyRepo]:
        """A repo class for ``spec`` (what the generated ``repos.py`` would declare)."""
        if base is None:
            base = MaterializedRepo if materialized else ConnectedRepo
        attrs: dict[str, Any] = {
            "model": model,
            "create_model": create_model,
            "update_model": update_model,
            "metadata": self._metadata(spec, model),
            "source_schema": spec,
            "__module__": model.__module__,
        }
        if materialized:
            attrs["collection_spec"] = spec
            attrs["file_format"] = spec.file_format
            attrs["source_path"] = spec.path
        return cast(type[AnyRepo], type(f"{model.__name__}Repo", (base,), attrs))

    @staticmethod
    def _open(
        cls: type[AnyRepo], resource: XResource, spec: CollectionSpec, model: type[BaseModel]
    ) -> AnyRepo:
        if isinstance(resource, MaterializedResource):
            repo = cls.__new__(cls)
            repo.backend = resource.backend()
            resource.load(spec.name, cls.plan().collection, model)
            return repo
        # Resources whose backend depends on the collection and its model (Redis decodes
        # stored text by the model's field types) make one per collection.
        backend_for = getattr(resource, "backend_for", None)
        backend = backend_for(spec.name, model) if backend_for else resource.backend()
        return cast(Callable[[Any], AnyRepo], cls)(backend)

    # -- from a resource ------------------------------------------------------------------

    @overload
    async def create_from_resource(
        self,
        resource: XResource,
        collection: str | None = ...,
        auto_generate_model: Literal[False] = ...,
        model_name: str | None = ...,
        ns: str | None = ...,
        *,
        schema: SchemaInput | None = ...,
        primary_key: Sequence[str] | str | None = ...,
    ) -> DictRepo: ...

    @overload
    async def create_from_resource(
        self,
        resource: XResource,
        collection: str | None,
        auto_generate_model: Literal[True],
        model_name: str | None = ...,
        ns: str | None = ...,
        *,
        schema: SchemaInput | None = ...,
        primary_key: Sequence[str] | str | None = ...,
    ) -> AnyRepo: ...

    @overload
    async def create_from_resource(
        self,
        resource: XResource,
        collection: str | None = ...,
        auto_generate_model: bool = ...,
        model_name: str | None = ...,
        ns: str | None = ...,
        *,
        schema: SchemaInput | None = ...,
        primary_key: Sequence[str] | str | None = ...,
    ) -> AnyRepo | DictRepo: ...

    async def create_from_resource(
        self,
        resource: XResource,
        collection: str | None = None,
        auto_generate_model: bool = False,
        model_name: str | None = None,
        ns: str | None = None,
        *,
        schema: SchemaInput | None = None,
        primary_key: Sequence[str] | str | None = None,
    ) -> AnyRepo | DictRepo:
        """A repo on one collection of ``resource`` (None: its only collection).

        Without ``auto_generate_model`` the repo deals in plain dicts (:class:`DictRepo`,
        schema-aware all the same); with it, in instances of a dynamic model generated from
        the schema — the same classes on every call while the schema is unchanged (the
        registry keys them by ``(ns, collection)`` and the schema's content hash).
        """
        spec = await self._resource_spec(resource, collection, schema)
        if primary_key is not None:
            spec = with_key(spec, primary_key)
        if ns is not None and spec.namespace is None:
            spec = spec.model_copy(update={"namespace": ns})
        models = self.registry.dynamic_models(spec, namespace=ns, model_name=model_name)
        cls = self._cached_class(
            spec, models.model, models.create_model, models.update_model, resource.materialized
        )
        repo = self._open(cls, resource, spec, models.model)
        return repo if auto_generate_model else DictRepo(repo, spec)

    async def _resource_spec(
        self, resource: XResource, collection: str | None, schema: SchemaInput | None
    ) -> CollectionSpec:
        if schema is not None:
            return spec_of(schema, collection)
        if not isinstance(resource, XResource):
            raise ConfigurationError(
                f"resource= must be an XResource (SQLiteResource, CsvResource, ...), "
                f"got {type(resource).__name__}"
            )
        snapshot = await resource.discover_schema()
        names = [c.name for c in snapshot.collections]
        listed = ", ".join(names) or "none"
        if collection is None and len(names) != 1:
            raise ConfigurationError(
                f"resource {resource.name!r} holds {len(names)} collections ({listed}): "
                "pass collection=..."
            )
        if collection is not None and collection not in names:
            raise ConfigurationError(
                f"resource {resource.name!r} has no collection {collection!r} (it has: {listed})"
            )
        return spec_of(snapshot, collection)

    def _cached_class(
        self,
        spec: CollectionSpec,
        model: type[XObjPrototype],
        create_model: type[XObjPrototype],
        update_model: type[XObjPrototype],
        materialized: bool,
    ) -> type[AnyRepo]:
        # One repo class per models, schema and kind: XRepo caches its plan per class.
        key = (model, create_model, update_model, materialized, schema_hash(spec))
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = self.repo_class(
                spec, model, create_model, update_model, materialized=materialized
            )
        return cls

    # -- from a model class ---------------------------------------------------------------

    async def create_from_model(
        self,
        model_class: type[XObjPrototype],
        *,
        resource: XResource | None = None,
        collection: str | None = None,
        data: Sequence[Mapping[str, Any] | BaseModel] | None = None,
        schema: SchemaInput | None = None,
        create_model: type[XObjPrototype] | None = None,
        update_model: type[XObjPrototype] | None = None,
        primary_key: Sequence[str] | str | None = None,
    ) -> AnyRepo:
        """A typed repo of ``model_class`` on a resource's collection, or on ``data`` in memory.

        Create and update models: those given, those registered for the collection, or
        variants derived from the model (update: every field optional; create: fields the
        source fills in — generated, defaulted, nullable — optional).
        """
        meta = getattr(model_class, "Meta", None)
        collection = collection or getattr(meta, "collection", None)
        if resource is not None:
            if collection is None:
                names = await resource.list_collections_or_tables()
                guess = [n for n in names if pascal_case(n, singular=True) == model_class.__name__]
                collection = guess[0] if len(guess) == 1 else None
            spec = await self._resource_spec(resource, collection, schema)
        elif schema is not None:
            spec = spec_of(schema, collection)
        else:
            spec = model_spec(model_class, collection)
        if primary_key is not None:
            spec = with_key(spec, primary_key)
        table = fields_of(model_class)
        lacking = [f.name for f in spec.fields if f.name not in table.by_source]
        if lacking and resource is not None and not resource.materialized:
            raise ConfigurationError(
                f"model {model_class.__name__} lacks field(s) {lacking} of collection "
                f"{spec.name!r}: add them, or use create_from_resource(auto_generate_model=True)"
            )
        create_model, update_model = self._variants(model_class, spec, create_model, update_model)
        materialized = resource is None or resource.materialized
        cls = self._cached_class(spec, model_class, create_model, update_model, materialized)
        if resource is not None:
            return self._open(cls, resource, spec, model_class)
        return cast(Callable[[Any], AnyRepo], cls)(data or ())

    def _variants(
        self,
        model: type[XObjPrototype],
        spec: CollectionSpec,
        create_model: type[XObjPrototype] | None,
        update_model: type[XObjPrototype] | None,
    ) -> tuple[type[XObjPrototype], type[XObjPrototype]]:
        key = (spec.namespace, spec.name)
        if key in self.registry:
            entry = self.registry.entry(spec.name, spec.namespace)
            if entry.model is model and not entry.auto_generated:
                create_model = create_model or entry.create_model
                update_model = update_model or entry.update_model
        if create_model is None:
            by_source = {f.name: f for f in spec.fields}
            pk = set(spec.primary_key)

            def server_filled(py: str, info: FieldInfo) -> bool:
                f = by_source.get(py if info.alias is None else info.alias)
                if f is None:
                    return False
                keyed = f.name in pk and f.type.kind in (LogicalType.INT, LogicalType.OBJECT_ID)
                return f.nullable or f.default is not None or f.generated is not None or keyed

            create_model = _variants_cache(model, "Create", server_filled)
        if update_model is None:
            update_model = _variants_cache(model, "Update", lambda py, info: True)
        return create_model, update_model

    # -- from data ------------------------------------------------------------------------

    async def create_from_data(
        self,
        data: Sequence[Mapping[str, Any] | BaseModel],
        name: str | None = None,
        *,
        auto_generate_model: bool = True,
        model_name: str | None = None,
        ns: str | None = None,
        primary_key: Sequence[str] | str | None = None,
        schema: SchemaInput | None = None,
    ) -> AnyRepo | DictRepo:
        """An in-memory repo of ``data``: models keep their class; dicts get a dynamic model
        (or plain dicts with ``auto_generate_model=False``). Key: ``primary_key``, else
        ``_id`` or ``id`` when every record has a distinct one."""
        items = list(data)
        if items and isinstance(items[0], BaseModel):
            model = type(items[0])
            if not issubclass(model, XObjPrototype):
                raise ConfigurationError(
                    f"data= models must subclass XObjPrototype, got {model.__name__}"
                )
            return await self.create_from_model(
                model, data=items, collection=name, schema=schema, primary_key=primary_key
            )
        if name is None:
            raise ConfigurationError("create(data=...) needs name= (the collection's name)")
        records = cast(list[Mapping[str, Any]], items)
        resource = MemoryResource({name: records}, name=ns or "memory")
        spec = await self._resource_spec(resource, name, schema)
        if primary_key is None and not spec.primary_key:
            primary_key = natural_key(spec, records)
        if auto_generate_model:
            return await self.create_from_resource(
                resource, name, True, model_name, ns, schema=spec, primary_key=primary_key
            )
        return await self.create_from_resource(
            resource, name, False, model_name, ns, schema=spec, primary_key=primary_key
        )

    # -- views ----------------------------------------------------------------------------

    async def create_view_from_resources(
        self,
        name: str,
        resources: Mapping[str, Any],
        join_config: Mapping[str, Any],
        *,
        prefix: PrefixMode | None = None,
        max_rows: int | None = None,
        stale_after: float | None = None,
        ns: str | None = None,
        model_name: str | None = None,
        where: Mapping[str, Any] | None = None,
        repo_class: type[AnyRepo] | None = None,
        **source_filters: Mapping[str, Any],
    ) -> RefreshableRepo:
        """A materialized view joining ``resources`` (source name → resource, ``(resource,
        collection)``, or repo), refreshed once before it is returned.

        ``join_config``: ``type`` (``inner`` | ``left`` | ``right`` | ``full``), ``on`` (source
        → key field or fields; a field name or list shared by every source; or
        ``[(left, right), ...]`` pairs for two sources), optional ``filters`` (source →
        filter), ``prefix`` and ``collections`` (source → collection). Per-source filters may
        also be given as ``<source>_filters`` (or the singular, ``user_filters`` for
        ``users``) in ``join_config`` or as keyword arguments; each is pushed down to its
        source's query, before the join.

        Join keys must have types that compare alike; ``key_types`` (source → ``int`` |
        ``str`` | ``object_id`` | ``uuid``, or a list per key field) casts a source's key
        before the join (see :mod:`xrepo.runtime.view_keys`); otherwise differing key types
        are a :class:`ConfigurationError` naming both sides.

        ``where`` (or ``join_config["where"]``) filters on the VIEW's fields; it is split by
        field origin (:mod:`xrepo.runtime.view_filters`) into per-source filters pushed down
        and a residual applied after the join. ``freshness.source_rows`` counts the rows each
        source sent. ``max_rows`` bounds every source's rows and the join's output
        (:class:`JoinSizeError` names the source and the limit).

        ``repo_class``: a generated view repo (``xrepo generate`` on the view's snapshot); the
        view then deals in its typed model, and is an instance of that class.
        """
        if len(resources) < 2:
            raise ConfigurationError(f"view {name!r}: join at least two sources")
        how = join_type(name, join_config)
        names = list(resources)
        keys = join_keys(name, names, join_config)
        filters = filters_by_source(name, names, join_config, source_filters)
        mode = prefix or join_config.get("prefix", "collisions")
        limit = max_rows if max_rows is not None else join_config.get("max_rows", self.max_rows)
        collections = join_config.get("collections", {})
        repos: list[AnyRepo | DictRepo] = []
        for src in names:
            repos.append(await self._source_repo(name, src, resources[src], collections.get(src)))
        plan = plan_view(
            name,
            [
                (src, schema_of(repo), _source_key(repo, keys[src]))
                for src, repo in zip(names, repos, strict=True)
            ],
            how,
            join_config,
            prefix=mode,
            namespace=ns,
        )
        sources, merged = plan.sources, plan.merged
        cls = self._view_class(name, merged.spec, repo_class, ns, model_name)
        view_model = cast(type[BaseModel], cls.model)
        origins = {
            out: (src.name, field)
            for src, renames in zip(sources, merged.renames, strict=True)
            for field, out in renames.items()
        }
        outer = nullable_sides(how, len(sources))
        view_filter = and_filters(join_config.get("where"), where)
        try:
            parse_filter(view_model, view_filter)
        except QueryError as exc:
            raise ConfigurationError(f"view {name!r}: where: {exc}") from None
        split = split_filter(
            view_filter,
            fields_of(view_model),
            origins,
            [s.name for s, nullable in zip(sources, outer, strict=True) if not nullable],
            plan.cast_fields,
        )
        residual = (
            None
            if split.residual is None
            else compile_predicate(parse_filter(view_model, split.residual))
        )

        async def load() -> LoadResult:
            fetched: list[list[Row]] = []
            counts: dict[str, int] = {}
            for src, repo in zip(sources, repos, strict=True):
                pushed = and_filters(filters.get(src.name), split.pushed.get(src.name))
                rows = await typed_rows(repo, pushed, None if limit is None else limit + 1)
                if limit is not None and len(rows) > limit:
                    raise JoinSizeError(
                        f"view {name!r}: source {src.name!r} gives more than max_rows={limit} "
                        f"rows; filter it ({src.name}_filters=... or where=...) or raise max_rows"
                    )
                counts[src.name] = len(rows)
                fetched.append(cast_rows(name, src.name, rows, src.key, plan.casts[src.name]))
            joined = join_sources(
                fetched, sources, merged, how, max_rows=limit, what=f"view {name!r}"
            )
            if residual is not None:
                joined = [row for row in joined if residual(row)]
            return LoadResult(joined, counts)

        view = cast(Callable[..., RefreshableRepo], cls)(load, stale_after=stale_after)
        await view.refresh()
        return view

    def _view_class(
        self,
        name: str,
        spec: CollectionSpec,
        repo_class: type[AnyRepo] | None,
        ns: str | None,
        model_name: str | None,
    ) -> type[RefreshableRepo]:
        if repo_class is None:
            models = self.registry.dynamic_models(spec, namespace=ns, model_name=model_name)
            made = self.repo_class(
                spec,
                models.model,
                models.create_model,
                models.update_model,
                materialized=True,
                base=RefreshableRepo,
            )
            return cast(type[RefreshableRepo], made)
        have = set(fields_of(cast(type[BaseModel], repo_class.model)).by_source)
        want = [f.name for f in spec.fields]
        missing = [f for f in want if f not in have]
        extra = sorted(have - set(want))
        if missing or extra:
            raise ConfigurationError(
                f"view {name!r}: {repo_class.__name__} does not fit the view's schema "
                f"(missing {missing}, extra {extra}); re-run `xrepo inspect` and "
                "`xrepo generate` after changing the view or its sources"
            )
        return cast(
            type[RefreshableRepo],
            type(
                repo_class.__name__,
                (RefreshableRepo, repo_class),
                {"__module__": repo_class.__module__, "__qualname__": repo_class.__qualname__},
            ),
        )

    async def _source_repo(
        self, view: str, src: str, given: Any, collection: str | None
    ) -> AnyRepo | DictRepo:
        if isinstance(given, XRepo | DictRepo):
            return given
        if isinstance(given, tuple) and len(given) == 2:
            given, collection = given
        if isinstance(given, XResource):
            if collection is None:
                names = await given.list_collections_or_tables()
                collection = src if src in names and len(names) > 1 else None
            return await self.create_from_resource(given, collection, True)
        raise ConfigurationError(
            f"view {view!r}: source {src!r} must be a resource, (resource, collection) or a "
            f"repo, got {type(given).__name__}"
        )

    # -- aggregates -----------------------------------------------------------------------

    async def create_aggregate_repo(
        self,
        name: str,
        source_repos: AnyRepo | DictRepo | Sequence[AnyRepo | DictRepo] | Mapping[str, Any],
        aggregation_config: Mapping[str, Any],
        *,
        stale_after: float | None = None,
        ns: str | None = None,
        model_name: str | None = None,
    ) -> RefreshableRepo:
        """A materialized repo of one row per group (see :mod:`xrepo.runtime.rollup` for the
        config). Rows of every source repo are pooled, each fetched with the config's
        ``filters`` pushed down; ``refresh()`` recomputes."""
        if isinstance(source_repos, XRepo | DictRepo):
            repos: list[AnyRepo | DictRepo] = [source_repos]
        elif isinstance(source_repos, Mapping):
            repos = list(source_repos.values())
        else:
            repos = list(source_repos)
        if not repos:
            raise ConfigurationError(f"aggregate repo {name!r}: no source repos")
        config = parse_config(name, aggregation_config)
        needed = list(dict.fromkeys([*config.group_by, *(a.field for a in config.aggregations)]))
        needed = [n for n in needed if n != "*"]
        resolved = [{n: _resolve(name, repo, n) for n in needed} for repo in repos]
        spec = result_spec(name, config, resolved[0], namespace=ns)
        models = self.registry.dynamic_models(spec, namespace=ns, model_name=model_name)
        cls = self.repo_class(
            spec,
            models.model,
            models.create_model,
            models.update_model,
            materialized=True,
            base=RefreshableRepo,
        )
        limit = self.max_rows

        async def load() -> LoadResult:
            pooled: list[Row] = []
            counts: dict[str, int] = {}
            for i, (repo, infos) in enumerate(zip(repos, resolved, strict=True)):
                rows = await typed_rows(repo, config.filters, None)
                counts[f"{i}:{repo.metadata.name}"] = len(rows)
                paths = {n: info.ref.path for n, info in infos.items()}
                pooled.extend({n: _get(row, p) for n, p in paths.items()} for row in rows)
                if limit is not None and len(pooled) > limit:
                    raise JoinSizeError(
                        f"aggregate repo {name!r}: more than max_rows={limit} input rows"
                    )
            getters = {n: _item(n) for n in needed}
            return LoadResult(aggregate_rows(pooled, config, getters), counts)

        repo = cast(Callable[..., RefreshableRepo], cls)(load, stale_after=stale_after)
        await repo.refresh()
        return repo


_VARIANTS: dict[tuple[type[BaseModel], str], type[XObjPrototype]] = {}


def _variants_cache(
    model: type[BaseModel], suffix: str, optional: Callable[[str, FieldInfo], bool]
) -> type[XObjPrototype]:
    key = (model, suffix)
    made = _VARIANTS.get(key)
    if made is None:
        made = _VARIANTS[key] = optional_variant(model, model.__name__ + suffix, optional)
    return made


def _item(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


def _get(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = row
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _resolve(name: str, repo: AnyRepo | DictRepo, field: str) -> QueryField:
    inner = repo.repo if isinstance(repo, DictRepo) else repo
    try:
        info = inner.plan().table.resolve(field)
    except Exception as exc:
        raise ConfigurationError(f"aggregate repo {name!r}: {exc}") from None
    if info.ref.through_array:
        raise ConfigurationError(
            f"aggregate repo {name!r}: {field!r} goes through an array; unwind it first"
        )
    return info


def _source_key(repo: AnyRepo | DictRepo, fields: Sequence[str]) -> tuple[str, ...]:
    """Join key fields as SOURCE names (the caller may use Python names)."""
    inner = repo.repo if isinstance(repo, DictRepo) else repo
    table = inner.plan().table
    out = []
    for f in fields:
        try:
            out.append(table.source_name(f))
        except Exception:
            out.append(f)  # join_sources names the missing field
    return tuple(out)


__all__ = ["XRepoFactory"]
