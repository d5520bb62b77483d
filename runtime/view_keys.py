"""Join keys of a view: their types must agree, and where they do not, a declared cast
reconciles them — never an accidental zero-match join of ``5`` against ``"5"``.

``join_config["key_types"]`` (or ``"cast"``) maps a source to the type its join key is cast to
before the join: ``{"invoices": "int"}`` (every key field), or a list per key field. Casts:
``int`` (from integral text or numbers), ``str`` (from ints, UUIDs, ObjectIds), ``object_id``
(24 hex digits; ObjectIds are ``str`` in models) and ``uuid``. The cast field has the cast type
in the view's schema. A value that cannot be cast is an error naming the source, the field and
the value. Without casts, key fields whose types differ are an error naming both sides.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ConfigurationError
from .schema import CollectionSpec, FieldSpec, LogicalType, TypeSpec
from .views import JoinType, MergedSchema, PrefixMode, ViewSource, merge_schemas

KeyCast = Literal["int", "str", "object_id", "uuid"]
KEY_CASTS: dict[str, KeyCast] = {
    "int": "int",
    "str": "str",
    "object_id": "object_id",
    "objectid": "object_id",
    "uuid": "uuid",
}
_CAST_TYPES: dict[KeyCast, LogicalType] = {
    "int": LogicalType.INT,
    "str": LogicalType.STR,
    "object_id": LogicalType.OBJECT_ID,
    "uuid": LogicalType.UUID,
}
_HEX = frozenset("0123456789abcdefABCDEF")
Row = dict[str, Any]


def key_casts(
    view: str, keys: Mapping[str, Sequence[str]], config: Mapping[str, Any]
) -> dict[str, tuple[KeyCast | None, ...]]:
    """Per source, the cast of each key field (None: as it is) from ``key_types`` / ``cast``."""
    given = config.get("key_types", config.get("cast")) or {}
    if not isinstance(given, Mapping):
        raise ConfigurationError(
            f"view {view!r}: key_types must map a source to a type, e.g. {{'invoices': 'int'}}"
        )
    out: dict[str, tuple[KeyCast | None, ...]] = {s: (None,) * len(k) for s, k in keys.items()}
    for src, spelled in given.items():
        if src not in keys:
            raise ConfigurationError(
                f"view {view!r}: key_types names unknown source {src!r} "
                f"(sources: {', '.join(keys)})"
            )
        items = [spelled] * len(keys[src]) if isinstance(spelled, str | None) else list(spelled)
        if len(items) != len(keys[src]):
            raise ConfigurationError(
                f"view {view!r}: key_types[{src!r}] gives {len(items)} types for the "
                f"{len(keys[src])} key field(s) {list(keys[src])}"
            )
        out[src] = tuple(_cast_name(view, src, i) for i in items)
    return out


def _cast_name(view: str, src: str, spelled: Any) -> KeyCast | None:
    if spelled is None:
        return None
    found = KEY_CASTS.get(str(spelled).lower())
    if found is None:
        raise ConfigurationError(
            f"view {view!r}: key_types[{src!r}] = {spelled!r} is not a key type "
            f"(use one of: int, str, object_id, uuid)"
        )
    return found


def cast_spec(
    spec: CollectionSpec, key: Sequence[str], casts: Sequence[KeyCast | None]
) -> CollectionSpec:
    """``spec`` with each cast key field retyped (the source type name is kept)."""
    targets = {k: c for k, c in zip(key, casts, strict=True) if c is not None}
    if not targets:
        return spec
    fields: list[FieldSpec] = []
    for f in spec.fields:
        target = targets.get(f.name)
        if target is not None:
            f = f.model_copy(update={"type": TypeSpec(kind=_CAST_TYPES[target])})
        fields.append(f)
    return spec.model_copy(update={"fields": tuple(fields)})


def _key_class(ts: TypeSpec) -> str | None:
    """What a key of this type compares equal to in Python (None: not joinable as is)."""
    kind = ts.kind
    if kind in (LogicalType.INT, LogicalType.FLOAT, LogicalType.DECIMAL):
        return "number"
    if kind is LogicalType.ENUM:
        values = ts.enum_values or ()
        return "number" if values and all(isinstance(v, int) for v in values) else "str"
    if kind in (LogicalType.UNION, LogicalType.UNKNOWN, LogicalType.JSON, LogicalType.NULL):
        return None
    return kind.value


def _type_name(ts: TypeSpec) -> str:
    if ts.kind is LogicalType.UNION:
        return " | ".join(_type_name(v) for v in ts.variants or ())
    return ts.kind.value


def check_key_types(view: str, sources: Sequence[ViewSource]) -> None:
    """Every source's join key fields must compare alike, position by position."""
    first = sources[0]
    for pos in range(len(first.key)):
        seen: list[tuple[str, str, str | None]] = []
        for src in sources:
            field = src.spec.field(src.key[pos])
            where = f"{src.name}.{field.name}"
            seen.append((where, _type_name(field.type), _key_class(field.type)))
        for where, type_name, cls in seen:
            if cls is None:
                raise ConfigurationError(
                    f"view {view!r}: join key {where} is {type_name}, which does not compare "
                    f"reliably; cast it with key_types={{{where.split('.')[0]!r}: 'str'}} "
                    "(or int, object_id, uuid)"
                )
        base_where, base_type, base_cls = seen[0]
        for where, type_name, cls in seen[1:]:
            if cls != base_cls:
                raise ConfigurationError(
                    f"view {view!r}: join key types differ: {base_where} is {base_type}, "
                    f"{where} is {type_name}; they would never match. Reconcile them "
                    f"explicitly: key_types={{{where.split('.')[0]!r}: {base_type!r}}} "
                    f"(or cast {base_where.split('.')[0]!r} to {type_name!r})"
                )


