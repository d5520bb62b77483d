"""Snapshot → pydantic models at run time: the dynamic twin of the generated ``models.py``.

:class:`ModelGenerator` makes the same decisions as the code generator's plan
(``xrepo.codegen.plan``): the same class and field names (:mod:`.naming`), the same type for
every logical type, the same ``| None = None`` rules for read, create, update and nested models,
the same literal defaults (:mod:`.defaults`) and ``pydantic.Field`` constraints. A test proves
that both paths give the same JSON Schema and the same accept/reject decisions. Keep
:meth:`ModelGenerator._map_type` in step with ``plan._CollectionPlanner.map_type``.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import ipaddress
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pydantic
from pydantic.fields import FieldInfo

from .defaults import literal_default_value
from .model import XObjPrototype
from .naming import NameKey, allocate, field_names
from .schema import DATABASE_WRITTEN, CollectionSpec, FieldSpec, LogicalType, Snapshot, TypeSpec

_PRESENT_KINDS = frozenset({"table", "view", "materialized_view"})
Mode = Literal["read", "create", "update", "nested"]


def field_rule(
    f: FieldSpec,
    mode: str,
    *,
    kind: str,
    primary_key: frozenset[str],
    constraints_on_read: bool,
) -> tuple[bool, bool] | None:
    """``(optional, constrain)`` for field ``f`` in a model of ``mode`` ("read", "create",
    "update", "nested"), or ``None`` when the model leaves it out — the rules the generated
    ``models.py`` (``plan.model_class``) and these dynamic models share.  A create field with a
    literal default is optional as its nullability says, whatever this returns."""
    if mode in ("create", "update") and f.generated in DATABASE_WRITTEN:
        return None  # the database refuses writers' values here
    if mode == "read":
        present = kind in _PRESENT_KINDS or f.required
        return f.nullable or not present, constraints_on_read
    if mode == "nested":
        return f.nullable or not f.required, True
    if mode == "create":
        server_made = (
            f.generated is not None
            or f.default is not None
            or (f.name in primary_key and f.type.kind in (LogicalType.OBJECT_ID, LogicalType.UUID))
        )
        return f.nullable or not f.required or server_made, True
    return True, True


@dataclass(frozen=True)
class _T:
    """A mapped type: the annotation, its spelling (dedups union members as codegen does) and
    the ``Field`` constraints that apply to written values."""

    tp: Any
    ann: str
    constraints: tuple[tuple[str, Any], ...] = ()
    #: Field keyword arguments for when ``constraints`` do not apply (as codegen's ``unbounded``).
    unbounded: tuple[tuple[str, Any], ...] = ()
    has_none: bool = False
    #: Union members ``(spelling, type)``, each whole (``list[A | B]`` is one); () = just this.
    members: tuple[tuple[str, Any], ...] = ()


def _t(tp: Any, ann: str) -> _T:
    return _T(tp, ann)


_SCALARS: dict[LogicalType, _T] = {
    LogicalType.INT: _t(int, "int"),
    LogicalType.FLOAT: _t(float, "float"),
    LogicalType.BOOL: _t(bool, "bool"),
    LogicalType.DATE: _t(datetime.date, "datetime.date"),
    LogicalType.TIME: _t(datetime.time, "datetime.time"),
    LogicalType.TIMEDELTA: _t(datetime.timedelta, "datetime.timedelta"),
    LogicalType.UUID: _t(uuid.UUID, "uuid.UUID"),
    LogicalType.BYTES: _t(bytes, "bytes"),
    LogicalType.OBJECT_ID: _t(str, "str"),
}
_SEMANTIC: dict[str, _T] = {
    "email": _t(pydantic.EmailStr, "pydantic.EmailStr"),
    "url": _t(pydantic.AnyHttpUrl, "pydantic.AnyHttpUrl"),
    "uuid": _SCALARS[LogicalType.UUID],
    "ipv4": _t(ipaddress.IPv4Address, "ipaddress.IPv4Address"),
    "ipv6": _t(ipaddress.IPv6Address, "ipaddress.IPv6Address"),
    "ip": _t(pydantic.IPvAnyAddress, "pydantic.IPvAnyAddress"),
}
_ANY = _t(typing.Any, "typing.Any")
_JSON = _t(pydantic.JsonValue, "pydantic.JsonValue")
_NONE = _T(None, "None", has_none=True)
_PLAIN_STR = _t(str, "str")


class ModelMeta:
    """What a dynamic model says about itself (``Model.Meta``)."""

    ns: ClassVar[str | None]
    collection: ClassVar[str]
    indexes: ClassVar[tuple[tuple[str, ...], ...]]
    auto_generated: ClassVar[bool]
    source_schema: ClassVar[CollectionSpec]


@dataclass(frozen=True)
class DynamicModels:
    """The models of one collection, named as the generated module would name them."""

    spec: CollectionSpec
    model: type[XObjPrototype]
    create_model: type[XObjPrototype]
    update_model: type[XObjPrototype]
    #: Nested models, dependencies first (key: place in the spec).
    nested: dict[NameKey, type[XObjPrototype]] = field(default_factory=dict)
    #: Enum aliases: class name → ``Literal[...]``.
    enums: dict[str, Any] = field(default_factory=dict)
    #: Python field names of the read model, in order (the generated ``Field`` literal).
    field_names: tuple[str, ...] = ()
    #: Content hash of the spec (stats excluded) — the registry's reuse key.
    schema_hash: str = ""


def schema_hash(spec: CollectionSpec) -> str:
    """Content hash of a collection spec without its volatile ``stats`` block."""
    text = spec.model_copy(update={"stats": None}).model_dump_json()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ordered_collections(snapshot: Snapshot) -> list[CollectionSpec]:
    """Collections in the generator's order; those without fields have no models."""
    return sorted(
        (c for c in snapshot.collections if c.fields), key=lambda c: (c.namespace or "", c.name)
    )


