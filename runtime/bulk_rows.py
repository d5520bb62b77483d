"""Create models and stored rows for many items at once (``bulk_create``).

Equal to validating each item with ``create_model.model_validate`` and converting it with
:func:`~xrepo.runtime.repo_plan.source_row`, but in one pydantic call per batch for both
steps; :func:`plain` only walks the columns whose dumped values can need it.  A batch that
fails validation returns ``None`` so the caller re-validates item by item and raises the
very error a single ``create`` would.
"""

from __future__ import annotations

import enum
import functools
import gc
import types
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from .query.fields import _PLAIN, plain


@contextmanager
def gc_paused(n: int) -> Iterator[None]:
    """Pause the cyclic collector while building ``n`` (≥ 1000) acyclic objects: its
    collections would only rescan them.  Tasks that run during an ``await`` inside the pause
    run paused too: hold it across one only for a bounded round trip on a connection already
    held (the bulk COPY), never across waiting for one."""
    paused = n >= 1000 and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@functools.cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def validate_creates(model: type[BaseModel], items: Sequence[Any]) -> list[BaseModel] | None:
    """``items`` (plain dicts) as ``model`` instances in one call, or None when one fails."""
    try:
        return _adapter(model).validate_python(items)
    except ValidationError:
        return None


def _is_plain(annotation: Any, seen: frozenset[type] = frozenset()) -> bool:
    """Whether ``model_dump`` of a value of ``annotation`` is already what :func:`plain`
    makes of it (plain scalars, lists, dicts and nested models of those)."""
    if annotation is None or annotation is type(None):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return all(_is_plain(a, seen) for a in args)
    if origin is Literal:
        return all(type(a) in (str, int) for a in args)
    if origin is list:
        return len(args) == 1 and _is_plain(args[0], seen)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _is_plain(args[1], seen)
    if origin is typing.Annotated:
        return _is_plain(args[0], seen)
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return False
        if issubclass(annotation, BaseModel):
            if annotation in seen:
                return False
            inner = seen | {annotation}
            return all(_is_plain(f.annotation, inner) for f in annotation.model_fields.values())
        return annotation in _PLAIN
    return False


@functools.cache
def _layout(model: type[BaseModel]) -> tuple[dict[str, str], tuple[str, ...]]:
    """(python name → dumped key, dumped keys whose values need :func:`plain`)."""
    keys = {name: f.alias or name for name, f in model.model_fields.items()}
    walk = tuple(keys[n] for n, f in model.model_fields.items() if not _is_plain(f.annotation))
    return keys, walk


def source_rows(model: type[BaseModel], made: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """:func:`~xrepo.runtime.repo_plan.source_row` of every instance (all of ``model``)."""
    keys, walk = _layout(model)
    every = frozenset(keys)
    rows: list[dict[str, Any]] = _adapter(model).dump_python(list(made), by_alias=True)
    for obj, row in zip(made, rows, strict=True):
        given = obj.__pydantic_fields_set__
        if len(given) != len(every):
            for name in every - given:
                key = keys[name]
                if key in row and row[key] is None:
                    del row[key]
        for key in walk:
            value = row.get(key)
            if value is not None and type(value) not in _PLAIN:
                row[key] = plain(value)
    return rows


def plain_mappings(items: Sequence[Any]) -> bool:
    """Whether every item is a plain ``dict`` (validated in one batch)."""
    return all(type(i) is dict for i in items)


__all__ = ["gc_paused", "plain_mappings", "source_rows", "validate_creates"]
