"""Schemas ↔ repos: repo metadata from a collection spec (by the code generator's rules), the
spec behind a repo, and the small spec edits the factory makes (primary key, model variants)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pydantic
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .dict_repo import DictRepo
from .errors import ConfigurationError
from .join_config import as_fields
from .model import XObjPrototype
from .query.fields import FieldInfo as QueryField
from .query.fields import fields_of, scalar_type
from .repo import RepoMetadata, XRepo
from .schema import CollectionSpec, FieldSpec, LogicalType, Snapshot, TypeSpec
from .views import hashable

AnyRepo = XRepo[Any, Any, Any, Any, Any]
SchemaInput = CollectionSpec | Snapshot | Mapping[str, Any]
Row = dict[str, Any]


def spec_of(schema: SchemaInput, collection: str | None) -> CollectionSpec:
    if isinstance(schema, CollectionSpec):
        return schema
    if isinstance(schema, Snapshot):
        if collection is None:
            if len(schema.collections) == 1:
                return schema.collections[0]
            names = ", ".join(c.name for c in schema.collections)
            raise ConfigurationError(f"schema= is a snapshot of {names}: pass collection=...")
        try:
            return schema.collection(collection)
        except KeyError:
            raise ConfigurationError(f"schema= has no collection {collection!r}") from None
    try:
        return CollectionSpec.model_validate(schema)
    except pydantic.ValidationError as exc:
        raise ConfigurationError(f"schema= is not a valid collection spec: {exc}") from None


def py_fields(sources: Sequence[str], by_source: Mapping[str, str]) -> tuple[str, ...] | None:
    """The Python names of source fields ``sources``; None when empty or one is unknown."""
    if not sources or any(s not in by_source for s in sources):
        return None
    return tuple(by_source[s] for s in sources)


@dataclass(frozen=True)
class RepoKeys:
    """What a repo's metadata says of a collection's keys and conventional fields (Python
    names) — one derivation for the code generator and for repos made at run time."""

    primary_key: tuple[str, ...]
    #: Plain column indexes, unique ones included; expression indexes left out.
    indexes: tuple[tuple[str, ...], ...]
    #: Unique, non-partial indexes.
    unique: tuple[tuple[str, ...], ...]
    soft_delete_field: str | None
    #: Both or neither: auto timestamps need the two.
    created_field: str | None
    updated_field: str | None


def repo_keys(
    spec: CollectionSpec,
    by_source: Mapping[str, str],
    *,
    soft_delete_field: str,
    created_field: str,
    updated_field: str,
) -> RepoKeys:
    indexes: list[tuple[str, ...]] = []
    unique: list[tuple[str, ...]] = []
    for idx in spec.indexes:
        cols = None if idx.expression else py_fields(idx.fields, by_source)
        if cols is None:
            continue
        if cols not in indexes:
            indexes.append(cols)
        if idx.unique and idx.partial is None and cols not in unique:
            unique.append(cols)
    py_names = set(by_source.values())

    def find(option: str) -> str | None:
        if option in by_source:
            return by_source[option]
        return option if option in py_names else None

    created, updated = find(created_field), find(updated_field)
    both = created is not None and updated is not None
    return RepoKeys(
        py_fields(spec.primary_key, by_source) or (),
        tuple(indexes),
        tuple(unique),
        find(soft_delete_field),
        created if both else None,
        updated if both else None,
    )


def metadata_for(
    spec: CollectionSpec,
    by_source: Mapping[str, str],
    model_name: str,
    *,
    soft_delete_field: str = "deleted_at",
    created_field: str = "created_at",
    updated_field: str = "updated_at",
) -> RepoMetadata:
    """Repo metadata from a schema, by the code generator's rules (:func:`repo_keys`)."""
    keys = repo_keys(
        spec,
        by_source,
        soft_delete_field=soft_delete_field,
        created_field=created_field,
        updated_field=updated_field,
    )
    extra: dict[str, Any] = {}
    if keys.soft_delete_field is not None:
        extra |= {"soft_delete": True, "soft_delete_field": keys.soft_delete_field}
    if keys.created_field is not None:
        extra |= {
            "auto_timestamps": True,
            "created_field": keys.created_field,
            "updated_field": keys.updated_field,
        }
    return RepoMetadata(
        name=spec.name,
        description=spec.comment or "",
        model_name=model_name,
        collection=spec.name,
        namespace=spec.namespace,
        primary_key=keys.primary_key,
        indexes=keys.indexes,
        unique=keys.unique,
        **extra,
    )


