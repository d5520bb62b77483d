"""Build read models from rows whose column types the driver already guarantees.

A backend that decodes every column into one Python type (asyncpg: ``int4`` → ``int``,
``timestamptz`` → aware ``datetime`` …) can tell the repo so (``trusted_types(coll)``: source
column → that type, or ``None`` when the values vary, and whether NULL can occur).  When a
model field's annotation is exactly that type — no constraints, validators or config that
would change or reject a value — pydantic's validation of the value is the identity, so the
value is kept as decoded.  Every other field (nested models, lists, enums, constrained types
…) is validated column-wise in one pydantic call per column — except flat lists of such
types and nested models of only such fields (JSON objects), which C-level passes over the
column check and keep or build directly — and instances are then built without a per-row
validator call.

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
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
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
    #: Columns validated in one call each: (column, adapter of list[annotation], and for
    #: some annotations a shortcut giving the validated values, or None when it cannot).
    validated: tuple[tuple[str, TypeAdapter[list[Any]], _Shortcut | None], ...]
    fields_set: frozenset[str]


#: A column's values → the values validation would give, or None when not shown so.
_Shortcut = Callable[[list[Any]], list[Any] | None]
_NONE: frozenset[type] = frozenset({type(None)})
_NOTHING: frozenset[type] = frozenset()

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
    validated: list[tuple[str, TypeAdapter[list[Any]], _Shortcut | None]] = []
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
        shortcut = None if f.metadata else _flat_list(base, optional) or _flat_model(base, optional)
        validated.append((column, TypeAdapter(list[annotated]), shortcut))
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


def _flat_list(base: Any, optional: bool) -> _Shortcut | None:
    """For ``list[T]`` (``T`` an identity type or ``T | None``): the column itself when its
    values are lists of exactly such items — validation would only copy each list, and the
    rows' own lists are fresh."""
    if typing.get_origin(base) is not list or len(typing.get_args(base)) != 1:
        return None
    item, item_optional = _optional(typing.get_args(base)[0])
    if item not in _IDENTITY or item is decimal.Decimal:  # Decimal: NaN is rejected
        return None
    outer = frozenset({list}) | (_NONE if optional else _NOTHING)
    inner = frozenset({item}) | (_NONE if item_optional else _NOTHING)

    def kept(values: list[Any]) -> list[Any] | None:
        if set(map(type, values)) <= outer and (
            set(map(type, chain.from_iterable(filter(None, values)))) <= inner
        ):
            return values
        return None

    return kept


def _flat_model(base: Any, optional: bool) -> _Shortcut | None:
    """For a nested model whose fields are all identity-typed (JSON objects such as
    ``{"city": …, "level": …}``): instances built on the column's own dicts when each holds
    exactly the fields, in field order, with exactly typed values — what validation would
    make of it, every field set."""
    if not (isinstance(base, type) and issubclass(base, BaseModel)) or not _model_ok(base):
        return None
    if base.__pydantic_generic_metadata__["parameters"]:
        return None
    kinds: list[frozenset[type]] = []
    for name, f in base.model_fields.items():
        if f.alias not in (None, name) or f.validation_alias not in (None, name):
            return None
        inner, inner_optional = _optional(f.annotation)
        if inner not in _IDENTITY or inner is decimal.Decimal or f.metadata:
            return None
        kinds.append(frozenset({inner}) | (_NONE if inner_optional else _NOTHING))
    model: type[BaseModel] = base
    names = tuple(base.model_fields)
    every = frozenset(names)
    getters = [operator.itemgetter(n) for n in names]
    outer = frozenset({dict}) | (_NONE if optional else _NOTHING)

    def built(values: list[Any]) -> list[Any] | None:
        if not set(map(type, values)) <= outer:
            return None
        dicts = [v for v in values if v is not None]
        if not set(map(tuple, dicts)) <= {names}:
            return None
        for get, allowed in zip(getters, kinds, strict=True):
            if not set(map(type, map(get, dicts))) <= allowed:
                return None
        made = iter(_construct(model, dicts, every))
        return [None if v is None else next(made) for v in values]

    return built


def build_models(
    model: type[M], rows: Sequence[dict[str, Any]], types_: ColumnTypes
) -> list[M] | None:
    """Instances of ``model`` from ``rows`` (fresh dicts keyed by source names, all with the
    same keys; values may be replaced in place, and lists nobody else holds may end up in the
    models), equal to ``model_validate`` of each row — or ``None`` when that cannot be shown
    without validating every value."""
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
    for column, adapter, shortcut in plan.validated:
        values = [r[column] for r in rows]
        made = None if shortcut is None else shortcut(values)
        if made is None:
            try:
                made = adapter.validate_python(values)
            except ValidationError:
                return None
        if made is not values:
            done.append((column, made))
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
    """Instances of ``model`` holding ``dicts`` as they are: ``model_construct`` without its
    per-row Python, every slot filled by one C-level ``map`` pass over all rows."""
    n = len(dicts)
    out: list[M] = list(map(object.__new__, repeat(model, n)))
    deque(map(SET_DICT, out, dicts), 0)
    deque(map(SET_FIELDS_SET, out, map(set, repeat(names, n))), 0)
    deque(map(SET_EXTRA, out, repeat(None, n)), 0)
    deque(map(SET_PRIVATE, out, repeat(None, n)), 0)
    return out


# BaseModel's own slot descriptors: what ``object.__setattr__`` ends up calling, minus the
# attribute lookup on every row (the PostgreSQL inspector builds its specs with them too).
SET_DICT = BaseModel.__dict__["__dict__"].__set__
SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


__all__ = ["ColumnTypes", "build_models"]
