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
import operator
import types
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from .backends.readonly import IMMUTABLE_TYPES
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


def _is_plain(annotation: Any, seen: frozenset[type] = frozenset(), *, dumped: bool = True) -> bool:
    """Whether ``model_dump`` of a value of ``annotation`` is already what :func:`plain`
    makes of it (plain scalars, lists, dicts and nested models of those) — or, with
    ``dumped=False``, the value itself is (no nested models)."""
    if annotation is None or annotation is type(None):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return all(_is_plain(a, seen, dumped=dumped) for a in args)
    if origin is Literal:
        return all(type(a) in (str, int) for a in args)
    if origin is list:
        return len(args) == 1 and _is_plain(args[0], seen, dumped=dumped)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _is_plain(args[1], seen, dumped=dumped)
    if origin is typing.Annotated:
        return _is_plain(args[0], seen, dumped=dumped)
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return False
        if issubclass(annotation, BaseModel):
            if annotation in seen or not dumped:
                return False
            inner = seen | {annotation}
            return all(_is_plain(f.annotation, inner) for f in annotation.model_fields.values())
        return annotation in _PLAIN
    return False


@dataclass(frozen=True, slots=True)
class _Layout:
    #: python name → dumped key
    keys: dict[str, str]
    #: dumped keys whose dumped values need :func:`plain`
    walk: tuple[str, ...]
    #: whether an instance's ``__dict__`` is its dump but for nested models: no
    #: serializer, computed field or extra field anywhere in the model's schema
    as_held: bool
    #: (dumped key, dumper of a column of its values): fields holding nested models
    nested: tuple[tuple[str, TypeAdapter[list[Any]]], ...]
    #: … and fields holding anything mutable (lists, dicts, models): dumped to copies
    mutable: tuple[tuple[str, TypeAdapter[list[Any]]], ...]


@functools.cache
def _layout(model: type[BaseModel]) -> _Layout:
    fields = model.model_fields
    keys = {name: f.alias or name for name, f in fields.items()}
    walk = tuple(keys[n] for n, f in fields.items() if not _is_plain(f.annotation))
    as_held = not _serializes(model.__pydantic_core_schema__)
    dumpers = {
        n: TypeAdapter(list[f.annotation | None])  # type: ignore[name-defined]
        for n, f in fields.items()
        if as_held and not _immutable(f.annotation)
    }
    nested = tuple(
        (keys[n], dumper)
        for n, dumper in dumpers.items()
        if not _is_plain(fields[n].annotation, dumped=False)
    )
    mutable = tuple((keys[n], dumper) for n, dumper in dumpers.items())
    return _Layout(keys, walk, as_held, nested, mutable)


