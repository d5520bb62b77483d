"""ModelRegistry: static and dynamic models per (namespace, collection); dynamic reuse."""

from __future__ import annotations

import pytest

from xrepo.runtime import ConfigurationError, ModelRegistry, XObjPrototype
from xrepo.runtime.schema import CollectionSpec, CollectionStats, FieldSpec, LogicalType, TypeSpec


def _spec(*extra: str, name: str = "users", stats: int | None = None) -> CollectionSpec:
    fields = [FieldSpec(name="id", type=TypeSpec(kind=LogicalType.INT), nullable=False)]
    fields += [FieldSpec(name=x, type=TypeSpec(kind=LogicalType.STR)) for x in extra]
    return CollectionSpec(
        name=name,
        kind="table",
        primary_key=("id",),
        fields=tuple(fields),
        stats=CollectionStats(row_estimate=stats) if stats is not None else None,
    )


class User(XObjPrototype):
    id: int
    name: str | None = None


def test_dynamic_models_are_reused_while_the_schema_is_unchanged() -> None:
    reg = ModelRegistry()
    first = reg.dynamic_models(_spec("name"))
    again = reg.dynamic_models(_spec("name", stats=99))  # stats are volatile: same schema
    assert again.model is first.model and again.create_model is first.create_model
    assert reg.generated_count == 1
    changed = reg.dynamic_models(_spec("name", "email"))
    assert changed.model is not first.model
    assert "email" in changed.model.model_fields
    assert reg.generated_count == 2
    assert reg.get_model("users") is changed.model
    assert reg.get_schema("users") == _spec("name", "email")
    assert reg.is_auto_generated("users")


def test_namespaces_are_separate_keys() -> None:
    reg = ModelRegistry()
    a = reg.dynamic_models(_spec("name"), namespace="a")
    b = reg.dynamic_models(_spec("name"), namespace="b")
    assert a.model is not b.model
    assert reg.get_model("users", "a") is a.model
    assert [(e.namespace, e.collection) for e in reg.list_models()] == [
        ("a", "users"),
        ("b", "users"),
    ]
    with pytest.raises(ConfigurationError, match="no model registered for users"):
        reg.get_model("users")


def test_register_generated_model_and_override() -> None:
    reg = ModelRegistry()
    reg.dynamic_models(_spec("name"))
    entry = reg.register_generated_model(User, collection="users", schema=_spec("name"))
    assert entry.auto_generated is False
    assert reg.get_model("users") is User
    assert not reg.is_auto_generated("users")
    assert reg.get_schema("users") == _spec("name")
    # a dynamic request for the same collection now builds (and registers) a dynamic model
    dm = reg.dynamic_models(_spec("name"))
    assert dm.model is not User and reg.is_auto_generated("users")


def test_register_takes_collection_from_meta_or_complains() -> None:
    reg = ModelRegistry()
    dm = reg.generator.generate(_spec("name", name="people"))
    reg.register_generated_model(dm.model)
    assert reg.get_model("people") is dm.model
    with pytest.raises(ConfigurationError, match="pass collection"):
        reg.register_generated_model(User)


def test_model_name_is_part_of_reuse() -> None:
    reg = ModelRegistry()
    a = reg.dynamic_models(_spec("name"), model_name="Account")
    assert a.model.__name__ == "Account"
    assert reg.dynamic_models(_spec("name"), model_name="Account").model is a.model
    assert reg.dynamic_models(_spec("name")).model is a.model  # no name asked: reuse
    assert reg.dynamic_models(_spec("name"), model_name="Member").model.__name__ == "Member"
