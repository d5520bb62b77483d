"""Build read models from rows whose column types the driver already guarantees.

A backend that decodes every column into one Python type (asyncpg: ``int4`` → ``int``,
``timestamptz`` → aware ``datetime`` …) can tell the repo so (``trusted_types(coll)``: source
column → that type, or ``None`` when the values vary, and whether NULL can occur).  When a
model field's annotation is exactly that type — no constraints, validators or config that
would change or reject a value — pydantic's validation of the value is the identity, so the
value is kept as decoded.  Every other field (nested models, lists, enums, constrained types
…) is validated column-wise in one pydantic call per column, and instances are then built
without a per-row validator call.

The plan is decided once per (model, column shape, column types) and cached.  Whatever the
plan cannot prove — a NULL in a non-optional field, a non-finite Decimal, a value a column
validator rejects, a model with validators or unusual config — makes :func:`build_models`
return ``None`` and the caller validates the rows the ordinary way, so errors (and values)
are exactly those of ``model_validate``.
"""

from __future__ import annotations

import datetime
import decimal
import gc
import operator
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

M = TypeVar("M", bound=BaseModel)

#: Source column → (type every non-NULL value has, or None when it varies; NULL possible).
ColumnTypes = Mapping[str, tuple[type | None, bool]]

#: Types whose pydantic validation returns the very object given (checked per type).
_IDENTITY: frozenset[type] = frozenset(
    {
        int,
        str,
        bool,
        float,
        bytes,
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
    }
)
#: Model config keys that cannot change how a field validates.
_HARMLESS_CONFIG: frozenset[str] = frozenset(
    {
        "title",
        "validate_by_name",
        "validate_by_alias",
        "populate_by_name",
        "extra",
        "arbitrary_types_allowed",
        "frozen",
        "protected_namespaces",
        "json_schema_extra",
        "from_attributes",
        "defer_build",
        "use_attribute_docstrings",
        "revalidate_instances",
        "ser_json_timedelta",
        "ser_json_bytes",
        "ser_json_inf_nan",
        "serialize_by_alias",
        "validate_assignment",
    }
)


@dataclass(frozen=True, slots=True)
class _Plan:
    #: Python field names (model order) and their columns.
    names: tuple[str, ...]
    columns: tuple[str, ...]
    #: Whether rows must be re-keyed (other names, or columns not in model order).
    renamed: bool
    #: Columns that may hold NULL while the field rejects None.
    no_nulls: tuple[str, ...]
    #: Decimal columns (pydantic rejects NaN and infinities).
    finite: tuple[str, ...]
    #: Columns validated in one call each: (column, adapter of list[annotation]).
    validated: tuple[tuple[str, TypeAdapter[list[Any]]], ...]
    fields_set: frozenset[str]


_PLANS: dict[tuple[type, tuple[str, ...], int], _Plan | None] = {}


def _optional(annotation: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``T | None`` / ``Optional[T]``, else ``(annotation, False)``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, annotation is None or annotation is type(None) or annotation is Any


def _model_ok(model: type[BaseModel]) -> bool:
    """Models whose instances a field-by-field build reproduces (no hooks, plain config)."""
    decorators = model.__pydantic_decorators__
    if (
        decorators.validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.model_validators
    ):
        return False
    if model.__private_attributes__ or model.model_config.get("extra") == "allow":
        return False
    if getattr(model, "__pydantic_root_model__", False):
        return False
    if model.model_post_init is not BaseModel.model_post_init:
        return False
    return set(model.model_config) <= _HARMLESS_CONFIG


def _plan(model: type[BaseModel], shape: tuple[str, ...], types_: ColumnTypes) -> _Plan | None:
    if not _model_ok(model):
        return None
    by_source: dict[str, str] = {}
    for name, f in model.model_fields.items():
        alias = f.validation_alias if isinstance(f.validation_alias, str) else f.alias
        by_source[alias or name] = name
    if len(shape) != len(model.model_fields) or any(c not in by_source for c in shape):
        return None  # defaults or unknown columns: ordinary validation decides
    no_nulls: list[str] = []
    finite: list[str] = []
    validated: list[tuple[str, TypeAdapter[list[Any]]]] = []
    for column in shape:
        name = by_source[column]
        f = model.model_fields[name]
        base, optional = _optional(f.annotation)
        driver, nullable = types_.get(column, (None, True))
        exact = (
            driver is not None
            and driver is base
            and base in _IDENTITY
            and not f.metadata
            and f.discriminator is None
        )
        if exact:
            if nullable and not optional:
                no_nulls.append(column)
            if base is decimal.Decimal:
                finite.append(column)
            continue
        if f.discriminator is not None:
            return None
        annotated: Any = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        validated.append((column, TypeAdapter(list[annotated])))
    names = tuple(model.model_fields)
    source = {name: column for column, name in by_source.items()}
    columns = tuple(source[n] for n in names)
    return _Plan(
        names,
        columns,
        names != shape or columns != shape,
        tuple(no_nulls),
        tuple(finite),
        tuple(validated),
        frozenset(names),
    )


def build_models(
    model: type[M], rows: Sequence[dict[str, Any]], types_: ColumnTypes
) -> list[M] | None:
    """Instances of ``model`` from ``rows`` (fresh dicts keyed by source names, all with the
    same keys; values may be replaced in place), equal to ``model_validate`` of each row — or
    ``None`` when that cannot be shown without validating every value."""
    if not rows:
        return []
    shape = tuple(rows[0])
    key = (model, shape, id(types_))
    if key in _PLANS:
        plan = _PLANS[key]
    else:
        plan = _PLANS[key] = _plan(model, shape, types_)
    if plan is None:
        return None
    paused = gc.isenabled() and len(rows) >= 1000
    if paused:  # thousands of acyclic objects: collections would only rescan them
        gc.disable()
    try:
        return _build(model, rows, plan)
    finally:
        if paused:
            gc.enable()


def _build(model: type[M], rows: Sequence[dict[str, Any]], plan: _Plan) -> list[M] | None:
    for column in plan.no_nulls:
        if any(r[column] is None for r in rows):
            return None
    for column in plan.finite:
        # filter(None, …) drops NULLs and zeros (finite); NaN and infinities are truthy.
        if not all(map(_is_finite, filter(None, [r[column] for r in rows]))):
            return None
    done: list[tuple[str, list[Any]]] = []
    for column, adapter in plan.validated:
        try:
            done.append((column, adapter.validate_python([r[column] for r in rows])))
        except ValidationError:
            return None
    for column, values in done:
        for row, value in zip(rows, values, strict=True):
            row[column] = value
    dicts: Sequence[dict[str, Any]] = rows
    if plan.renamed:
        pick = operator.itemgetter(*plan.columns)
        names = plan.names
        if len(names) == 1:
            dicts = [{names[0]: r[plan.columns[0]]} for r in rows]
        else:
            dicts = [dict(zip(names, pick(r), strict=True)) for r in rows]
    return _construct(model, dicts, plan.fields_set)


_is_finite = decimal.Decimal.is_finite


def _construct(model: type[M], dicts: Sequence[dict[str, Any]], names: frozenset[str]) -> list[M]:
    new = object.__new__
    put = object.__setattr__
    out: list[M] = []
    append = out.append
    for d in dicts:
        obj = new(model)
        put(obj, "__dict__", d)
        put(obj, "__pydantic_fields_set__", set(names))
        put(obj, "__pydantic_extra__", None)
        put(obj, "__pydantic_private__", None)
        append(obj)
    return out


__all__ = ["ColumnTypes", "build_models"]
