"""JSON Schema documents (draft 7 / 2020-12) as a source kind: ``jsonschema``.

The schema is *read* by datamodel-code-generator's ``JsonSchemaParser``: it resolves ``$ref``
(local, ``definitions`` / ``$defs`` and other files relative to the document), merges ``allOf``
into base classes, turns ``anyOf`` / ``oneOf`` and type lists into unions, maps ``format`` to
types and lifts enums and inline objects into models. We only translate its parse results (the
``DataModel`` list with typed fields) into the snapshot; nothing here resolves a reference.

Mapping:

- The root schema (when it is an object; named by its ``title``, else the file name's stem) and
  each object definition of the root document's ``$defs`` / ``definitions`` become a collection
  of kind ``"collection"``: a JSON Schema describes documents, and the schema file is not where
  the data lives (so no ``path`` / ``file_format``). Definitions in *other* files, inline objects
  and non-object definitions only appear where they are used.
- A referenced object becomes a nested ``object`` type with its fields, an enum an ``enum`` type
  (values in declared order), ``additionalProperties`` an object with ``map_values``, an array
  an ``array`` with ``items``, ``anyOf`` / ``oneOf`` a ``union``; a ``null`` member or type makes
  the field nullable instead of a variant. ``required`` is JSON Schema's ``required``.
- A reference back into a type that is being expanded (a tree, a linked list) would nest for
  ever: the inner occurrence is typed ``json`` and a warning names the field.
- ``format``: date, date-time (timezone-aware, as RFC 3339 requires), time, duration, uuid →
  their logical types; email, uri, ipv4, ipv6 → ``str`` with that semantic.
"""

from __future__ import annotations

import json
import warnings as pywarnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    LogicalType,
    Semantic,
    Snapshot,
    SourceInfo,
    TypeSpec,
)

if TYPE_CHECKING:
    from datamodel_code_generator.model.base import DataModel, DataModelFieldBase
    from datamodel_code_generator.types import DataType

__all__ = ["inspect_jsonschema", "read_root_fields"]

_SCALARS: dict[str, TypeSpec] = {}


def _scalar(kind: LogicalType, *names: str, **extra: Any) -> None:
    for type_name in names:
        _SCALARS[type_name] = TypeSpec(kind=kind, **extra)


# datamodel-code-generator's Python type names (pydantic v2 output) → logical types
_scalar(LogicalType.STR, "str", "constr", "StrictStr", "SecretStr", "Base64Str", "ULID", "Path")
_scalar(LogicalType.STR, "IPv4Network", "IPv6Network", "IPvAnyNetwork", "StringConstraints")
_scalar(LogicalType.INT, "int", "conint", "StrictInt", "PositiveInt", "NegativeInt")
_scalar(LogicalType.INT, "NonNegativeInt", "NonPositiveInt")
_scalar(LogicalType.FLOAT, "float", "confloat", "StrictFloat", "PositiveFloat", "NegativeFloat")
_scalar(LogicalType.FLOAT, "NonNegativeFloat", "NonPositiveFloat")
_scalar(LogicalType.DECIMAL, "Decimal", "condecimal")
_scalar(LogicalType.BOOL, "bool", "StrictBool")
_scalar(LogicalType.BYTES, "bytes", "conbytes", "StrictBytes", "Base64Bytes", "EncodedBytes")
_scalar(LogicalType.DATE, "date", "PastDate", "FutureDate")
_scalar(LogicalType.DATETIME, "datetime", "PastDatetime", "FutureDatetime")
_scalar(LogicalType.DATETIME, "AwareDatetime", tz_aware=True)
_scalar(LogicalType.DATETIME, "NaiveDatetime", tz_aware=False)
_scalar(LogicalType.TIME, "time")
_scalar(LogicalType.TIMEDELTA, "timedelta")
_scalar(LogicalType.UUID, "UUID", "UUID1", "UUID3", "UUID4", "UUID5")
_scalar(LogicalType.JSON, "Any", "object")
# MongoDB ``$jsonSchema`` validators (mongo_validator.py) spell objectId as customTypePath
_scalar(LogicalType.OBJECT_ID, "ObjectId")
_scalar(LogicalType.NULL, "None")

