"""Aggregate repos: group rows by some fields and summarise others (the seed's
``create_aggregate_repo``).

Configuration (all names are the source repos' field names, Python or source spelling)::

    {
        "group_by": ["customer_id"],                 # or a single name; [] → one total row
        "aggregations": {                            # output name → {op: field}
            "orders": {"count": "*"},                # rows in the group
            "revenue": {"sum": "total"},
            "avg_total": {"avg": "total"},
            "first_order": {"min": "ordered_on"},
            "last_order": {"max": "ordered_on"},
            "products": {"count_distinct": "sku"},
        },
        "filters": {...},                            # pushed down to every source repo
    }

``("sum", "total")`` pairs and ``[{"op": "sum", "field": "total", "as": "revenue"}]`` lists are
accepted too. NULLs follow SQL: ``count("*")`` counts rows, every other operator ignores NULLs,
and ``sum``/``avg``/``min``/``max`` of no values is NULL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ConfigurationError
from .query.fields import FieldInfo, scalar_type
from .schema import CollectionSpec, FieldSpec, LogicalType, TypeSpec
from .views import hashable

Op = Literal["sum", "avg", "min", "max", "count", "count_distinct"]
OPS: tuple[Op, ...] = ("sum", "avg", "min", "max", "count", "count_distinct")
_NUMERIC = {"int": LogicalType.INT, "float": LogicalType.FLOAT, "decimal": LogicalType.DECIMAL}


@dataclass(frozen=True)
class Aggregation:
    output: str
    op: Op
    #: Field aggregated ("*" for ``count`` of rows).
    field: str


@dataclass(frozen=True)
class AggregationConfig:
    group_by: tuple[str, ...]
    aggregations: tuple[Aggregation, ...]
    filters: Mapping[str, Any] | None


def parse_config(name: str, config: Mapping[str, Any]) -> AggregationConfig:
    """Validate an aggregation config; errors name the repo and the offending entry."""
    unknown = set(config) - {"group_by", "aggregations", "filters"}
    if unknown:
        raise ConfigurationError(
            f"aggregate repo {name!r}: unknown config key(s) {sorted(unknown)} "
            "(use group_by, aggregations, filters)"
        )
    group = config.get("group_by", ())
    group_by = (group,) if isinstance(group, str) else tuple(group)
    raw = config.get("aggregations")
    if not raw:
        raise ConfigurationError(f"aggregate repo {name!r}: no aggregations given")
    aggs: list[Aggregation] = []
    if isinstance(raw, Mapping):
        for output, spec in raw.items():
            if isinstance(spec, Mapping) and len(spec) == 1:
                op, fld = next(iter(spec.items()))
            elif isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2:
                op, fld = spec
            else:
                raise ConfigurationError(
                    f"aggregate repo {name!r}: aggregation {output!r} must be {{op: field}} "
                    f"or (op, field), got {spec!r}"
                )
            aggs.append(_agg(name, str(output), op, fld))
    else:
        for item in raw:
            if not isinstance(item, Mapping) or "op" not in item:
                raise ConfigurationError(
                    f"aggregate repo {name!r}: list entries are {{'op', 'field', 'as'}}, "
                    f"got {item!r}"
                )
            fld = item.get("field", "*")
            output = item.get("as") or f"{item['op']}_{fld}".replace("*", "rows")
            aggs.append(_agg(name, str(output), item["op"], fld))
    outputs = [*group_by, *(a.output for a in aggs)]
    dupes = sorted({o for o in outputs if outputs.count(o) > 1})
    if dupes:
        raise ConfigurationError(f"aggregate repo {name!r}: output name(s) {dupes} used twice")
    return AggregationConfig(group_by, tuple(aggs), config.get("filters"))


def _agg(name: str, output: str, op: Any, fld: Any) -> Aggregation:
    if op not in OPS:
        raise ConfigurationError(
            f"aggregate repo {name!r}: aggregation {output!r}: unknown operator {op!r} "
            f"(use one of {', '.join(OPS)})"
        )
    if not isinstance(fld, str) or (fld == "*" and op != "count"):
        raise ConfigurationError(
            f"aggregate repo {name!r}: aggregation {output!r}: {op} needs a field name"
        )
    return Aggregation(output, op, fld)


def _type_of(info: FieldInfo) -> TypeSpec:
    if info.ref.array:
        return TypeSpec(kind=LogicalType.UNKNOWN)
    return scalar_type(info.ref.kind)


def result_spec(
    name: str,
    config: AggregationConfig,
    infos: Mapping[str, FieldInfo],
    *,
    namespace: str | None = None,
) -> CollectionSpec:
    """The aggregate's collection spec: group fields (the key) then one field per aggregation."""
    fields: list[FieldSpec] = []
    for g in config.group_by:
        fields.append(FieldSpec(name=g, type=_type_of(infos[g]), nullable=True, required=True))
    for a in config.aggregations:
        if a.op in ("count", "count_distinct"):
            fields.append(
                FieldSpec(name=a.output, type=TypeSpec(kind=LogicalType.INT), nullable=False)
            )
            continue
        info = infos[a.field]
        kind = info.ref.kind
        if a.op in ("sum", "avg"):
            if kind not in _NUMERIC or info.ref.array:
                raise ConfigurationError(
                    f"aggregate repo {name!r}: {a.op} of {a.field!r} needs a number field, "
                    f"not {kind}{'[]' if info.ref.array else ''}"
                )
            logical = _NUMERIC[kind]
            if a.op == "avg" and logical is LogicalType.INT:
                logical = LogicalType.FLOAT
            ts = TypeSpec(kind=logical)
        else:
            ts = _type_of(info)
        fields.append(FieldSpec(name=a.output, type=ts, nullable=True))
    keys = tuple(dict.fromkeys(config.group_by))
    return CollectionSpec(
        name=name,
        namespace=namespace,
        kind="view",
        primary_key=keys,
        fields=tuple(fields),
        comment="aggregate of " + ", ".join(f"{a.op}({a.field})" for a in config.aggregations),
    )


