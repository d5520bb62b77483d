"""What the query layer knows about a model: names, kinds and value coercion per field.

Derived once per model class from ``model_fields`` (no separate schema): Python name ↔ source
name (alias), the leaf kind the compilers need, nested models for dotted paths, and how a filter
value is coerced to the field's type.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import functools
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import QueryError
from ..schema import LogicalType, TypeSpec
from .ast import FieldRef, Kind

#: Checked in order: bool before int, datetime before date.
_SCALARS: tuple[tuple[type, Kind], ...] = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (decimal.Decimal, "decimal"),
    (str, "str"),
    (datetime.datetime, "datetime"),
    (datetime.date, "date"),
    (datetime.time, "time"),
    (datetime.timedelta, "timedelta"),
    (uuid.UUID, "uuid"),
    (bytes, "bytes"),
)
_KIND_TYPE: dict[Kind, type] = {k: t for t, k in _SCALARS}
#: Kinds whose values may be written as strings in a filter ("2024-01-01" for a date).
_FROM_STR: frozenset[Kind] = frozenset({"decimal", "datetime", "date", "time", "timedelta", "uuid"})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    ref: FieldRef
    #: Python type of the leaf (of one item for arrays); ``object`` when untyped.
    py_type: Any
    #: Nested model fields (objects and arrays of objects).
    children: FieldTable | None = None
    #: Enum class of the leaf, when it is one (filter values are checked against it).
    enum_type: type[enum.Enum] | None = None

    def coerce(self, value: Any) -> Any:
        """A filter value converted to the leaf's type (:class:`QueryError` names both)."""
        if value is None:
            return None
        kind = self.ref.kind
        if self.enum_type is not None:
            try:
                return self.enum_type(value).value
            except ValueError:
                allowed = ", ".join(repr(m.value) for m in self.enum_type)
                raise QueryError(
                    f"field {self.ref.name!r}: {value!r} is not one of {allowed}"
                ) from None
        if kind in ("any", "object"):
            return value
        target = _KIND_TYPE[kind]
        if kind == "float" and type(value) is int:
            return value
        if kind == "decimal" and type(value) in (int, float):
            return decimal.Decimal(str(value))
        if isinstance(value, target) and not (kind == "int" and isinstance(value, bool)):
            if kind == "date" and isinstance(value, datetime.datetime):
                return _bad(self.ref.name, value, kind)
            return value
        if isinstance(value, str) and kind in _FROM_STR:
            try:
                return _adapter(target).validate_python(value)
            except ValidationError:
                return _bad(self.ref.name, value, kind)
        return _bad(self.ref.name, value, kind)


def _bad(name: str, value: Any, kind: str) -> Any:
    raise QueryError(
        f"field {name!r}: value {value!r} ({type(value).__name__}) is not a valid {kind}"
    )


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional``; a union of several types becomes ``object``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return object
            tp = args[0]
        else:
            return tp


_PYDANTIC_TEMPORAL: dict[str, Kind] = {
    "AwareDatetime": "datetime",
    "NaiveDatetime": "datetime",
    "PastDatetime": "datetime",
    "FutureDatetime": "datetime",
    "PastDate": "date",
    "FutureDate": "date",
}


def _scalar_kind(tp: Any) -> tuple[Kind, type[enum.Enum] | None]:
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            values = [m.value for m in tp]
            if values and all(isinstance(v, str) for v in values):
                return "str", tp
            if values and all(type(v) is int for v in values):
                return "int", tp
            return "any", tp
        for base, kind in _SCALARS:
            if issubclass(tp, base):
                return kind, None
        if tp.__module__ == "pydantic.networks":
            return "str", None
        # pydantic's marker classes (NaiveDatetime, AwareDatetime, PastDate, ...) are not
        # subclasses of datetime/date, yet validate to them; generated models use them.
        if tp.__module__ == "pydantic.types" and tp.__name__ in _PYDANTIC_TEMPORAL:
            return _PYDANTIC_TEMPORAL[tp.__name__], None
    if typing.get_origin(tp) is typing.Literal:
        literals = typing.get_args(tp)
        if all(isinstance(v, str) for v in literals):
            return "str", None
        if all(type(v) is int for v in literals):
            return "int", None
    return "any", None


