"""The bundled example, end to end: the generated repos at work on SQLite, a CSV and a JSON file.

Run from the project root after `xrepo inspect && xrepo generate`:  python examples/demo.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The generated package lives at the project root (output_dir = "generated").
sys.path.insert(0, str(ROOT))

from generated.catalog import CatalogRepo  # noqa: E402
from generated.penguins import PenguinRepo  # noqa: E402
from generated.shop import CustomerCreate, CustomerRepo, OrderRepo, ProductRepo  # noqa: E402
from xrepo.runtime import MemoryBackend, SQLiteBackend  # noqa: E402


async def shop(db_path: Path) -> None:
    print("== shop (SQLite, ConnectedRepo) ==")
    async with SQLiteBackend(db_path) as db:
        customers, orders, products = CustomerRepo(db), OrderRepo(db), ProductRepo(db)
        paying = await customers.list({"tier": {"$in": ["pro", "enterprise"]}}, sort=[("id", 1)])
        print("paying customers:", [c.full_name for c in paying])
        ada = await customers.get_by_email("ada@example.com")
        assert ada is not None
        print("ada's orders:", [(o.id, o.status) for o in await orders.list_by_customer_id(ada.id)])
        cheap = await products.list({"price__lt": Decimal("30")}, sort=[("price", 1)])
        print("under 30:", [(p.sku, p.price) for p in cheap])
        new = await customers.create(
            CustomerCreate(email="margaret@example.com", full_name="Margaret Hamilton")
        )
        print("created:", new.id, new.tier, "created_at set:", new.created_at is not None)
        await customers.update(new.id, {"tier": "pro"})
        print("pro customers now:", await customers.count({"tier": "pro"}))
        await customers.delete(new.id)  # soft: the table has deleted_at
        print("after soft delete:", await customers.count(), "visible customers")


async def in_memory() -> None:
    print("== the same generated repo on MemoryBackend (a test double) ==")
    customers = CustomerRepo(MemoryBackend())
    await customers.bulk_create(
        [
            {"email": "a@example.com", "full_name": "A", "tier": "free"},
            {"email": "b@example.com", "full_name": "B", "tier": "pro"},
        ]
    )
    print("pro:", [c.email for c in await customers.list({"tier": "pro"})])


async def files() -> None:
    print("== penguins (CSV, MaterializedRepo) ==")
    penguins = PenguinRepo.from_file(ROOT / "examples" / "penguins.csv")
    print(
        "penguins:",
        await penguins.count(),
        "| Gentoo:",
        await penguins.count({"species": "Gentoo"}),
    )
    heavy = await penguins.list(
        {"body_mass_g__gte": 6000}, sort=[("body_mass_g", -1), ("year", 1)], limit=3
    )
    print("heaviest:", [(p.species, p.island, p.body_mass_g) for p in heavy])
    print("islands:", sorted(await penguins.distinct("island")))
    print("== catalog (JSON, MaterializedRepo) ==")
    catalog = CatalogRepo.from_file(ROOT / "examples" / "catalog.json")
    books = await catalog.list({"kind": "book"}, sort=[("price", -1)])
    print("books by price:", [(b.title, b.price) for b in books])
    print("published in Cambridge:", await catalog.count({"publisher.city": "Cambridge"}))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Work on a copy: the committed example database stays as it is.
        db_path = Path(tmp) / "shop.db"
        shutil.copy(ROOT / "examples" / "shop.db", db_path)
        await shop(db_path)
    await in_memory()
    await files()


if __name__ == "__main__":
    asyncio.run(main())
