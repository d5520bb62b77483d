"""Pipelines on MongoDB, and the shared datasets (books, restaurant, grades, products) queried
through repos — hand-written models and models the dynamic ModelGenerator builds from the
MongoDB inspector's snapshot — agreeing with the same queries run by raw PyMongo."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from pydantic import Field
from pymongo import AsyncMongoClient, MongoClient

from xrepo.runtime import (
    ConnectedRepo,
    MaterializedRepo,
    ModelGenerator,
    QueryError,
    RepoMetadata,
    XObjPrototype,
)
from xrepo.runtime.backends.mongo import MongoBackend


# -- hand-written models of two datasets ------------------------------------------------------
class Score(XObjPrototype):
    type: str
    score: float


class Grade(XObjPrototype):
    id: str = Field(alias="_id")
    student_id: int
    class_id: int
    scores: list[Score] = Field(default_factory=list)


class GradeRepo(ConnectedRepo[Grade, Grade, Grade, dict[str, Any], str]):
    model = create_model = update_model = Grade
    metadata = RepoMetadata(name="grades", collection="grades", primary_key=("id",))


class Product(XObjPrototype):
    # ``_id`` mixes strings ("ac3") and ObjectIds: hex strings travel as ObjectIds, others as-is.
    id: str = Field(alias="_id")
    name: str
    brand: str | None = None
    type: str | list[str] | None = None
    price: float | None = None
    rating: float | None = None
    warranty_years: float | None = None
    available: bool | None = None
    for_: str | list[str] | None = Field(default=None, alias="for")
    limits: Any = None
    monthly_price: float | None = None
    color: str | None = None


PRODUCT_FIELDS = {f.alias or n for n, f in Product.model_fields.items()}


class ProductRepo(ConnectedRepo[Product, Product, Product, dict[str, Any], str]):
    model = create_model = update_model = Product
    metadata = RepoMetadata(name="products", collection="products", primary_key=("id",))


@pytest.fixture
async def data(mongo_datasets: tuple[str, str]) -> AsyncIterator[tuple[MongoBackend, Any]]:
    url, name = mongo_datasets
    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    backend = MongoBackend(url, name)
    await backend.connect()
    yield backend, client[name]
    await backend.close()
    await client.close()


def plain(doc: dict[str, Any]) -> dict[str, Any]:
    """A raw PyMongo document in the repo's terms: ObjectIds as hex strings."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, ObjectId):
            v = str(v)
        elif isinstance(v, dict):
            v = plain(v)
        elif isinstance(v, list):
            v = [
                plain(x) if isinstance(x, dict) else str(x) if isinstance(x, ObjectId) else x
                for x in v
            ]
        out[k] = v
    return out


async def test_grades_filters_and_pipeline_agree_with_pymongo(
    data: tuple[MongoBackend, Any],
) -> None:
    backend, db = data
    repo = GradeRepo(backend)
    flt = {
        "class_id": {"$in": [2, 5, 7]},
        "scores": {"$elemMatch": {"type": "exam", "score": {"$gte": 50}}},
    }
    got = await repo.list(flt, sort=[("student_id", 1)], skip=2, limit=5)
    want = (
        await db.grades.find(flt).sort([("student_id", 1), ("_id", 1)]).skip(2).limit(5).to_list()
    )
    assert [g.model_dump(by_alias=True) for g in got] == [plain(w) for w in want]
    assert await repo.count({"student_id": {"$lt": 10}}) == await db.grades.count_documents(
        {"student_id": {"$lt": 10}}
    )
    one = got[0]
    assert await repo.read(one.id) == one  # ObjectId _id, read by its hex string
    assert await repo.distinct("class_id", {"student_id": 0}) == sorted(
        await db.grades.distinct("class_id", {"student_id": 0})
    )
    pipe = [
        {"$unwind": "$scores"},
        {"$match": {"scores.type": "exam"}},
        {"$group": {"_id": "$class_id", "avg": {"$avg": "$scores.score"}, "n": {"$sum": 1}}},
        {"$sort": {"avg": -1, "_id": 1}},
        {"$limit": 5},
    ]
    raw = await (await db.grades.aggregate(pipe)).to_list()
    assert await repo.aggregate(pipe) == raw
    # The memory engine agrees on the same documents.
    mem = MaterializedRepoGrades([g.model_dump(by_alias=True) for g in await repo.list()])
    assert [(d["_id"], round(d["avg"], 9), d["n"]) for d in await mem.aggregate(pipe)] == [
        (d["_id"], round(d["avg"], 9), d["n"]) for d in raw
    ]


class MaterializedRepoGrades(MaterializedRepo[Grade, Grade, Grade, dict[str, Any], str]):
    model = create_model = update_model = Grade
    metadata = RepoMetadata(name="grades", collection="grades", primary_key=("id",))


