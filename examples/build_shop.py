"""Builds examples/shop.db, the bundled SQLite example (deterministic: same bytes each run).

Run: python examples/build_shop.py
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       VARCHAR(254) NOT NULL UNIQUE,
    full_name   TEXT NOT NULL,
    tier        TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    website     TEXT,
    created_at  DATETIME,
    updated_at  DATETIME,
    deleted_at  DATETIME
);
CREATE TABLE products (
    sku         VARCHAR(16) PRIMARY KEY,
    title       TEXT NOT NULL,
    price       NUMERIC(10, 2) NOT NULL,
    in_stock    BOOLEAN NOT NULL DEFAULT 1,
    released_on DATE
);
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    ordered_on  DATE NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
    note        TEXT
);
CREATE INDEX orders_by_customer ON orders (customer_id, ordered_on);
CREATE TABLE order_items (
    order_id    INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku         VARCHAR(16) NOT NULL REFERENCES products (sku),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  NUMERIC(10, 2) NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE VIEW order_totals AS
    SELECT o.id AS order_id, o.customer_id, SUM(i.quantity * i.unit_price) AS total
    FROM orders o JOIN order_items i ON i.order_id = o.id
    GROUP BY o.id;
"""

CUSTOMERS = [
    ("ada@example.com", "Ada Lovelace", "pro", "https://ada.example.com", "2024-01-05 09:30:00"),
    ("alan@example.com", "Alan Turing", "enterprise", None, "2024-02-11 14:00:00"),
    (
        "grace@example.com",
        "Grace Hopper",
        "free",
        "https://grace.example.org",
        "2024-03-02 08:15:00",
    ),
    ("edsger@example.com", "Edsger Dijkstra", "free", None, "2024-03-20 17:45:00"),
    ("barbara@example.com", "Barbara Liskov", "pro", None, "2024-04-01 12:00:00"),
]
PRODUCTS = [
    ("KB-001", "Mechanical keyboard", "89.90", 1, "2023-10-01"),
    ("MS-002", "Wireless mouse", "24.50", 1, "2023-11-15"),
    ("MN-003", "27in monitor", "279.00", 0, "2024-01-20"),
    ("CB-004", "USB-C cable", "9.99", 1, None),
]
ORDERS = [
    (1, 1, "2024-04-02", "paid", None),
    (2, 1, "2024-04-18", "shipped", "gift wrap"),
    (3, 2, "2024-05-01", "new", None),
    (4, 3, "2024-05-03", "cancelled", "changed mind"),
    (5, 5, "2024-05-09", "paid", None),
]
ITEMS = [
    (1, "KB-001", 1, "89.90"),
    (1, "CB-004", 2, "9.99"),
    (2, "MN-003", 1, "279.00"),
    (3, "MS-002", 3, "24.50"),
    (4, "KB-001", 1, "89.90"),
    (5, "CB-004", 5, "9.99"),
]


def build(path: Path) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
        con.executemany(
            "INSERT INTO customers (email, full_name, tier, website, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            CUSTOMERS,
        )
        con.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?)", PRODUCTS)
        con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", ORDERS)
        con.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)", ITEMS)
        con.commit()
        con.execute("VACUUM")
    finally:
        con.close()


if __name__ == "__main__":
    build(Path(__file__).with_name("shop.db"))
