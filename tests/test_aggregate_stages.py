"""Pipeline stages with MongoDB semantics, on MaterializedRepo and on the SQLite ConnectedRepo
(each test runs on both; whatever SQLite cannot push down runs in memory)."""

from __future__ import annotations

import datetime
import decimal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from xrepo.runtime import (
    BackendError,
    ConnectedRepo,
    MaterializedRepo,
    QueryError,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)


class Place(XObjPrototype):
    city: str | None = None
    zip_code: str | None = Field(default=None, alias="zip")


class Sale(XObjPrototype):
    id: int
    region: str | None = None
    qty: int | None = None
    price: float | None = None
    amount: decimal.Decimal | None = None
    day: datetime.date | None = None
    ok: bool | None = None
    tags: list[str] = Field(default_factory=list)
    place: Place | None = None
    item_code: str | None = Field(default=None, alias="Item Code")
    extra: Any = None
    deleted_at: datetime.datetime | None = None


class Customer(XObjPrototype):
    code: str
    name: str


META = RepoMetadata(name="sales", collection="sales", primary_key=("id",), soft_delete=True)
CMETA = RepoMetadata(name="customers", collection="customers", primary_key=("code",))


class MemSales(MaterializedRepo[Sale, Sale, Sale, dict[str, Any], str]):
    model = create_model = update_model = Sale
    metadata = META


class SqlSales(ConnectedRepo[Sale, Sale, Sale, dict[str, Any], str]):
    model = create_model = update_model = Sale
    metadata = META


class SqlCustomers(ConnectedRepo[Customer, Customer, Customer, dict[str, Any], str]):
    model = create_model = update_model = Customer
    metadata = CMETA


D = decimal.Decimal
ROWS: list[dict[str, Any]] = [
    dict(id=1, region="north", qty=2, price=1.5, amount=D("1.10"), day=datetime.date(2024, 1, 1),
         ok=True, tags=["a", "b"], place={"city": "Oslo", "zip": "0150"}, item_code="X",
         extra=5),
    dict(id=2, region="south", qty=5, price=2.0, amount=D("2.20"), day=datetime.date(2024, 1, 2),
         ok=False, tags=[], place=None, item_code="Y", extra="five"),
    dict(id=3, region="north", qty=None, tags=["b"], place={"city": "Bergen", "zip": None},
         extra=[1, 2]),
    dict(id=4, region=None, qty=7, price=3.25, tags=["c"], item_code="X", extra={"k": 1}),
    dict(id=5, region="west", qty=1, price=9.0, tags=["a"], item_code="Z", extra=True),
]  # fmt: skip
CUSTOMERS = [
    dict(code="X", name="Xavier"),
    dict(code="Y", name="Yolanda"),
    dict(code="Q", name="Q"),
]
SALES_DDL = """CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT, qty INTEGER, price REAL,
  amount TEXT, day TEXT, ok INTEGER, tags TEXT, place TEXT, "Item Code" TEXT, extra TEXT,
  deleted_at TEXT)"""


