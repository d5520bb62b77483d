"""What a repo class derives once from its models and metadata (cached per class)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .backends.base import Collection
from .errors import ConfigurationError, QueryError
from .query.ast import Compare, FieldRef, MatchAll, Node, conjoin
from .query.fields import FieldTable, fields_of, plain
from .query.parse import parse_filter


@dataclass(frozen=True)
class RepoPlan:
    table: FieldTable
    collection: Collection
    primary_key: tuple[str, ...]
    #: Soft-delete marker field (None: hard deletes only).
    soft: FieldRef | None
    created: str | None
    updated: str | None

    def alive(self, where: Node, *, include_deleted: bool = False) -> Node:
        if self.soft is None or include_deleted:
            return where
        return conjoin(where, Compare(self.soft, "eq", None))

    def key_filter(self, id: Any) -> Node:
        """The primary-key filter for ``id`` (a tuple for composite keys), values coerced."""
        pk = self.primary_key
        if not pk:
            raise ConfigurationError(
                f"{self.table.model.__name__}: no primary key declared; use list()/find_one()"
            )
        if len(pk) == 1:
            values: tuple[Any, ...] = (id,)
        elif isinstance(id, tuple | list) and len(id) == len(pk):
            values = tuple(id)
        else:
            raise QueryError(f"primary key is {pk!r}: pass a tuple of {len(pk)} values, got {id!r}")
        doc = {name: {"$eq": v} for name, v in zip(pk, values, strict=True)}
        if any(v is None for v in values):
            raise QueryError(f"primary key value missing in {id!r}")
        return parse_filter(self.table, doc)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def stamp_for(
    model: type[BaseModel], field: str, at: datetime.datetime | None = None
) -> datetime.datetime:
    """``at`` (default: now, aware UTC) as the field accepts it: aware, or naive UTC for naive
    columns (``TIMESTAMP`` without time zone, SQLite ``DATETIME``) that reject an offset."""
    aware = at or now()
    info = model.model_fields.get(field)
    if info is None or info.annotation is None:
        return aware
    try:
        TypeAdapter(info.annotation).validate_python(aware)
    except ValidationError:
        return aware.replace(tzinfo=None)
    return aware


def build_plan(model: type[BaseModel], create_model: type[BaseModel] | None, meta: Any) -> RepoPlan:
    table = fields_of(model)

    def source(name: str) -> str:
        try:
            info = table.by_name[name]
        except KeyError:
            raise ConfigurationError(
                f"{meta.name}: metadata names field {name!r}, which {model.__name__} lacks"
            ) from None
        return info.ref.path[0]

    pk = tuple(meta.primary_key)
    json_fields = frozenset(
        info.ref.path[0]
        for info in table.by_name.values()
        if info.ref.array or info.ref.kind in ("object", "any")
    )
    autoincrement = False
    if len(pk) == 1 and create_model is not None:
        f = create_model.model_fields.get(pk[0])
        kind = table.by_name[pk[0]].ref.kind if pk[0] in table.by_name else None
        autoincrement = kind == "int" and (f is None or not f.is_required())
    coll = Collection(
        name=meta.collection,
        namespace=meta.namespace,
        primary_key=tuple(source(n) for n in pk),
        autoincrement=autoincrement,
        unique=tuple(tuple(source(n) for n in u) for u in meta.unique if tuple(u) != pk),
        fields=tuple(info.ref.path[0] for info in table.by_name.values()),
        json_fields=json_fields,
        indexes=tuple(tuple(source(n) for n in ix) for ix in meta.indexes if ix),
        object_ids=_object_ids(model, table, getattr(meta, "object_ids", None)),
    )
    soft = None
    if meta.soft_delete:
        if meta.soft_delete_field not in table.by_name:
            raise ConfigurationError(
                f"{meta.name}: soft_delete needs field {meta.soft_delete_field!r} "
                f"on {model.__name__} (or set soft_delete_field)"
            )
        soft = table.by_name[meta.soft_delete_field].ref
    stamps = meta.auto_timestamps
    created = meta.created_field if stamps and meta.created_field in table.by_name else None
    updated = meta.updated_field if stamps and meta.updated_field in table.by_name else None
    return RepoPlan(table, coll, pk, soft, created, updated)


def _object_ids(
    model: type[BaseModel], table: FieldTable, names: tuple[str, ...] | None
) -> frozenset[tuple[str, ...]]:
    """Source paths of ObjectId fields (see ``RepoMetadata.object_ids``)."""
    if names is not None:
        return frozenset(table.resolve(n).ref.path for n in names)
    spec = getattr(getattr(model, "Meta", None), "source_schema", None)
    if spec is not None:
        from .query.mongo import object_id_paths

        return object_id_paths(spec)
    info = table.by_name.get(table.by_source.get("_id", ""))
    if info is not None and info.ref.kind == "str" and not info.ref.array:
        return frozenset({("_id",)})
    return frozenset()


def source_changes(plan: RepoPlan, model: BaseModel) -> dict[str, Any]:
    """The fields SET on an update model, keyed by source names, as plain values."""
    names = model.model_fields_set
    dumped = model.model_dump(include=names, by_alias=True)
    out: dict[str, Any] = {}
    for name, value in dumped.items():
        out[plan.table.resolve(name).ref.path[0]] = plain(value)
    return out


def source_row(model: BaseModel) -> dict[str, Any]:
    """A create model as a stored row: unset fields left at None are omitted, so that the
    backend's defaults and generated keys apply."""
    dumped = model.model_dump(by_alias=True)
    fields = type(model).model_fields
    unset = {
        (name if f.alias is None else f.alias)
        for name, f in fields.items()
        if name not in model.model_fields_set
    }
    return {k: plain(v) for k, v in dumped.items() if not (k in unset and v is None)}


def plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


__all__ = ["MatchAll", "RepoPlan", "build_plan", "now", "plain_row", "source_changes", "source_row"]
