"""XRepoFactory: pattern detection through prioritised strategies, and each pattern's repo."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from xrepo.runtime import (
    ConfigurationError,
    CsvResource,
    DictRepo,
    JsonResource,
    MaterializedRepo,
    MemoryResource,
    QueryError,
    XObjPrototype,
    XRepoFactory,
)
from xrepo.runtime.schema import CollectionSpec, FieldSpec, LogicalType, TypeSpec

PEOPLE = [
    {"id": 1, "name": "ada", "age": 36, "tags": ["math"]},
    {"id": 2, "name": "bob", "age": None, "tags": []},
    {"id": 3, "name": "cy", "age": 51, "tags": ["cs", "math"]},
]


def test_builtin_strategies_in_priority_order() -> None:
    f = XRepoFactory()
    assert f.strategies == [
        ("view", 100),
        ("aggregate", 95),
        ("model_class", 90),
        ("resource", 80),
        ("data", 70),
        ("schema", 60),
    ]
    assert f.detect(data=[], name="x").name == "data"
    assert f.detect(model_class=object, data=[]).name == "model_class"  # higher priority
    assert f.detect(sources={}, join_config={}, data=[]).name == "view"
    with pytest.raises(ConfigurationError, match="cannot tell what to build"):
        f.detect(colour="blue")


async def test_register_strategy_takes_precedence_by_priority() -> None:
    class Echo:
        name = "echo"

        def matches(self, inputs: Mapping[str, Any]) -> bool:
            return "data" in inputs and inputs.get("echo") is True

        async def create(self, factory: XRepoFactory, inputs: Mapping[str, Any]) -> Any:
            return ("echo", len(inputs["data"]))

    f = XRepoFactory()
    f.register_strategy(Echo(), 75)
    assert await f.create(data=[1, 2], echo=True) == ("echo", 2)
    assert f.strategies[4] == ("echo", 75)
    with pytest.raises(ConfigurationError, match=r"unexpected input\(s\) \['colour'\]"):
        await f.create(data=PEOPLE, name="p", colour="blue")


async def test_data_gives_a_typed_in_memory_repo_with_a_natural_key() -> None:
    f = XRepoFactory()
    people = await f.create(data=PEOPLE, name="people")
    assert isinstance(people, MaterializedRepo)
    assert people.metadata.primary_key == ("id",)
    ada = await people.read(1)
    assert ada is not None and ada.name == "ada"
    assert [p.name for p in await people.list({"tags": "math"}, sort=[("age", -1)])] == [
        "cy",
        "ada",
    ]
    assert type(ada).Meta.auto_generated is True


async def test_data_as_dicts_and_schema_errors() -> None:
    f = XRepoFactory()
    people = await f.create(data=PEOPLE, name="people", auto_generate_model=False)
    assert isinstance(people, DictRepo)
    rows = await people.list({"age__gte": 40})
    assert rows == [{"id": 3, "name": "cy", "age": 51, "tags": ["cs", "math"]}] or rows == [
        {"age": 51, "id": 3, "name": "cy", "tags": ["cs", "math"]}
    ]
    assert type(rows[0]) is dict
    with pytest.raises(QueryError, match="unknown field 'agee'"):
        await people.list({"agee": 1})
    with pytest.raises(QueryError, match="not a valid int"):
        await people.list({"age": "old"})
    created = await people.create({"id": 4, "name": "di", "age": 20, "tags": []})
    assert created["name"] == "di" and await people.count() == 4
    with pytest.raises(ConfigurationError, match="needs name="):
        await f.create(data=PEOPLE)


class Person(XObjPrototype):
    id: int
    name: str
    age: int | None = None


async def test_model_class_with_data_and_models_as_data() -> None:
    f = XRepoFactory()
    repo = await f.create(model_class=Person, data=[{"id": 1, "name": "a"}], primary_key="id")
    assert isinstance(repo, MaterializedRepo) and repo.model is Person
    got = await repo.read(1)
    assert isinstance(got, Person)
    updated = await repo.update(1, {"age": 3})
    assert updated is not None and updated.age == 3
    from_models = await f.create(data=[Person(id=5, name="e")], name="persons")
    assert [p.id for p in await from_models.list()] == [5]


async def test_schema_override_and_schema_alone() -> None:
    spec = CollectionSpec(
        name="things",
        kind="memory",
        primary_key=("code",),
        fields=(
            FieldSpec(
                name="code", type=TypeSpec(kind=LogicalType.STR), nullable=False, required=True
            ),
            FieldSpec(name="qty", type=TypeSpec(kind=LogicalType.INT)),
        ),
    )
    f = XRepoFactory()
    empty = await f.create(schema=spec)
    assert await empty.count() == 0
    made = await empty.create({"code": "a", "qty": 2})
    assert made.code == "a"
    # override: the data's own inference (qty would be str) loses to the given schema
    repo = await f.create(data=[{"code": "b", "qty": "7"}], name="things", schema=spec)
    item = await repo.read("b")
    assert item is not None and item.qty == 7
    with pytest.raises(ConfigurationError, match="not a valid collection spec"):
        await f.create(schema={"name": "x"})


async def test_csv_and_json_resources(tmp_path: Path) -> None:
    csv_path = tmp_path / "scores.csv"
    csv_path.write_text("id,player,score\n1,ann,3.5\n2,ben,\n3,cat,9\n", encoding="utf-8")
    json_path = tmp_path / "events.json"
    json_path.write_text(
        "\n".join(json.dumps({"_id": f"e{i}", "kind": "k", "n": i}) for i in range(4)),
        encoding="utf-8",
    )
    f = XRepoFactory()
    csv = CsvResource(csv_path)
    assert await csv.validate_connection()
    assert await csv.list_collections_or_tables() == ["scores"]
    scores = await f.create(resource=csv, auto_generate_model=True)
    assert [s.player for s in await scores.list({"score__gt": 3})] == ["ann", "cat"]
    # a second repo on the same resource shares its data
    plain = await f.create_from_resource(csv, "scores")
    await scores.create({"id": 4, "player": "dee", "score": 1.0})
    assert await plain.count() == 4
    events = await f.create(resource=JsonResource(json_path), auto_generate_model=True)
    assert await events.count({"n__gte": 2}) == 2
    assert (await events.read("e1")) is not None
    assert not await CsvResource(tmp_path / "missing.csv").validate_connection()


async def test_resource_collection_must_be_named_when_ambiguous() -> None:
    res = MemoryResource({"a": [{"x": 1}], "b": [{"y": 2}]})
    f = XRepoFactory()
    with pytest.raises(ConfigurationError, match="holds 2 collections \\(a, b\\)"):
        await f.create(resource=res)
    with pytest.raises(ConfigurationError, match="no collection 'c' \\(it has: a, b\\)"):
        await f.create(resource=res, collection="c")
    b = await f.create(resource=res, collection="b")
    assert await b.list() == [{"y": 2}]


async def test_aggregate_config_errors() -> None:
    f = XRepoFactory()
    people = await f.create(data=PEOPLE, name="people")
    with pytest.raises(ConfigurationError, match="unknown operator 'median'"):
        await f.create_aggregate_repo("a", people, {"aggregations": {"m": {"median": "age"}}})
    with pytest.raises(ConfigurationError, match="needs a number field"):
        await f.create_aggregate_repo("a", people, {"aggregations": {"s": {"sum": "name"}}})
    with pytest.raises(ConfigurationError, match="unknown field 'agee'"):
        await f.create_aggregate_repo("a", people, {"aggregations": {"s": {"sum": "agee"}}})
    with pytest.raises(ConfigurationError, match="no aggregations"):
        await f.create_aggregate_repo("a", people, {"group_by": "name"})
    total = await f.create(
        source_repos=[people],
        aggregation_config={
            "aggregations": [{"op": "count", "as": "n"}, {"op": "avg", "field": "age"}],
        },
        name="totals",
    )
    rows = await total.list()
    assert [(r.n, r.avg_age) for r in rows] == [(3, 43.5)]
