"""The seed's examples, as tests: repos from data, from a model class, from a resource (one per
collection, in a loop), a view joining two sources with per-source filters, an aggregate repo.
All on a copy of examples/shop.db (SQLite, queries pushed down) plus in-memory / CSV data."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from xrepo.runtime import (
    ConnectedRepo,
    CsvResource,
    DictRepo,
    SQLiteResource,
    XObjPrototype,
    XRepoFactory,
)

SHOP = Path(__file__).resolve().parents[1] / "examples" / "shop.db"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[SQLiteResource]:
    path = tmp_path / "shop.db"
    shutil.copy(SHOP, path)
    resource = SQLiteResource(path)
    async with resource:
        yield resource


async def test_repo_from_data() -> None:
    factory = XRepoFactory()
    users = await factory.create(
        data=[
            {"id": 1, "name": "Alice", "email": "alice@example.com", "age": 30},
            {"id": 2, "name": "Bob", "email": "bob@example.com", "age": 25},
        ],
        name="users",
    )
    adults = await users.list({"age__gte": 26})
    assert [u.name for u in adults] == ["Alice"]
    carol = await users.create({"id": 3, "name": "Carol", "email": "c@example.com", "age": 41})
    assert carol.age == 41
    assert await users.count() == 3
    assert await users.read(2) is not None


class Customer(XObjPrototype):
    id: int
    email: str
    full_name: str
    tier: str
    website: str | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    deleted_at: datetime.datetime | None = None


async def test_repo_from_model_class(shop: SQLiteResource) -> None:
    factory = XRepoFactory()
    customers = await factory.create(model_class=Customer, resource=shop)
    assert isinstance(customers, ConnectedRepo)
    assert customers.metadata.collection == "customers"
    assert customers.metadata.soft_delete and customers.metadata.auto_timestamps
    pro = await customers.list({"tier": "pro"}, sort=[("id", 1)])
    assert all(isinstance(c, Customer) for c in pro)
    assert [c.full_name for c in pro] == ["Ada Lovelace", "Barbara Liskov"]
    new = await customers.create({"email": "m@example.com", "full_name": "M H", "tier": "free"})
    assert new.id > 5 and new.created_at is not None
    assert await customers.delete(new.id)  # soft
    assert await customers.read(new.id) is None
    rows = await shop.backend().execute("SELECT deleted_at FROM customers WHERE id = ?", [new.id])
    assert rows[0][0] is not None


async def test_repo_per_collection_from_a_resource(shop: SQLiteResource) -> None:
    factory = XRepoFactory()
    assert await shop.validate_connection()
    repos = {}
    for name in await shop.list_collections_or_tables():
        repos[name] = await factory.create(resource=shop, collection=name)
    assert sorted(repos) == ["customers", "order_items", "order_totals", "orders", "products"]
    assert all(isinstance(r, DictRepo) for r in repos.values())
    counts = {name: await r.count() for name, r in repos.items()}
    assert counts == {
        "customers": 5,
        "order_items": 6,
        "order_totals": 5,
        "orders": 5,
        "products": 4,
    }
    cheap = await repos["products"].list({"price__lt": Decimal("30")}, sort=[("price", 1)])
    assert all(isinstance(p["price"], Decimal) for p in cheap)
    assert [p["price"] for p in cheap] == sorted(p["price"] for p in cheap)
    # typed instances: the same dynamic classes on every call while the schema is unchanged
    typed = await factory.create_from_resource(shop, "orders", auto_generate_model=True)
    again = await factory.create_from_resource(shop, "orders", auto_generate_model=True)
    assert typed.model is again.model and factory.registry.is_auto_generated("orders")
    first = await typed.find_one({"status": "paid"}, sort=[("id", 1)])
    assert first is not None and isinstance(first.ordered_on, datetime.date)


async def test_view_joining_two_sources_with_per_source_filters(
    shop: SQLiteResource, tmp_path: Path
) -> None:
    extra = tmp_path / "loyalty.csv"
    extra.write_text(
        "customer_id,points,tier\n1,120,gold\n2,30,silver\n3,75,gold\n4,5,bronze\n",
        encoding="utf-8",
    )
    factory = XRepoFactory()
    view = await factory.create_view_from_resources(
        "customer_loyalty",
        {"customers": (shop, "customers"), "loyalty": CsvResource(extra)},
        {
            "type": "inner",
            "on": {"customers": "id", "loyalty": "customer_id"},
            "customer_filters": {"tier": {"$in": ["pro", "free"]}},
            "loyalty_filters": {"points__gte": 50},
        },
    )
    rows = await view.list(sort=[("points", -1)])
    assert [(r.full_name, r.points, r.customers_tier, r.loyalty_tier) for r in rows] == [
        ("Ada Lovelace", 120, "pro", "gold"),
        ("Grace Hopper", 75, "free", "gold"),
    ]
    fresh = view.freshness
    assert fresh.source_rows == {"customers": 4, "loyalty": 2}  # filters ran at the sources
    assert factory.registry.get_schema("customer_loyalty") == view.collection_spec


async def test_aggregate_repo_orders_per_customer(shop: SQLiteResource) -> None:
    factory = XRepoFactory()
    items = await factory.create_from_resource(shop, "order_totals", auto_generate_model=True)
    per_customer = await factory.create_aggregate_repo(
        "orders_per_customer",
        items,
        {
            "group_by": ["customer_id"],
            "aggregations": {
                "orders": {"count": "*"},
                "distinct_orders": {"count_distinct": "order_id"},
                "revenue": {"sum": "total"},
                "average": {"avg": "total"},
                "smallest": {"min": "total"},
                "largest": {"max": "total"},
            },
        },
    )
    rows = {r.customer_id: r for r in await per_customer.list()}
    raw = await shop.backend().execute(
        "SELECT o.customer_id, COUNT(DISTINCT o.id), SUM(i.quantity * i.unit_price), "
        "MIN(t), MAX(t) FROM orders o JOIN order_items i ON i.order_id = o.id "
        "JOIN (SELECT order_id, SUM(quantity * unit_price) AS t FROM order_items "
        "GROUP BY order_id) x ON x.order_id = o.id GROUP BY o.customer_id"
    )
    assert set(rows) == {r[0] for r in raw}
    for cid, n, revenue, lo, hi in raw:
        got = rows[cid]
        assert got.orders == got.distinct_orders == n
        assert got.revenue == pytest.approx(revenue)
        assert got.average == pytest.approx(revenue / n)
        assert (got.smallest, got.largest) == (pytest.approx(lo), pytest.approx(hi))
    ada = await per_customer.read(1)  # group key is the primary key
    assert ada is not None and ada.orders == 2
    assert per_customer.freshness.rows == len(raw)