async def test_products_mixed_ids_and_lookup(data: tuple[MongoBackend, Any]) -> None:
    backend, db = data
    repo = ProductRepo(backend)
    assert [
        p.model_dump(by_alias=True, exclude_none=True) for p in await repo.list(sort=[("name", 1)])
    ] == [
        {k: v for k, v in plain(d).items() if v is not None and k in PRODUCT_FIELDS}
        for d in await db.products.find().sort([("name", 1), ("_id", 1)]).to_list()
    ]
    ac3 = await repo.read("ac3")  # a string _id
    assert ac3 is not None and ac3.name == "AC3 Phone"
    oid = str((await db.products.find_one({"_id": {"$type": "objectId"}}))["_id"])
    found = await repo.read(oid)  # an ObjectId _id, by its hex string
    assert found is not None and found.id == oid
    assert [p.name for p in await repo.list({"for": "ac3"}, sort=[("name", 1)])] == sorted(
        d["name"] for d in await db.products.find({"for": "ac3"}).to_list()
    )
    assert [p.name for p in await repo.list({"type": "phone"}, sort=[("name", 1)])] == sorted(
        d["name"] for d in await db.products.find({"type": "phone"}).to_list()
    )
    # $lookup into the same database: accessories for each phone.
    pipe = [
        {"$match": {"type": "phone"}},
        {"$lookup": {"from": "products", "localField": "id", "foreignField": "for", "as": "acc"}},
        {"$project": {"name": 1, "n": {"$size": "$acc"}, "_id": 0}},
        {"$sort": {"name": 1}},
    ]
    raw_pipe = [
        {"$match": {"type": "phone"}},
        {"$lookup": {"from": "products", "localField": "_id", "foreignField": "for", "as": "acc"}},
        {"$project": {"name": 1, "n": {"$size": "$acc"}, "_id": 0}},
        {"$sort": {"name": 1}},
    ]
    got = await repo.aggregate(pipe)
    assert got == await (await db.products.aggregate(raw_pipe)).to_list()
    assert any(d["n"] > 0 for d in got)


async def test_dynamic_models_from_the_inspector_agree_with_pymongo(
    data: tuple[MongoBackend, Any], mongo_datasets: tuple[str, str]
) -> None:
    from xrepo.runtime.introspect.mongo import inspect_mongo_async

    backend, db = data
    url, name = mongo_datasets
    snapshot = await inspect_mongo_async(url, name="datasets", database=name, full_scan=True)
    models = ModelGenerator().generate_snapshot(snapshot)
    by_name = {key[1]: m for key, m in models.items()}
    assert {"books", "grades", "restaurant", "products"} <= set(by_name)
    checks: dict[str, tuple[dict[str, Any], str]] = {
        "books": ({"pageCount": {"$gt": 500}}, "title"),
        "restaurant": ({"type_of_food": "Thai", "rating": {"$gte": 5}}, "name"),
        "grades": ({"class_id": 7}, "student_id"),
    }
    for coll, (raw_filter, sort_source) in checks.items():
        dyn = by_name[coll]
        table_names = {
            (f.alias or n): n for n, f in dyn.model.model_fields.items()
        }  # source → Python

        class Repo(ConnectedRepo[Any, Any, Any, dict[str, Any], str]):
            model = dyn.model
            create_model = dyn.create_model
            update_model = dyn.update_model
            metadata = RepoMetadata(name=coll, collection=coll, primary_key=(table_names["_id"],))

        py_filter = {table_names[k]: v for k, v in raw_filter.items()}
        sort_py = table_names[sort_source]
        got = await Repo(backend).list(py_filter, sort=[(sort_py, 1)], limit=20)
        want = (
            await db[coll].find(raw_filter).sort([(sort_source, 1), ("_id", 1)]).limit(20).to_list()
        )
        assert [str(g.model_dump(by_alias=True)["_id"]) for g in got] == [
            str(w["_id"]) for w in want
        ], coll
        assert await Repo(backend).count(py_filter) == await db[coll].count_documents(raw_filter)
        assert len(got) > 0, coll
    # ObjectId-typed fields come from the snapshot (Model.Meta.source_schema).
    grades = by_name["grades"]

    class Grades(ConnectedRepo[Any, Any, Any, dict[str, Any], str]):
        model = grades.model
        create_model = grades.create_model
        update_model = grades.update_model
        metadata = RepoMetadata(name="g", collection="grades", primary_key=("id",))

    assert Grades.plan().collection.object_ids == frozenset({("_id",)})
    first = (await Grades(backend).list(limit=1))[0]
    assert await Grades(backend).read(first.id) == first


async def test_pipeline_values_and_refusals(data: tuple[MongoBackend, Any]) -> None:
    backend, db = data
    repo = ProductRepo(backend)
    out = await repo.aggregate(
        [
            {"$match": {"price": {"$gte": 100}}},
            {"$addFields": {"cheap": {"$lt": ["$price", decimal.Decimal("250")]}}},
            {"$group": {"_id": "$cheap", "names": {"$addToSet": "$name"}}},
            {"$sort": {"_id": 1}},
        ]
    )
    raw = await (
        await db.products.aggregate(
            [
                {"$match": {"price": {"$gte": 100}}},
                {"$group": {"_id": {"$lt": ["$price", 250]}, "names": {"$addToSet": "$name"}}},
                {"$sort": {"_id": 1}},
            ]
        )
    ).to_list()
    assert [(d["_id"], sorted(d["names"])) for d in out] == [
        (d["_id"], sorted(d["names"])) for d in raw
    ]
    when = datetime.date(2024, 1, 1)
    assert await repo.aggregate(
        [{"$addFields": {"d": when}}, {"$limit": 1}, {"$project": {"d": 1, "_id": 0}}]
    ) == [{"d": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)}]
    for bad in (
        [{"$lookup": {"from": "x", "pipeline": [{"$match": {"$where": "1"}}], "as": "y"}}],
        [{"$sortByCount": {"$function": {"body": "", "args": [], "lang": "js"}}}],
        [{"$graphLookup": {}}],
    ):
        with pytest.raises(QueryError):
            await repo.aggregate(bad)


def test_dataset_fixture_is_read_only(mongo_datasets: tuple[str, str]) -> None:
    url, name = mongo_datasets
    with MongoClient(url) as client:
        assert client[name].products.count_documents({}) == 11