# -- casting values ---------------------------------------------------------------------


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a bool is not an id")
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | bytes):
        return int(value.strip())
    raise ValueError(f"{type(value).__name__} is not an id")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | float):
        raise ValueError(f"{type(value).__name__} does not spell one id")
    if isinstance(value, int | uuid.UUID) or type(value).__name__ == "ObjectId":
        return str(value)
    raise ValueError(f"{type(value).__name__} is not an id")


def _to_object_id(value: Any) -> str:
    text = str(value) if type(value).__name__ == "ObjectId" else value
    if isinstance(text, str) and len(text) == 24 and set(text) <= _HEX:
        return text.lower()
    raise ValueError("not 24 hexadecimal digits")


def _to_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise ValueError(f"{type(value).__name__} is not a UUID")


_CASTERS: dict[KeyCast, Callable[[Any], Any]] = {
    "int": _to_int,
    "str": _to_str,
    "object_id": _to_object_id,
    "uuid": _to_uuid,
}


def cast_rows(
    view: str,
    src: str,
    rows: list[Row],
    key: Sequence[str],
    casts: Sequence[KeyCast | None],
) -> list[Row]:
    """Cast the key fields of ``rows`` in place (NULL stays NULL: it never matches)."""
    plan = [(k, c, _CASTERS[c]) for k, c in zip(key, casts, strict=True) if c is not None]
    if not plan:
        return rows
    for row in rows:
        for name, target, fn in plan:
            value = row.get(name)
            if value is None:
                continue
            try:
                row[name] = fn(value)
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise ConfigurationError(
                    f"view {view!r}: source {src!r} key field {name!r} value {value!r} cannot "
                    f"be cast to {target} ({exc}); fix the data, filter it out "
                    f"({src}_filters=...) or change key_types"
                ) from None
    return rows


# -- the view's plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class ViewPlan:
    """Sources with their key casts applied to their schemas, and the merged schema."""

    how: JoinType
    sources: tuple[ViewSource, ...]
    casts: dict[str, tuple[KeyCast | None, ...]]
    merged: MergedSchema

    @property
    def cast_fields(self) -> frozenset[str]:
        """View field names of cast keys (their values differ from the source's)."""
        out: set[str] = set()
        for src, renames in zip(self.sources, self.merged.renames, strict=True):
            for k, c in zip(src.key, self.casts[src.name], strict=True):
                if c is not None:
                    out.add(renames[k])
        return frozenset(out)


def plan_view(
    name: str,
    sources: Sequence[tuple[str, CollectionSpec, Sequence[str]]],
    how: JoinType,
    config: Mapping[str, Any],
    *,
    prefix: PrefixMode = "collisions",
    namespace: str | None = None,
) -> ViewPlan:
    """Check the keys (their fields exist, their types agree after casts) and merge schemas.
    ``sources``: (source name, its schema, key fields as source names)."""
    if len(sources) < 2:
        raise ConfigurationError(f"view {name!r}: join at least two sources")
    keys = {src: tuple(key) for src, _, key in sources}
    widths = {len(k) for k in keys.values()}
    if len(widths) != 1 or 0 in widths:
        raise ConfigurationError(
            f"view {name!r}: every source needs a join key of the same length, got "
            + ", ".join(f"{s}={list(k)}" for s, k in keys.items())
        )
    for src, spec, key in sources:
        known = {f.name for f in spec.fields}
        missing = [k for k in key if k not in known]
        if missing:
            raise ConfigurationError(
                f"view {name!r}: source {src!r} has no field {missing[0]!r} to join on "
                f"(fields: {', '.join(sorted(known))})"
            )
    casts = key_casts(name, keys, config)
    viewed = tuple(
        ViewSource(src, cast_spec(spec, key, casts[src]), tuple(key)) for src, spec, key in sources
    )
    check_key_types(name, viewed)
    merged = merge_schemas(name, viewed, how, prefix=prefix, namespace=namespace)
    return ViewPlan(how, viewed, casts, merged)


__all__ = [
    "KEY_CASTS",
    "KeyCast",
    "ViewPlan",
    "cast_rows",
    "cast_spec",
    "check_key_types",
    "key_casts",
    "plan_view",
]
