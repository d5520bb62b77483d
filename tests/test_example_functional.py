"""The committed example output (generated/) at work: CRUD and filtered lists through the
generated repos, on SQLite (a copy of examples/shop.db), in memory, and over the file sources."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from generated.catalog import CatalogRepo
from generated.penguins import PenguinRepo
from generated.shop import (
    CustomerCreate,
    CustomerRepo,
    CustomerUpdate,
    OrderItemRepo,
    OrderRepo,
    ProductRepo,
)
from xrepo.runtime import ConstraintError, MemoryBackend, SQLiteBackend

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
async def db(tmp_path: Path) -> AsyncIterator[SQLiteBackend]:
    path = tmp_path / "shop.db"
    shutil.copy(ROOT / "examples" / "shop.db", path)
    async with SQLiteBackend(path) as backend:
        yield backend


@pytest.fixture(params=["sqlite", "memory"])
async def customers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CustomerRepo]:
    if request.param == "memory":
        repo = CustomerRepo(MemoryBackend())
        await repo.bulk_create(
            [
                {"email": "ada@example.com", "full_name": "Ada Lovelace", "tier": "pro"},
                {"email": "alan@example.com", "full_name": "Alan Turing", "tier": "enterprise"},
                {"email": "grace@example.com", "full_name": "Grace Hopper"},
            ]
        )
        yield repo
        return
    path = tmp_path / "shop.db"
    shutil.copy(ROOT / "examples" / "shop.db", path)
    async with SQLiteBackend(path) as backend:
        yield CustomerRepo(backend)


async def test_crud_roundtrip(customers: CustomerRepo) -> None:
    created = await customers.create(
        CustomerCreate(email="katherine@example.com", full_name="Katherine Johnson")
    )
    assert created.id > 0 and created.tier == "free"  # the column default applies
    assert isinstance(created.created_at, datetime.datetime)
    assert created.created_at.tzinfo is None  # a naive DATETIME column gets a naive stamp
    got = await customers.read(created.id)
    assert got == created
    updated = await customers.update(created.id, CustomerUpdate(tier="enterprise"))
    assert updated is not None and updated.tier == "enterprise"
    assert updated.full_name == "Katherine Johnson"  # untouched fields stay
    assert await customers.delete(created.id) is True
    assert await customers.read(created.id) is None  # soft-deleted rows are invisible
    assert await customers.delete(created.id) is False


async def test_filtered_lists_sort_and_paging(customers: CustomerRepo) -> None:
    paying = await customers.list({"tier": {"$in": ["pro", "enterprise"]}}, sort=[("email", 1)])
    assert [c.email for c in paying][:2] == ["ada@example.com", "alan@example.com"]
    assert await customers.count({"tier__ne": "free"}) == len(paying)
    page = await customers.list(sort=[("email", -1)], skip=1, limit=1)
    assert len(page) == 1
    everyone = await customers.list(sort=[("email", -1)])
    assert page[0] == everyone[1]
    assert await customers.exists({"email": "ada@example.com"})
    assert not await customers.exists({"email": {"$regex": "^nobody@"}})
    ada = await customers.get_by_email("ada@example.com")
    assert ada is not None and ada.full_name == "Ada Lovelace"


async def test_unique_violation_is_a_constraint_error(customers: CustomerRepo) -> None:
    with pytest.raises(ConstraintError):
        await customers.create({"email": "ada@example.com", "full_name": "Ada again"})


async def test_foreign_key_helpers_and_composite_keys(db: SQLiteBackend) -> None:
    orders, items, products = OrderRepo(db), OrderItemRepo(db), ProductRepo(db)
    assert [o.id for o in await orders.list_by_customer_id(1)] == [1, 2]
    line = await items.get_by_order_id_and_sku(1, "CB-004")
    assert line is not None and line.quantity == 2 and line.unit_price == Decimal("9.99")
    assert await items.read((1, "KB-001")) is not None
    cheap = await products.list({"price": {"$lt": Decimal("25")}}, sort=[("price", 1)])
    assert [p.sku for p in cheap] == ["CB-004", "MS-002"]
    released = await products.list({"released_on__gte": datetime.date(2023, 11, 1)})
    assert {p.sku for p in released} == {"MS-002", "MN-003"}


async def test_csv_source_as_materialized_repo() -> None:
    penguins = PenguinRepo.from_file(ROOT / "examples" / "penguins.csv")
    assert await penguins.count() == 344
    assert await penguins.count({"species": "Adelie"}) == 152
    missing_bill = await penguins.count({"bill_length_mm": None})
    assert missing_bill == 2  # the two NA rows
    big = await penguins.list({"body_mass_g__gte": 6000}, sort=[("body_mass_g", -1)])
    assert [p.body_mass_g for p in big] == [6300, 6050, 6000, 6000]
    assert sorted(await penguins.distinct("island")) == ["Biscoe", "Dream", "Torgersen"]


async def test_json_source_nested_filters() -> None:
    catalog = CatalogRepo.from_file(ROOT / "examples" / "catalog.json")
    assert await catalog.count({"publisher.city": "Cambridge"}) == 2
    books = await catalog.list({"kind": "book", "tags": "lisp"})
    assert [b.id for b in books] == ["bk-001"]
    item = await catalog.find_one({"ratings": {"$elemMatch": {"stars": {"$lt": 4}}}})
    assert item is not None and item.id == "vd-001"


async def test_generated_datetime_fields_filter_and_sort_alike(customers: CustomerRepo) -> None:
    # Generated models type DATETIME columns as pydantic.NaiveDatetime: SQL must treat them
    # as datetimes (not untyped values) and agree with memory.
    stamp = datetime.datetime(2024, 3, 1)
    early = await customers.create(
        {"email": "e@example.com", "full_name": "E", "created_at": stamp}
    )
    newest = await customers.list(sort=[("created_at", -1), ("id", 1)], limit=50)
    stamps = [c.created_at for c in newest if c.created_at is not None]
    assert stamps == sorted(stamps, reverse=True)
    since = await customers.list({"created_at__gte": stamp}, sort=[("created_at", 1)])
    assert all(c.created_at is not None and c.created_at >= stamp for c in since)
    assert early.id in [c.id for c in since]
    before = await customers.count({"created_at": {"$lt": stamp}})
    assert before == len([c for c in newest if c.created_at is not None and c.created_at < stamp])


async def test_new_rows_share_one_timestamp(customers: CustomerRepo) -> None:
    made = await customers.create({"email": "t@example.com", "full_name": "T"})
    assert made.created_at is not None and made.created_at == made.updated_at