class _Group:
    __slots__ = ("count", "values")

    def __init__(self, n: int) -> None:
        self.count = 0
        self.values: list[list[Any]] = [[] for _ in range(n)]


def aggregate_rows(
    rows: Sequence[Mapping[str, Any]],
    config: AggregationConfig,
    getters: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Group ``rows`` (keyed as ``getters`` read them: name → function(row) → value).

    Groups come out in order of first appearance; a NULL group key is a group of its own (as
    SQL's GROUP BY does).
    """
    group_get = [getters[g] for g in config.group_by]
    agg_get = [getters[a.field] if a.field != "*" else None for a in config.aggregations]
    groups: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Group]] = {}
    for row in rows:
        key_values = tuple(get(row) for get in group_get)
        key = tuple(hashable(v) for v in key_values)
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = (key_values, _Group(len(agg_get)))
        group = entry[1]
        group.count += 1
        for i, get in enumerate(agg_get):
            if get is not None:
                value = get(row)
                if value is not None:
                    group.values[i].append(value)
    if not groups and not config.group_by:
        groups[()] = ((), _Group(len(agg_get)))
    out: list[dict[str, Any]] = []
    for key_values, group in groups.values():
        result: dict[str, Any] = dict(zip(config.group_by, key_values, strict=True))
        for i, a in enumerate(config.aggregations):
            result[a.output] = _apply(a, group.values[i], group.count)
        out.append(result)
    return out


def _apply(a: Aggregation, values: list[Any], rows: int) -> Any:
    if a.op == "count":
        return rows if a.field == "*" else len(values)
    if a.op == "count_distinct":
        return len({hashable(v) for v in values})
    if not values:
        return None
    if a.op == "sum":
        return sum(values[1:], values[0])
    if a.op == "avg":
        # Decimal / int stays Decimal; int and float averages are floats.
        return sum(values[1:], values[0]) / len(values)
    if a.op == "min":
        return min(values)
    return max(values)


__all__ = [
    "OPS",
    "Aggregation",
    "AggregationConfig",
    "Op",
    "aggregate_rows",
    "parse_config",
    "result_spec",
]