class ModelGenerator:
    """CollectionSpec → pydantic model classes (subclasses of :class:`XObjPrototype`).

    ``singularize`` and ``constraints_on_read`` mean what they mean in ``GenerateOptions``.
    """

    def __init__(
        self,
        *,
        singularize: bool = True,
        constraints_on_read: bool = False,
        module: str = "xrepo.dynamic",
    ) -> None:
        self.singularize = singularize
        self.constraints_on_read = constraints_on_read
        self.module = module

    def generate_snapshot(self, snapshot: Snapshot) -> dict[tuple[str | None, str], DynamicModels]:
        """Every collection of a snapshot, names allocated across the module as codegen does."""
        colls = ordered_collections(snapshot)
        names = allocate(colls, self.singularize)
        return {
            (c.namespace, c.name): self.generate(c, names=n)
            for c, n in zip(colls, names, strict=True)
        }

    def generate(
        self,
        spec: CollectionSpec,
        *,
        names: Mapping[NameKey, str] | None = None,
        model_name: str | None = None,
        ns: str | None = None,
    ) -> DynamicModels:
        """The models of one collection (names as if it were alone in its module, unless
        ``names`` comes from :meth:`generate_snapshot`; ``model_name`` renames the read model)."""
        if not spec.fields:
            raise ValueError(f"collection {spec.name!r} has no fields: nothing to model")
        if names is None:
            names = allocate([spec], self.singularize)[0]
        if model_name is not None:
            names = _renamed(names, model_name)
        return _Builder(self, spec, names, ns if ns is not None else spec.namespace).build()


def _renamed(names: Mapping[NameKey, str], model_name: str) -> dict[NameKey, str]:
    """Swap the allocated base name for ``model_name`` in every derived class name."""
    base = names[("model",)]
    if not model_name.isidentifier():
        raise ValueError(f"model_name {model_name!r} is not a Python identifier")
    return {k: model_name + v[len(base) :] if v.startswith(base) else v for k, v in names.items()}