_SEMANTIC: dict[str, Semantic] = {
    "EmailStr": "email",
    "NameEmail": "email",
    "AnyUrl": "url",
    "AnyHttpUrl": "url",
    "HttpUrl": "url",
    "IPv4Address": "ipv4",
    "IPv6Address": "ipv6",
    "IPvAnyAddress": "ip",
}

_DEFS_SEGMENTS = ("$defs", "definitions")


def inspect_jsonschema(path: Path, *, name: str) -> Snapshot:
    """Snapshot the object types a JSON Schema document declares (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InspectError(f"{path}: JSON Schema file does not exist; check the path")
    results = _parse(path.resolve(), str(path))
    reader = _Reader({m.reference.path: m for m in results})
    collections: dict[str, CollectionSpec] = {}
    for model in results:
        collection_name = _collection_name(model, path)
        if collection_name is None or not _is_object_model(model):
            continue
        fields = reader.fields_of(model, stack=(model.reference.path,), owner=collection_name)
        spec = CollectionSpec(
            name=collection_name,
            kind="collection",
            fields=fields,
            comment=_text(getattr(model, "description", None)),
        )
        known = collections.setdefault(collection_name, spec)
        # the same definition reached through two spellings of its pointer (``my%20def``) is
        # one collection; two different schemas under one name are a conflict to fix
        if known != spec:
            raise InspectError(
                f"{path}: two different object schemas are both named {collection_name!r} "
                "(the root title and a definition?); rename one of them"
            )
    return Snapshot(
        source=SourceInfo(name=name, kind="jsonschema"),
        collections=tuple(sorted(collections.values(), key=lambda c: c.name)),
        warnings=tuple(sorted(set(reader.warnings))),
    )


def read_root_fields(text: str, *, label: str) -> tuple[tuple[FieldSpec, ...], list[str]]:
    """The fields of the root object of a JSON Schema given as text (no other documents),
    and the reader's warnings; ``label`` names the schema in errors and warnings."""
    results = _parse(text, label)
    reader = _Reader({m.reference.path: m for m in results})
    for model in results:
        if _fragment(model) == ("", "") and _is_object_model(model):
            fields = reader.fields_of(model, stack=(model.reference.path,), owner=label)
            return fields, reader.warnings
    return (), reader.warnings


def _parse(source: Path | str, label: str) -> list[DataModel]:
    # Imported here: datamodel-code-generator is heavy and only this source kind needs it.
    from datamodel_code_generator.parser.jsonschema import JsonSchemaParser

    try:
        with pywarnings.catch_warnings():
            # its warnings are about code generation choices we do not make
            pywarnings.simplefilter("ignore")
            parser = JsonSchemaParser(source, use_schema_description=True)
            parser.parse_raw()
    except RecursionError:
        raise InspectError(f"{label}: JSON Schema nests too deeply to read") from None
    except Exception as exc:  # DCG raises its own Error, and ValueError/KeyError on odd input
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InspectError(f"{label}: cannot read JSON Schema: {message}") from None
    return list(parser.results)


def _fragment(model: DataModel) -> tuple[str, str]:
    """(document, JSON pointer) of a model's reference path: ``main.json#/$defs/A``."""
    document, _, pointer = model.reference.path.partition("#")
    return document, pointer


def _collection_name(model: DataModel, path: Path) -> str | None:
    """The collection a model stands for, or None when it is only a nested type."""
    document, pointer = _fragment(model)
    if document != path.name:
        return None
    if pointer == "":
        return _text(model.extra_template_data.get("title")) or path.stem
    segments = pointer.split("/")
    if len(segments) == 3 and segments[0] == "" and segments[1] in _DEFS_SEGMENTS:
        return unquote(segments[2]).replace("~1", "/").replace("~0", "~")
    return None


