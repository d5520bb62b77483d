"""Dynamic models (snapshot → pydantic at run time) equal the generated ones.

For every golden snapshot, each collection's read, create and update models — built by
:class:`ModelGenerator` and imported from the committed generated module — must have the same
JSON Schema and make the same accept/reject decisions (same error types at the same places) on
a corpus of documents: valid ones, a field missing, every field set to each of a range of
values of every type, nulls, extra and hostile keys, python names instead of aliases.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import sys
import types
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, TypeAdapter

from xrepo.runtime import ModelGenerator, XObjPrototype
from xrepo.runtime.dynamic import ModelMeta, schema_hash
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    LogicalType,
    TypeSpec,
    load_snapshot,
)

GOLDEN = Path(__file__).parent / "golden"
SNAPSHOTS = sorted(GOLDEN.glob("*/snapshots/*.json"))


def _static_module(snapshot: Path) -> types.ModuleType:
    case = snapshot.parent.parent
    [models] = sorted((case / "expected").glob("*/models.py"))
    name = f"_golden_static_{case.name}_{models.parent.name}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, models)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _pairs() -> Iterator[tuple[str, type[BaseModel], type[BaseModel]]]:
    for path in SNAPSHOTS:
        static = _static_module(path)
        dynamic = ModelGenerator().generate_snapshot(load_snapshot(path))
        for (_, coll), dm in dynamic.items():
            for model in (dm.model, dm.create_model, dm.update_model):
                label = f"{path.parent.parent.name}:{coll}:{model.__name__}"
                yield label, model, getattr(static, model.__name__)


PAIRS = list(_pairs())
IDS = [p[0] for p in PAIRS]


def test_every_golden_collection_is_compared() -> None:
    assert len(SNAPSHOTS) >= 4
    # read + create + update per collection with fields
    total = 0
    for path in SNAPSHOTS:
        total += 3 * len([c for c in load_snapshot(path).collections if c.fields])
    assert len(PAIRS) == total


@pytest.mark.parametrize(("label", "dynamic", "static"), PAIRS, ids=IDS)
def test_same_json_schema(label: str, dynamic: type[BaseModel], static: type[BaseModel]) -> None:
    for mode in ("validation", "serialization"):
        assert dynamic.model_json_schema(mode=mode) == static.model_json_schema(mode=mode), label
    assert issubclass(dynamic, XObjPrototype)
    assert list(dynamic.model_fields) == list(static.model_fields)
    for name, f in dynamic.model_fields.items():
        g = static.model_fields[name]
        assert (f.alias, f.is_required(), f.default) == (g.alias, g.is_required(), g.default)


# -- the accept/reject corpus -----------------------------------------------------------

_SCALARS: list[Any] = [
    None,
    0,
    1,
    -7,
    2**40,
    1.5,
    float("inf"),
    True,
    False,
    "",
    "x",
    "42",
    "1.25",
    "true",
    "free",
    "pro",
    "cm",
    'a"b',
    "2024-01-02",
    "2024-01-02T03:04:05",
    "2024-01-02T03:04:05+00:00",
    "12:30:00",
    "P1D",
    "ada@example.com",
    "https://example.com/x",
    "127.0.0.1",
    "::1",
    str(uuid.UUID(int=7)),
    "5f1d7a3b9c8e4a2b1c0d9e8f",
    "日本語",
    b"raw",
    datetime.date(2024, 1, 2),
    datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    [],
    [1, 2],
    ["a", "b"],
    [[1], [2]],
    {},
    {"a": 1},
    {"k": "v"},
]


def _valid_value(annotation: Any, depth: int = 0) -> tuple[bool, Any]:
    """Some value ``annotation`` accepts (nested models built field by field)."""
    if depth > 6:
        return False, None
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True, typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                ok, value = _valid_value(arg, depth + 1)
                if ok:
                    return True, value
        return True, None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True, _valid_doc(annotation, depth + 1)
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        ok, value = _valid_value(item, depth + 1)
        return True, [value] if ok else []
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    for candidate in _SCALARS:
        if candidate is None:
            continue
        try:
            adapter.validate_python(candidate)
        except pydantic.ValidationError:
            continue
        return True, candidate
    return False, None


def _valid_doc(model: type[BaseModel], depth: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        ok, value = _valid_value(f.annotation, depth)
        if ok:
            doc[f.alias or name] = value
    return doc


def _corpus(model: type[BaseModel]) -> Iterator[Any]:
    base = _valid_doc(model)
    yield base
    yield {}
    yield None
    yield []
    yield "not a document"
    yield {**base, "extra": 1}
    yield {**base, "'; drop table x; --": 1, 'we"ird': None, "model_config": 1, "__class__": 2}
    for key in base:
        yield {k: v for k, v in base.items() if k != key}
        for value in _SCALARS:
            yield {**base, key: value}
            if isinstance(value, str):
                yield {**base, key: value.upper()}
            yield {**base, key: [value]}
            yield {**base, key: {"name": value, "team": value, "width": value}}
    for name, f in model.model_fields.items():
        if f.alias and f.alias in base:
            renamed = dict(base)
            renamed[name] = renamed.pop(f.alias)
            yield renamed


def _decision(model: type[BaseModel], doc: Any) -> tuple[bool, list[tuple[str, Any]]]:
    try:
        obj = model.model_validate(doc)
    except pydantic.ValidationError as exc:
        return False, sorted((e["type"], e["loc"]) for e in exc.errors())
    return True, [("dump", json.dumps(obj.model_dump(mode="json"), sort_keys=True, default=str))]


@pytest.mark.parametrize(("label", "dynamic", "static"), PAIRS, ids=IDS)
def test_same_decisions(label: str, dynamic: type[BaseModel], static: type[BaseModel]) -> None:
    accepted = rejected = 0
    for doc in _corpus(static):
        got = _decision(dynamic, doc)
        assert got == _decision(static, doc), (label, doc)
        accepted += got[0]
        rejected += not got[0]
    # The corpus really exercises both outcomes.
    assert accepted > 0 and rejected > 0, label


# -- Meta, naming, reuse ------------------------------------------------------------------


def _spec(**changes: Any) -> CollectionSpec:
    base: dict[str, Any] = {
        "name": "order_items",
        "namespace": "shop",
        "kind": "table",
        "primary_key": ("id",),
        "fields": (
            FieldSpec(name="id", type=TypeSpec(kind=LogicalType.INT), nullable=False),
            FieldSpec(
                name="Status Code",
                type=TypeSpec(kind=LogicalType.ENUM, enum_values=("new", "paid")),
                nullable=False,
                required=True,
                default="'new'",
            ),
            FieldSpec(
                name="address",
                type=TypeSpec(
                    kind=LogicalType.OBJECT,
                    fields=(
                        FieldSpec(name="city", type=TypeSpec(kind=LogicalType.STR), required=True),
                    ),
                ),
            ),
            FieldSpec(name="class", type=TypeSpec(kind=LogicalType.STR, max_length=3)),
        ),
    }
    base.update(changes)
    return CollectionSpec(**base)


def test_meta_names_and_variants() -> None:
    dm = ModelGenerator().generate(_spec())
    model = dm.model
    assert model.__name__ == "OrderItem"
    assert (dm.create_model.__name__, dm.update_model.__name__) == (
        "OrderItemCreate",
        "OrderItemUpdate",
    )
    meta: type[ModelMeta] = model.Meta  # type: ignore[attr-defined]
    assert (meta.ns, meta.collection, meta.auto_generated) == ("shop", "order_items", True)
    assert meta.source_schema == _spec()
    assert list(model.model_fields) == ["id", "status_code", "address", "class_"]
    assert model.model_fields["status_code"].alias == "Status Code"
    assert set(dm.enums) == {"OrderItemStatusCode"}
    assert [m.__name__ for m in dm.nested.values()] == ["OrderItemAddress"]
    # enum as Literal; literal default on create; max_length only on writes
    item = dm.create_model.model_validate({"address": {"city": "Oslo"}, "class": "abc"})
    assert item.status_code == "new"  # type: ignore[attr-defined]
    with pytest.raises(pydantic.ValidationError):
        dm.create_model.model_validate({"Status Code": "lost"})
    with pytest.raises(pydantic.ValidationError):
        dm.create_model.model_validate({"class": "abcd"})
    assert (
        model.model_validate(
            {"id": 1, "Status Code": "paid", "address": None, "class": "abcd"}
        ).class_
        == "abcd"
    )  # type: ignore[attr-defined]
    assert dm.field_names == ("id", "status_code", "address", "class_")
    assert dm.schema_hash == schema_hash(_spec())


def test_model_name_and_hash_ignore_stats() -> None:
    dm = ModelGenerator().generate(_spec(), model_name="LineItem")
    assert dm.model.__name__ == "LineItem"
    assert dm.create_model.__name__ == "LineItemCreate"
    assert next(iter(dm.nested.values())).__name__ == "LineItemAddress"
    with pytest.raises(ValueError, match="identifier"):
        ModelGenerator().generate(_spec(), model_name="not valid")
    from xrepo.runtime.schema import CollectionStats

    assert schema_hash(_spec(stats=CollectionStats(row_estimate=5))) == schema_hash(_spec())
    assert schema_hash(_spec(primary_key=())) != schema_hash(_spec())


def test_no_fields_is_an_error() -> None:
    with pytest.raises(ValueError, match="no fields"):
        ModelGenerator().generate(_spec(fields=(), primary_key=()))