def optional_variant(
    model: type[BaseModel], name: str, optional: Callable[[str, FieldInfo], bool]
) -> type[XObjPrototype]:
    """A copy of ``model`` where the fields ``optional`` picks default to None."""
    fields: dict[str, Any] = {}
    for py, info in model.model_fields.items():
        if optional(py, info) and info.is_required():
            ann = info.annotation
            new = FieldInfo.merge_field_infos(info, default=None)
            fields[py] = (ann | None if ann is not None else Any, new)
        else:
            fields[py] = (info.annotation, info)
    made = pydantic.create_model(
        name, __base__=XObjPrototype, __module__=model.__module__, **fields
    )
    made.__doc__ = None
    return made


def schema_of(repo: AnyRepo | DictRepo) -> CollectionSpec:
    """The collection spec behind a repo: the one it was made from, or one derived from its
    model (source names, logical types; every field nullable)."""
    if isinstance(repo, DictRepo):
        return repo.schema
    spec = getattr(type(repo), "source_schema", None)
    if isinstance(spec, CollectionSpec):
        return spec
    meta = getattr(repo.model, "Meta", None)
    spec = getattr(meta, "source_schema", None)
    if isinstance(spec, CollectionSpec):
        return spec
    table = fields_of(cast(type[BaseModel], repo.model))
    return CollectionSpec(
        name=repo.metadata.collection,
        namespace=repo.metadata.namespace,
        kind="view",
        primary_key=tuple(table.source_name(n) for n in repo.metadata.primary_key),
        fields=tuple(
            FieldSpec(name=info.ref.path[0], type=_logical(info)) for info in table.by_name.values()
        ),
    )


def _logical(info: QueryField) -> TypeSpec:
    leaf = scalar_type(info.ref.kind)
    return TypeSpec(kind=LogicalType.ARRAY, items=leaf) if info.ref.array else leaf


async def typed_rows(
    repo: AnyRepo | DictRepo, filters: Mapping[str, Any] | None, limit: int | None
) -> list[Row]:
    """Rows keyed by source names, values of the model's types, the filter pushed down."""
    if isinstance(repo, DictRepo):
        return await repo.list(filters, limit=limit)
    return [m.model_dump(by_alias=True) for m in await repo.list(filters, limit=limit)]


def with_key(spec: CollectionSpec, key: Sequence[str] | str) -> CollectionSpec:
    fields = as_fields(key)
    known = {f.name for f in spec.fields}
    bad = [f for f in fields if f not in known]
    if bad:
        raise ConfigurationError(
            f"primary_key {bad} not among the fields of {spec.name!r}: {', '.join(sorted(known))}"
        )
    return spec.model_copy(update={"primary_key": tuple(fields)})


def natural_key(spec: CollectionSpec, records: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """``id`` (or ``_id``) when every record has one and no two share it; else no key."""
    for candidate in ("_id", "id"):
        try:
            spec.field(candidate)
        except KeyError:
            continue
        values = [r.get(candidate) for r in records]
        if records and None not in values and len({hashable(v) for v in values}) == len(values):
            return (candidate,)
    return ()


def model_spec(model: type[BaseModel], collection: str | None) -> CollectionSpec:
    table = fields_of(model)
    return CollectionSpec(
        name=collection or model.__name__,
        kind="memory",
        fields=tuple(
            FieldSpec(name=info.ref.path[0], type=_logical(info)) for info in table.by_name.values()
        ),
    )


__all__ = [
    "SchemaInput",
    "metadata_for",
    "model_spec",
    "natural_key",
    "optional_variant",
    "schema_of",
    "spec_of",
    "typed_rows",
    "with_key",
]