def _is_enum(model: DataModel) -> bool:
    from datamodel_code_generator.model.enum import Enum

    return isinstance(model, Enum)


def _is_root(model: DataModel) -> bool:
    return bool(getattr(model, "IS_ROOT_MODEL", False) or getattr(model, "IS_ALIAS", False))


def _is_object_model(model: DataModel) -> bool:
    return not _is_enum(model) and not _is_root(model)


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _plain(value: Any) -> Any:
    """DCG wraps string and null enum members; unwrap them to the JSON value."""
    from datamodel_code_generator.model.enum import EnumMemberValue, _NullEnumMemberValue

    if isinstance(value, EnumMemberValue):
        return value.value
    if isinstance(value, _NullEnumMemberValue):
        return None
    return value


@dataclass(slots=True)
class _Typed:
    spec: TypeSpec
    nullable: bool = False


@dataclass(slots=True)
class _Reader:
    models: Mapping[str, DataModel]
    warnings: list[str] = field(default_factory=list)

    def fields_of(
        self, model: DataModel, *, stack: tuple[str, ...], owner: str
    ) -> tuple[FieldSpec, ...]:
        merged: dict[str, FieldSpec] = {}
        for field_model in self._own_and_inherited(model, stack):
            spec = self._field(field_model, stack=stack, owner=owner)
            merged[spec.name] = spec  # an allOf part re-declaring a field overrides it in place
        return tuple(merged.values())

    def _own_and_inherited(
        self, model: DataModel, stack: tuple[str, ...]
    ) -> Iterable[DataModelFieldBase]:
        for base in model.base_classes:
            ref = base.reference
            target = self.models.get(ref.path) if ref is not None else None
            if target is not None and target.reference.path not in stack:
                yield from self._own_and_inherited(target, (*stack, target.reference.path))
        yield from model.fields

    def _field(self, f: DataModelFieldBase, *, stack: tuple[str, ...], owner: str) -> FieldSpec:
        field_name = f.original_name if f.original_name is not None else (f.name or "")
        typed = self._type(f.data_type, stack=stack, where=f"{owner}.{field_name}")
        default = None
        if f.has_default:
            default = json.dumps(_plain(f.default), sort_keys=True, ensure_ascii=False, default=str)
        description = f.extras.get("description") if isinstance(f.extras, dict) else None
        return FieldSpec(
            name=field_name,
            type=typed.spec,
            nullable=typed.nullable or f.nullable is True,
            required=bool(f.required),
            default=default,
            comment=_text(description),
        )

    def _type(self, dt: DataType, *, stack: tuple[str, ...], where: str) -> _Typed:
        typed = self._type_inner(dt, stack=stack, where=where)
        if dt.is_optional:
            typed.nullable = True
        return typed

    def _type_inner(self, dt: DataType, *, stack: tuple[str, ...], where: str) -> _Typed:
        if dt.reference is not None:
            return self._ref(dt.reference.path, stack=stack, where=where)
        if dt.is_list or dt.is_set or dt.is_sequence or dt.is_tuple or dt.is_frozen_set:
            items = self._members(dt.data_types, stack=stack, where=f"{where}[]")
            return _Typed(TypeSpec(kind=LogicalType.ARRAY, items=_as_spec(items)))
        if dt.is_dict or dt.is_mapping:
            values = self._members(dt.data_types, stack=stack, where=f"{where}{{}}")
            return _Typed(TypeSpec(kind=LogicalType.OBJECT, map_values=_as_spec(values)))
        if dt.literals:
            literal_values = [_plain(v) for v in dt.literals]
            return _enum(literal_values, where, self.warnings)
        if dt.data_types:
            return self._members(dt.data_types, stack=stack, where=where)
        return self._scalar(dt, where)

    def _members(self, members: list[DataType], *, stack: tuple[str, ...], where: str) -> _Typed:
        """A union of members; null members make it nullable, one member is not a union."""
        if not members:
            return _Typed(TypeSpec(kind=LogicalType.JSON))
        nullable = False
        variants: list[TypeSpec] = []
        for member in members:
            typed = self._type(member, stack=stack, where=where)
            nullable = nullable or typed.nullable
            if typed.spec.kind == LogicalType.NULL:
                nullable = True
            elif typed.spec not in variants:
                variants.append(typed.spec)
        if not variants:
            return _Typed(TypeSpec(kind=LogicalType.NULL), nullable=True)
        if len(variants) == 1:
            return _Typed(variants[0], nullable)
        return _Typed(TypeSpec(kind=LogicalType.UNION, variants=tuple(variants)), nullable)

    def _ref(self, ref_path: str, *, stack: tuple[str, ...], where: str) -> _Typed:
        target = self.models.get(ref_path)
        if target is None:
            self.warnings.append(f"{where}: reference {ref_path!r} did not resolve; typed as json")
            return _Typed(TypeSpec(kind=LogicalType.JSON))
        if ref_path in stack:
            self.warnings.append(
                f"{where}: recursive reference to {target.class_name} typed as json"
            )
            return _Typed(TypeSpec(kind=LogicalType.JSON))
        inner = (*stack, ref_path)
        if _is_enum(target):
            return _enum([_plain(f.default) for f in target.fields], where, self.warnings)
        if _is_root(target):
            if len(target.fields) != 1:
                return _Typed(TypeSpec(kind=LogicalType.JSON))
            root_field = target.fields[0]
            typed = self._type(root_field.data_type, stack=inner, where=where)
            typed.nullable = typed.nullable or root_field.nullable is True
            return typed
        nested = self.fields_of(target, stack=inner, owner=where)
        return _Typed(TypeSpec(kind=LogicalType.OBJECT, fields=nested))

    def _scalar(self, dt: DataType, where: str) -> _Typed:
        type_name = dt.type or ""
        semantic = _SEMANTIC.get(type_name)
        if semantic is not None:
            return _Typed(TypeSpec(kind=LogicalType.STR, semantic=semantic))
        spec = _SCALARS.get(type_name)
        if spec is None:
            self.warnings.append(f"{where}: type {type_name!r} has no logical type; typed unknown")
            return _Typed(TypeSpec(kind=LogicalType.UNKNOWN))
        kwargs = dt.kwargs or {}
        if spec.kind == LogicalType.STR and isinstance(kwargs.get("max_length"), int):
            spec = spec.model_copy(update={"max_length": kwargs["max_length"]})
        elif spec.kind == LogicalType.DECIMAL:
            digits, places = kwargs.get("max_digits"), kwargs.get("decimal_places")
            spec = spec.model_copy(
                update={
                    "precision": digits if isinstance(digits, int) else None,
                    "scale": places if isinstance(places, int) else None,
                }
            )
        return _Typed(spec, nullable=spec.kind == LogicalType.NULL)


def _as_spec(typed: _Typed) -> TypeSpec:
    """An item or map value that may be null: fold null into a union with ``null``."""
    if typed.nullable and typed.spec.kind != LogicalType.NULL:
        return typed.spec.or_null()
    return typed.spec


def _enum(values: list[Any], where: str, warnings: list[str]) -> _Typed:
    nullable = any(v is None for v in values)
    kept = [v for v in values if v is not None]
    if kept and all(isinstance(v, str) for v in kept):
        return _Typed(TypeSpec(kind=LogicalType.ENUM, enum_values=tuple(kept)), nullable)
    if kept and all(isinstance(v, int) and not isinstance(v, bool) for v in kept):
        return _Typed(TypeSpec(kind=LogicalType.ENUM, enum_values=tuple(kept)), nullable)
    if kept and all(isinstance(v, bool) for v in kept):
        return _Typed(TypeSpec(kind=LogicalType.BOOL), nullable)
    warnings.append(f"{where}: enum of mixed or non-scalar values {kept!r} typed as json")
    return _Typed(TypeSpec(kind=LogicalType.JSON), nullable)
