"""Aggregation over PostgreSQL: what is pushed down (explain), what runs in memory on the pushed
prefix's result, and results equal to hand-written SQL on Chinook (read-only)."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
from pg import run_sql

from xrepo.runtime import ConnectedRepo, RepoMetadata, UnsupportedQueryError, XObjPrototype
from xrepo.runtime.backends.postgres import PostgresBackend


class Invoice(XObjPrototype):
    invoice_id: int
    customer_id: int
    invoice_date: datetime.datetime
    billing_city: str | None = None
    billing_country: str | None = None
    total: decimal.Decimal


class Invoices(ConnectedRepo[Invoice, Invoice, Invoice, dict[str, Any], str]):
    model = create_model = update_model = Invoice
    metadata = RepoMetadata(name="invoice", collection="invoice", primary_key=("invoice_id",))


class Customer(XObjPrototype):
    customer_id: int
    first_name: str
    last_name: str
    country: str | None = None


class Customers(ConnectedRepo[Customer, Customer, Customer, dict[str, Any], str]):
    model = create_model = update_model = Customer
    metadata = RepoMetadata(name="customer", collection="customer", primary_key=("customer_id",))


@pytest.fixture
async def chinook(chinook_dsn: str) -> Any:
    async with PostgresBackend(chinook_dsn, min_size=1, max_size=2) as be:
        yield be


async def test_revenue_report_is_one_select_equal_to_hand_written_sql(chinook: Any) -> None:
    repo = Invoices(chinook)
    pipe: list[dict[str, Any]] = [
        {"$match": {"invoice_date": {"$gte": datetime.datetime(2022, 1, 1)}}},
        {"$group": {"_id": "$billing_country", "revenue": {"$sum": "$total"}, "n": {"$sum": 1}}},
        {"$match": {"n": {"$gte": 5}}},
        {"$sort": {"revenue": -1, "_id": 1}},
        {"$limit": 5},
    ]
    plan = repo.explain_aggregate(pipe)
    assert plan["memory_stages"] == [] and len(plan["sql_stages"]) == len(pipe)
    got = await repo.aggregate(pipe)
    want = await chinook.fetch(
        "SELECT billing_country, sum(total) AS revenue, count(*) AS n FROM invoice"
        " WHERE invoice_date >= '2022-01-01' GROUP BY billing_country HAVING count(*) >= 5"
        ' ORDER BY revenue DESC, billing_country COLLATE "C" LIMIT 5'
    )
    assert got == [
        {"_id": r["billing_country"], "revenue": r["revenue"], "n": r["n"]} for r in want
    ]
    assert isinstance(got[0]["revenue"], decimal.Decimal)


async def test_count_sort_by_count_project_and_paging_push_down(chinook: Any) -> None:
    repo = Invoices(chinook)
    total = (await chinook.fetch("SELECT count(*) FROM invoice WHERE total > 10"))[0][0]
    assert await repo.aggregate([{"$match": {"total": {"$gt": 10}}}, {"$count": "n"}]) == [
        {"n": total}
    ]
    by_city = await repo.aggregate([{"$sortByCount": "$billing_city"}, {"$limit": 3}])
    want = await chinook.fetch(
        "SELECT billing_city, count(*) AS c FROM invoice GROUP BY billing_city"
        " ORDER BY c DESC LIMIT 3"
    )
    assert [d["count"] for d in by_city] == [r["c"] for r in want]
    pipe = [
        {"$sort": {"total": -1, "invoice_id": 1}},
        {"$skip": 2},
        {"$limit": 3},
        {"$project": {"_id": 0, "invoice_id": 1, "amount": "$total"}},
    ]
    assert repo.explain_aggregate(pipe)["memory_stages"] == []
    rows = await chinook.fetch(
        "SELECT invoice_id, total FROM invoice ORDER BY total DESC, invoice_id OFFSET 2 LIMIT 3"
    )
    assert await repo.aggregate(pipe) == [
        {"invoice_id": r["invoice_id"], "amount": r["total"]} for r in rows
    ]


async def test_lookup_and_unpushable_stages_run_on_the_pushed_prefix(chinook: Any) -> None:
    repo = Invoices(chinook)
    pipe: list[dict[str, Any]] = [
        {"$match": {"total": {"$gte": 20}}},
        {"$sort": {"invoice_id": 1}},
        {"$limit": 3},
        {
            "$lookup": {
                "from": "customer",
                "localField": "customer_id",
                "foreignField": "customer_id",
                "as": "who",
            }
        },
        {"$addFields": {"twice": {"$multiply": ["$total", 2]}}},
    ]
    plan = repo.explain_aggregate(pipe)
    # The filter, sort and limit run in SQL; $lookup reads only the customers it needs.
    assert plan["sql_stages"] == ["$match", "$sort", "$limit"]
    assert plan["memory_stages"] == ["$lookup", "$addFields"]
    got = await repo.aggregate(pipe)
    want = await chinook.fetch(
        "SELECT i.invoice_id, i.total, c.first_name FROM invoice i"
        " JOIN customer c USING (customer_id) WHERE i.total >= 20 ORDER BY i.invoice_id LIMIT 3"
    )
    assert [d["invoice_id"] for d in got] == [r["invoice_id"] for r in want]
    assert [d["who"][0]["first_name"] for d in got] == [r["first_name"] for r in want]
    assert [d["twice"] for d in got] == [r["total"] * 2 for r in want]


async def test_first_match_without_sql_form_is_refused_not_loaded(pg_dsn: str) -> None:
    run_sql(pg_dsn, "CREATE TABLE things (id int PRIMARY KEY, extra jsonb)")

    class Thing(XObjPrototype):
        id: int
        extra: Any = None

    class Things(ConnectedRepo[Thing, Thing, Thing, dict[str, Any], str]):
        model = create_model = update_model = Thing
        metadata = RepoMetadata(name="things", collection="things", primary_key=("id",))

    async with PostgresBackend(pg_dsn, min_size=1, max_size=1) as be:
        repo = Things(be)
        await repo.bulk_create([{"id": 1, "extra": [1, None]}, {"id": 2, "extra": "x"}])
        with pytest.raises(UnsupportedQueryError):
            await repo.aggregate([{"$match": {"extra": {"$gt": 1}}}])
        assert await repo.aggregate([{"$match": {"extra": None}}, {"$count": "n"}]) == [{"n": 1}]
        assert await repo.count({"extra": {"$ne": None}}) == 1