def _immutable(annotation: Any) -> bool:
    """Whether every value of ``annotation`` is immutable (shared safely between rows and
    the caller's models)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return all(_immutable(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return True
    if origin is typing.Annotated:
        return _immutable(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return True
    return annotation is None or annotation in IMMUTABLE_TYPES


def _serializes(schema: Any) -> bool:
    """Whether a core schema customises dumping anywhere (serializers, computed fields,
    extra fields, exclusions) — then only pydantic's own dump is ``model_dump``."""
    if isinstance(schema, dict):
        if schema.get("extra_behavior") == "allow" or schema.get("computed_fields"):
            return True
        if "serialization" in schema or schema.get("serialization_exclude"):
            return True
        return any(_serializes(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_serializes(v) for v in schema)
    return False


def _held_columns(layout: _Layout, made: Sequence[BaseModel], copy: bool) -> dict[str, list[Any]]:
    """Every field's values as ``model_dump(by_alias=True)`` gives them, column by column
    (dumped key → values; ``layout.as_held``): one C-level pass over the instances'
    ``__dict__`` per column instead of pydantic's serializer walking every model; nested
    models — and with ``copy`` (the instances are the caller's) every list, dict or model —
    dumped one column per pydantic call."""
    held = [m.__dict__ for m in made]
    columns = {key: list(map(operator.itemgetter(name), held)) for name, key in layout.keys.items()}
    for key, adapter in layout.mutable if copy else layout.nested:
        columns[key] = adapter.dump_python(columns[key], by_alias=True)
    return columns


def _dumped(model: type[BaseModel], made: Sequence[BaseModel], copy: bool) -> list[dict[str, Any]]:
    """``model_dump(by_alias=True)`` of every instance (with ``copy``, sharing no list or
    dict with them)."""
    layout = _layout(model)
    if not layout.as_held or not layout.keys:
        dumped: list[dict[str, Any]] = _adapter(model).dump_python(list(made), by_alias=True)
        return dumped
    columns = _held_columns(layout, made, copy)
    return ColumnRows(list(columns), list(columns.values())).rows()


def source_rows(
    model: type[BaseModel], made: Sequence[BaseModel], *, copy: bool = False
) -> list[dict[str, Any]]:
    """:func:`~xrepo.runtime.repo_plan.source_row` of every instance (all of ``model``);
    ``copy``: no row shares a list or dict with the instances (they are the caller's)."""
    layout = _layout(model)
    keys = layout.keys
    every = frozenset(keys)
    rows = _dumped(model, made, copy)
    for obj, row in zip(made, rows, strict=True):
        given = obj.__pydantic_fields_set__
        if len(given) != len(every):
            for name in every - given:
                key = keys[name]
                if key in row and row[key] is None:
                    del row[key]
        for key in layout.walk:
            value = row.get(key)
            if value is not None and type(value) not in _PLAIN:
                row[key] = plain(value)
    return rows


class ColumnRows(Sequence[dict[str, Any]]):
    """Rows that all have the same keys, held column by column.

    A backend that writes columns (PostgreSQL's COPY) reads :attr:`keys` and
    :attr:`columns` and never builds a dict per row; any other reader sees an ordinary
    sequence of dicts, built once on first access."""

    __slots__ = ("_rows", "columns", "keys")

    def __init__(self, keys: list[str], columns: list[list[Any]]) -> None:
        self.keys = keys
        self.columns = columns
        self._rows: list[dict[str, Any]] | None = None

    def fill(self, key: str, value: Any) -> None:
        """``row.setdefault(key, value)`` for every row."""
        if key not in self.keys:
            self.keys.append(key)
            self.columns.append([value] * len(self))
            self._rows = None

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            keys = self.keys
            self._rows = [
                dict(zip(keys, values, strict=True)) for values in zip(*self.columns, strict=True)
            ]
        return self._rows

    def __len__(self) -> int:
        return len(self.columns[0])

    @typing.overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @typing.overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.rows()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows())


def source_columns(
    model: type[BaseModel], made: Sequence[BaseModel], *, copy: bool = False
) -> ColumnRows | None:
    """:func:`source_rows` column by column — or None when the rows would not all have the
    same keys (instances with different fields set), the model dumps otherwise than it
    holds its fields, or no column is written."""
    layout = _layout(model)
    if not made or not layout.as_held:
        return None
    given = made[0].__pydantic_fields_set__
    if any(m.__pydantic_fields_set__ != given for m in made):
        return None
    columns = _held_columns(layout, made, copy)
    for name, key in layout.keys.items():
        if name not in given:  # left unset: omitted where None, so defaults apply
            nulls = columns[key].count(None)
            if nulls == len(made):
                del columns[key]
            elif nulls:
                return None
    for key in layout.walk:
        if key in columns:
            columns[key] = [v if v is None or type(v) in _PLAIN else plain(v) for v in columns[key]]
    if not columns:
        return None
    return ColumnRows(list(columns), list(columns.values()))


def plain_mappings(items: Sequence[Any]) -> bool:
    """Whether every item is a plain ``dict`` (validated in one batch)."""
    return all(type(i) is dict for i in items)


__all__ = [
    "ColumnRows",
    "gc_paused",
    "plain_mappings",
    "source_columns",
    "source_rows",
    "validate_creates",
]