@pytest.fixture(params=["memory", "sqlite"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        mem = MemSales(ROWS)
        mem.backend.insert_now(SqlCustomers.plan().collection, CUSTOMERS)  # type: ignore[attr-defined]
        await mem.delete(5)  # soft-deleted rows never reach a pipeline
        yield mem
        return
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.execute(SALES_DDL)
        db.execute("CREATE TABLE customers (code TEXT PRIMARY KEY, name TEXT)")
    backend = SQLiteBackend(path)
    sql = SqlSales(backend)
    await sql.bulk_create(ROWS)
    await SqlCustomers(backend).bulk_create(CUSTOMERS)
    await sql.delete(5)
    yield sql
    await backend.close()


def ids(rows: list[dict[str, Any]]) -> list[Any]:
    return [r["id"] for r in rows]


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: repr(r["_id"]))


async def test_match_then_python_names(repo: Any) -> None:
    rows = await repo.aggregate([{"$match": {"place.zip_code": "0150"}}])
    assert ids(rows) == [1]
    assert rows[0]["place"] == {"city": "Oslo", "zip_code": "0150"}
    assert rows[0]["item_code"] == "X" and rows[0]["amount"] == D("1.10")
    assert rows[0]["day"] == datetime.date(2024, 1, 1) and rows[0]["ok"] is True
    assert ids(await repo.aggregate([{"$match": {"qty__gte": 2}}, {"$sort": {"id": 1}}])) == [
        1, 2, 4,
    ]  # fmt: skip
    assert ids(await repo.aggregate([{"$match": {"day": "2024-01-02"}}])) == [2]  # coerced


async def test_later_match_is_lenient_and_untyped(repo: Any) -> None:
    pipe = [
        {"$addFields": {"t": {"$multiply": ["$qty", "$price"]}}},
        {"$match": {"t": {"$gte": 10}}},
    ]
    assert sorted(ids(await repo.aggregate(pipe))) == [2, 4]
    # not coerced after the first stage: a string is not a date
    pipe = [{"$sort": {"id": 1}}, {"$match": {"day": "2024-01-02"}}]
    assert await repo.aggregate(pipe) == []


async def test_group_semantics(repo: Any) -> None:
    rows = await repo.aggregate(
        [
            {
                "$group": {
                    "_id": "$region",
                    "n": {"$sum": 1},
                    "c": {"$count": {}},
                    "qty": {"$sum": "$qty"},
                    "avg": {"$avg": "$price"},
                    "lo": {"$min": "$day"},
                    "hi": {"$max": "$qty"},
                }
            }
        ]
    )
    assert by_id(rows) == by_id(
        [
            {"_id": None, "n": 1, "c": 1, "qty": 7, "avg": 3.25, "lo": None, "hi": 7},
            {
                "_id": "north",
                "n": 2,
                "c": 2,
                "qty": 2,
                "avg": 1.5,
                "lo": datetime.date(2024, 1, 1),
                "hi": 2,
            },
            {
                "_id": "south",
                "n": 1,
                "c": 1,
                "qty": 5,
                "avg": 2.0,
                "lo": datetime.date(2024, 1, 2),
                "hi": 5,
            },
        ]
    )


async def test_group_missing_and_null_share_a_key(repo: Any) -> None:
    # place.city: missing when place is null (rows 2, 4), a value otherwise
    rows = await repo.aggregate([{"$group": {"_id": "$place.city", "n": {"$sum": 1}}}])
    assert by_id(rows) == by_id(
        [{"_id": None, "n": 2}, {"_id": "Bergen", "n": 1}, {"_id": "Oslo", "n": 1}]
    )


async def test_group_null_id_and_empty_input(repo: Any) -> None:
    rows = await repo.aggregate([{"$group": {"_id": None, "total": {"$sum": "$qty"}}}])
    assert rows == [{"_id": None, "total": 14}]
    empty = [{"$match": {"id": 99}}, {"$group": {"_id": None, "total": {"$sum": "$qty"}}}]
    assert await repo.aggregate(empty) == []


async def test_group_object_id_and_having(repo: Any) -> None:
    rows = await repo.aggregate(
        [
            {"$group": {"_id": {"r": "$region", "code": "$item_code"}, "q": {"$sum": "$qty"}}},
            {"$match": {"q": {"$gt": 1}}},
            {"$sort": {"q": -1}},
        ]
    )
    assert rows == [
        {"_id": {"r": None, "code": "X"}, "q": 7},
        {"_id": {"r": "south", "code": "Y"}, "q": 5},
        {"_id": {"r": "north", "code": "X"}, "q": 2},
    ]


async def test_accumulators_on_mixed_values(repo: Any) -> None:
    rows = await repo.aggregate(
        [
            {"$sort": {"id": 1}},
            {
                "$group": {
                    "_id": None,
                    "sum": {"$sum": "$extra"},  # 5 and True: bool is not a number
                    "avg": {"$avg": "$extra"},
                    "none": {"$avg": "$item_code"},
                    "min": {"$min": "$extra"},
                    "max": {"$max": "$extra"},
                    "push": {"$push": "$place.city"},  # missing values are not pushed
                    "set": {"$addToSet": "$region"},
                    "first": {"$first": "$qty"},
                    "last": {"$last": "$place.city"},
                }
            },
        ]
    )
    assert rows == [
        {"_id": None, "sum": 5, "avg": 5.0, "none": None, "min": 5, "max": [1, 2],
         "push": ["Oslo", "Bergen"], "set": ["north", "south", None], "first": 2, "last": None}
    ]  # fmt: skip


async def test_sort_cross_type_order(repo: Any) -> None:
    rows = await repo.aggregate([{"$sort": {"extra": 1, "id": 1}}, {"$project": {"extra": 1}}])
    assert [r["extra"] for r in rows] == [5, "five", {"k": 1}, [1, 2]]
    rows = await repo.aggregate([{"$sort": {"qty": -1}}, {"$project": {"id": 1, "_id": 0}}])
    assert ids(rows) == [4, 2, 1, 3]  # null last when descending


async def test_project_forms(repo: Any) -> None:
    rows = await repo.aggregate(
        [
            {"$match": {"id": {"$in": [1, 2]}}},
            {"$sort": {"id": 1}},
            {"$project": {"id": 1, "code": "$item_code", "city": "$place.city",
                          "place": {"zip_code": 1}, "big": {"$gt": ["$qty", 3]}}},
        ]
    )  # fmt: skip
    assert rows == [
        {"id": 1, "code": "X", "city": "Oslo", "place": {"zip_code": "0150"}, "big": False},
        {"id": 2, "code": "Y", "big": True},
    ]
    rows = await repo.aggregate(
        [{"$match": {"id": 1}}, {"$project": {"tags": 0, "place": 0, "extra": 0, "amount": 0}}]
    )
    assert set(rows[0]) == {"id", "region", "qty", "price", "day", "ok", "item_code", "deleted_at"}
    rows = await repo.aggregate([{"$match": {"id": 1}}, {"$unset": ["place.city", "tags"]}])
    assert rows[0]["place"] == {"zip_code": "0150"} and "tags" not in rows[0]


async def test_add_fields_and_set(repo: Any) -> None:
    rows = await repo.aggregate(
        [
            {"$match": {"id": 1}},
            {"$addFields": {"place.country": "NO", "qty": {"$add": ["$qty", 1]}}},
            {"$set": {"label": {"$concat": ["$region", "-", "$place.country"]}}},
        ]
    )
    assert rows[0]["place"] == {"city": "Oslo", "zip_code": "0150", "country": "NO"}
    assert rows[0]["qty"] == 3 and rows[0]["label"] == "north-NO"


async def test_unwind_forms(repo: Any) -> None:
    rows = await repo.aggregate(
        [{"$sort": {"id": 1}}, {"$unwind": "$tags"}, {"$project": {"id": 1, "tags": 1}}]
    )
    assert [(r["id"], r["tags"]) for r in rows] == [(1, "a"), (1, "b"), (3, "b"), (4, "c")]
    rows = await repo.aggregate(
        [
            {"$sort": {"id": 1}},
            {"$unwind": {"path": "$tags", "includeArrayIndex": "i",
                         "preserveNullAndEmptyArrays": True}},
            {"$project": {"id": 1, "tags": 1, "i": 1}},
        ]
    )  # fmt: skip
    assert rows == [
        {"id": 1, "tags": "a", "i": 0}, {"id": 1, "tags": "b", "i": 1},
        {"id": 2, "i": None},  # empty array: the field goes, the document stays
        {"id": 3, "tags": "b", "i": 0}, {"id": 4, "tags": "c", "i": 0},
    ]  # fmt: skip
    # a scalar unwinds to itself; null is dropped unless preserved
    rows = await repo.aggregate([{"$sort": {"id": 1}}, {"$unwind": "$region"}])
    assert ids(rows) == [1, 2, 3]


async def test_count_and_sort_by_count(repo: Any) -> None:
    assert await repo.aggregate([{"$count": "n"}]) == [{"n": 4}]
    assert await repo.aggregate([{"$match": {"id": 0}}, {"$count": "n"}]) == []
    rows = await repo.aggregate([{"$unwind": "$tags"}, {"$sortByCount": "$tags"}])
    assert rows[0] == {"_id": "b", "count": 2}
    assert sorted(r["_id"] for r in rows[1:]) == ["a", "c"]


async def test_skip_limit(repo: Any) -> None:
    pipe = [{"$sort": {"id": -1}}, {"$skip": 1}, {"$limit": 2}, {"$skip": 1}]
    assert ids(await repo.aggregate(pipe)) == [2]
    pipe = [{"$sort": {"id": 1}}, {"$limit": 3}, {"$limit": 5}]
    assert ids(await repo.aggregate(pipe)) == [1, 2, 3]


async def test_lookup(repo: Any) -> None:
    rows = await repo.aggregate(
        [
            {"$sort": {"id": 1}},
            {"$lookup": {"from": "customers", "localField": "item_code",
                         "foreignField": "code", "as": "who"}},
            {"$project": {"id": 1, "who.name": 1}},
        ]
    )  # fmt: skip
    assert rows == [
        {"id": 1, "who": [{"name": "Xavier"}]},
        {"id": 2, "who": [{"name": "Yolanda"}]},
        {"id": 3, "who": []},
        {"id": 4, "who": [{"name": "Xavier"}]},
    ]
    # array local values match any element
    group = {"$group": {"_id": None, "codes": {"$addToSet": "$item_code"}}}
    rows = await repo.aggregate(
        [group, {"$lookup": {"from": "customers", "localField": "codes", "foreignField": "code",
                             "as": "c"}}]
    )  # fmt: skip
    assert sorted(c["name"] for c in rows[0]["c"]) == ["Xavier", "Yolanda"]
    # a collection that does not exist: nothing joins in memory (as in MongoDB); SQLite names it
    missing = [group, {"$lookup": {"from": "nowhere", "localField": "codes", "foreignField": "x",
                                   "as": "none"}}]  # fmt: skip
    if isinstance(repo, MaterializedRepo):
        assert (await repo.aggregate(missing))[0]["none"] == []
    else:
        with pytest.raises(BackendError, match="no such table: nowhere"):
            await repo.aggregate(missing)


async def test_empty_pipeline_returns_live_rows(repo: Any) -> None:
    assert sorted(ids(await repo.aggregate([]))) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ([{"$match": {"id": 1}}, {"$bucket": {}}], r"pipeline\[1\]: unsupported stage '\$bucket'"),
        ([{"$match": {"nope": 1}}], r"pipeline\[0\] \(\$match\): unknown field 'nope'"),
        ([{"$match": {"qty": "many"}}], r"pipeline\[0\] \(\$match\): .*not a valid int"),
        ([{"$sort": {"id": 1}}, {"$match": {"nope": 1}}],
         r"pipeline\[1\] \(\$match\): unknown field 'nope'"),
        ([{"$group": {"_id": "$regoin"}}], r"pipeline\[0\] \(\$group\): unknown field 'regoin'"),
        ([{"$group": {"_id": None, "m": {"$median": "$qty"}}}],
         r"unsupported accumulator '\$median'"),
        ([{"$group": {"n": {"$sum": 1}}}], r"\$group needs an _id"),
        ([{"$project": {"x": {"$foo": 1}}}],
         r"pipeline\[0\] \(\$project\): unsupported expression operator '\$foo'"),
        ([{"$project": {"qty": 0, "price": 1}}], r"cannot mix exclusion"),
        ([{"$limit": 0}], r"\$limit takes a positive integer"),
        ([{"$skip": -1}], r"\$skip takes a non-negative integer"),
        ([{"$sort": {"qty": 2}}], r"direction must be 1 or -1"),
        ([{"$unwind": "tags"}], r"must start with '\$'"),
        ([{"$lookup": {"from": "c", "pipeline": []}}], r"pipeline form is not supported"),
        ([{"$match": {}, "$limit": 1}], r"exactly one \$operator key"),
        ([{"$count": "a.b"}], r"cannot contain '\.'"),
        ({"$match": {}}, r"a pipeline is a list"),
        ([{"$group": {"_id": "$qty"}}, {"$project": {"qty": 1}}],
         r"unknown field 'qty' \(known fields: _id\)"),
    ],
)  # fmt: skip
async def test_errors_name_stage_and_operator(repo: Any, pipeline: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        await repo.aggregate(pipeline)
    with pytest.raises(QueryError, match=message):
        repo.explain_aggregate(pipeline)


async def test_runtime_expression_error(repo: Any) -> None:
    with pytest.raises(QueryError, match=r"pipeline\[0\] \(\$project\): \$divide by zero"):
        await repo.aggregate([{"$project": {"x": {"$divide": ["$qty", 0]}}}])