class _Builder:
    def __init__(
        self,
        gen: ModelGenerator,
        spec: CollectionSpec,
        names: Mapping[NameKey, str],
        ns: str | None,
    ) -> None:
        self.gen = gen
        self.spec = spec
        self.names = names
        self.ns = ns
        self.enums: dict[NameKey, tuple[str, Any]] = {}
        self.nested: dict[NameKey, type[XObjPrototype]] = {}
        self._py_names: dict[NameKey, list[str]] = {}

    def py_names(self, key: NameKey, fields: Sequence[FieldSpec]) -> list[str]:
        got = self._py_names.get(key)
        if got is None:
            got = self._py_names[key] = field_names([f.name for f in fields])
        return got

    # -- types (mirror plan._CollectionPlanner.map_type) ---------------------------------

    def map_type(self, ts: TypeSpec, key: NameKey, loose: bool = False) -> _T:
        """``loose``: a read model's type — semantic strings are plain ``str`` (as codegen)."""
        kind = ts.kind
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind is LogicalType.STR:
            if ts.semantic is not None:
                return _PLAIN_STR if loose else _SEMANTIC[ts.semantic]
            if ts.max_length is not None:
                return _T(str, "str", (("max_length", ts.max_length),))
            return _t(str, "str")
        if kind is LogicalType.DECIMAL:
            cons: list[tuple[str, Any]] = []
            if ts.precision is not None:
                cons.append(("max_digits", ts.precision))
                if ts.scale is not None:
                    cons.append(("decimal_places", ts.scale))
            return _T(decimal.Decimal, "decimal.Decimal", tuple(cons), (("allow_inf_nan", True),))
        if kind is LogicalType.DATETIME:
            if ts.tz_aware is True:
                return _t(pydantic.AwareDatetime, "pydantic.AwareDatetime")
            if ts.tz_aware is False:
                return _t(pydantic.NaiveDatetime, "pydantic.NaiveDatetime")
            return _t(datetime.datetime, "datetime.datetime")
        if kind is LogicalType.JSON:
            return _JSON
        if kind is LogicalType.NULL:
            return _NONE
        if kind is LogicalType.UNKNOWN:
            return _ANY
        if kind is LogicalType.ENUM:
            return self.enum_type(ts, key)
        if kind is LogicalType.OBJECT:
            return self.object_type(ts, key, loose)
        if kind is LogicalType.ARRAY:
            inner = _JSON if ts.items is None else self.map_type(ts.items, (*key, "[]"), loose)
            tp: Any = list[inner.tp]  # type: ignore[name-defined]
            ann = f"list[{inner.ann}]"
            for _ in range((ts.dimensions or 1) - 1):
                tp = list[tp]
                ann = f"list[{ann}]"
            return _T(tp, ann)
        if kind is LogicalType.UNION:
            return self.union_type(ts, key, loose)
        raise ValueError(f"collection {self.spec.name!r}: unsupported logical type {kind!r}")

    def union_type(self, ts: TypeSpec, key: NameKey, loose: bool = False) -> _T:
        parts: dict[str, Any] = {}
        has_none = False
        for i, v in enumerate(ts.variants or ()):
            t = self.map_type(v, (*key, f"|{i}"), loose)
            has_none = has_none or t.has_none
            for ann, tp in t.members or ((t.ann, t.tp),):
                parts.setdefault(ann, tp)
        if "None" in parts:
            parts["None"] = parts.pop("None")
        if not parts:
            return _ANY
        members = list(parts.values())
        if len(members) == 1:
            return _T(members[0], next(iter(parts)), has_none=has_none)
        tp = members[0]
        for m in members[1:]:
            tp = typing.Union[tp, m]  # noqa: UP007 - members are run-time values
        return _T(tp, " | ".join(parts), has_none=has_none, members=tuple(parts.items()))

    def enum_type(self, ts: TypeSpec, key: NameKey) -> _T:
        values = ts.enum_values or ()
        if not values:
            return _t(str, "str")
        name = self.names[key]
        if key not in self.enums:
            self.enums[key] = (name, Literal[values])
        return _T(self.enums[key][1], name)

    def object_type(self, ts: TypeSpec, key: NameKey, loose: bool = False) -> _T:
        if ts.fields:
            name = self.names[key]
            if key not in self.nested:
                self.nested[key] = self.model_class(name, ts.fields, key, "nested")
            return _T(self.nested[key], name)
        if ts.map_values is not None:
            v = self.map_type(ts.map_values, (*key, "{}"), loose)
            return _T(dict[str, v.tp], f"dict[str, {v.ann}]")  # type: ignore[name-defined]
        return _T(dict[str, pydantic.JsonValue], "dict[str, pydantic.JsonValue]")

    # -- models (mirror plan._CollectionPlanner.model_class / field_line) ----------------

    def model_class(
        self, name: str, fields: Sequence[FieldSpec], key: NameKey, mode: Mode
    ) -> type[XObjPrototype]:
        py_names = self.py_names(key, fields)
        pk = frozenset(self.spec.primary_key) if mode != "nested" else frozenset()
        definitions: dict[str, Any] = {}
        # Read models accept what the source stores (mirror of plan.model_class).
        loose = mode == "read" and not self.gen.constraints_on_read
        for py, f in zip(py_names, fields, strict=True):
            rule = field_rule(
                f,
                mode,
                kind=self.spec.kind,
                primary_key=pk,
                constraints_on_read=self.gen.constraints_on_read,
            )
            if rule is None:
                continue
            optional, constrain = rule
            t = self.map_type(f.type, (*key, f.name), loose)
            default = literal_default_value(f) if mode == "create" else None
            if default is not None:
                # A literal default keeps the annotation as the nullability says (codegen: the
                # field line is built with optional=f.nullable).
                optional = f.nullable
            definitions[py] = self.field_def(py, f.name, t, optional, constrain, default)
        model = pydantic.create_model(
            name,
            __base__=XObjPrototype,
            __module__=self.gen.module,
            **definitions,
        )
        model.__doc__ = None  # generated classes have no docstring (no JSON Schema description)
        return model

    def field_def(
        self,
        py: str,
        source: str,
        t: _T,
        optional: bool,
        constrain: bool,
        default: tuple[Any] | None,
    ) -> tuple[Any, FieldInfo]:
        tp = t.tp
        if optional and not t.has_none:
            tp = tp | None if _or_able(tp) else typing.Optional[tp]  # noqa: UP045
        kwargs: dict[str, Any] = {}
        if default is not None:
            kwargs["default"] = default[0]
        elif optional:
            kwargs["default"] = None
        if py != source:
            kwargs["alias"] = source
        if constrain and t.constraints:
            kwargs.update(t.constraints)
        else:
            kwargs.update(t.unbounded)
        info: FieldInfo = pydantic.Field(**kwargs)
        return (tp, info)

    # -- all -----------------------------------------------------------------------------

    def build(self) -> DynamicModels:
        spec = self.spec
        n = {k[0]: v for k, v in self.names.items() if len(k) == 1}
        read = self.model_class(n["model"], spec.fields, ("f",), "read")
        create = self.model_class(n["create"], spec.fields, ("f",), "create")
        update = self.model_class(n["update"], spec.fields, ("f",), "update")
        py = self.py_names(("f",), spec.fields)
        by_source = dict(zip((f.name for f in spec.fields), py, strict=True))
        indexes = tuple(
            tuple(by_source[s] for s in ix.fields)
            for ix in spec.indexes
            if not ix.expression and ix.fields and all(s in by_source for s in ix.fields)
        )
        meta = type(
            "Meta",
            (ModelMeta,),
            {
                "ns": self.ns,
                "collection": spec.name,
                "indexes": indexes,
                "auto_generated": True,
                "source_schema": spec,
            },
        )
        for m in (read, create, update, *self.nested.values()):
            m.Meta = meta  # type: ignore[attr-defined]
        return DynamicModels(
            spec=spec,
            model=read,
            create_model=create,
            update_model=update,
            nested=dict(self.nested),
            enums={name: tp for name, tp in self.enums.values()},
            field_names=tuple(py),
            schema_hash=schema_hash(spec),
        )


def _or_able(tp: Any) -> bool:
    try:
        tp | None
    except TypeError:
        return False
    return True


__all__ = [
    "DynamicModels",
    "ModelGenerator",
    "ModelMeta",
    "ordered_collections",
    "schema_hash",
]