def _describe(name: str, path: tuple[str, ...], annotation: Any, through: bool) -> FieldInfo:
    tp = _unwrap(annotation)
    array = False
    origin = typing.get_origin(tp)
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        array = True
        args = tuple(a for a in typing.get_args(tp) if a is not Ellipsis)
        tp = _unwrap(args[0]) if len(args) == 1 else object
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        ref = FieldRef(path, name, "object", array=array, through_array=through)
        return FieldInfo(ref, tp, children=fields_of(tp))
    kind, enum_type = _scalar_kind(tp)
    py_type = _KIND_TYPE.get(kind, object) if enum_type is None else enum_type
    ref = FieldRef(path, name, kind, array=array, through_array=through)
    return FieldInfo(ref, py_type, enum_type=enum_type)


class FieldTable:
    """The fields of one model class; :meth:`resolve` turns a dotted Python path into a leaf."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.by_name: dict[str, FieldInfo] = {}
        self.by_source: dict[str, str] = {}
        for py_name, f in model.model_fields.items():
            source = py_name if f.alias is None else f.alias  # "" is a valid source name
            self.by_name[py_name] = _describe(py_name, (source,), f.annotation, False)
            self.by_source[source] = py_name

    def source_name(self, name: str) -> str:
        return self.resolve(name).ref.path[0]

    def resolve(self, dotted: str) -> FieldInfo:
        head, _, rest = dotted.partition(".")
        info = self.by_name.get(head)
        if info is None and head in self.by_source:
            info = self.by_name[self.by_source[head]]
        if info is None:
            # Source names may themselves contain dots ("First.Name").
            if dotted in self.by_source:
                return self.by_name[self.by_source[dotted]]
            known = ", ".join(sorted(self.by_name))
            raise QueryError(
                f"unknown field {dotted!r} for {self.model.__name__} (known fields: {known})"
            )
        return info if not rest else _descend(info, rest, dotted)


def _descend(info: FieldInfo, rest: str, dotted: str) -> FieldInfo:
    ref = info.ref
    if info.children is not None:
        child = info.children.resolve(rest)
        cref = child.ref
        through = ref.array or ref.through_array or cref.through_array
        new = FieldRef(ref.path + cref.path, dotted, cref.kind, cref.array, through)
        return FieldInfo(new, child.py_type, child.children, child.enum_type)
    if ref.kind == "any":
        # Untyped values (JSON, dict, unions): any sub-path, compared without coercion.
        path = ref.path + tuple(rest.split("."))
        return FieldInfo(FieldRef(path, dotted, "any", False, ref.through_array), object)
    raise QueryError(f"field {ref.name!r} ({ref.kind}) has no nested field {rest!r} ({dotted!r})")


@functools.cache
def fields_of(model: type[BaseModel]) -> FieldTable:
    """The (cached) field table of ``model``."""
    return FieldTable(model)


def element_info(info: FieldInfo) -> FieldInfo:
    """The item of an array of scalars, as a field with the empty path (for ``$elemMatch``)."""
    ref = FieldRef((), info.ref.name, info.ref.kind)
    return FieldInfo(ref, info.py_type, None, info.enum_type)


def plain(value: Any) -> Any:
    """A model-dumped value reduced to the plain values backends store and compare."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, BaseModel):
        return plain(value.model_dump(by_alias=True))
    if isinstance(value, tuple(_KIND_TYPE.values())):
        return value
    return str(value)


_PLAIN: frozenset[type] = frozenset(_KIND_TYPE.values())

__all__ = ["FieldInfo", "FieldTable", "element_info", "fields_of", "plain"]


def scalar_type(kind: Kind) -> TypeSpec:
    """The snapshot type of a field kind; nested objects and untyped values are unknown."""
    return TypeSpec(kind=LogicalType.UNKNOWN if kind in ("object", "any") else LogicalType(kind))
