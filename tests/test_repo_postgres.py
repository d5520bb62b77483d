"""ConnectedRepo over PostgreSQL: CRUD, pushed-down filters (JSONB paths, native and jsonb
arrays), sort / paging / keyset, distinct, bulk operations through COPY, soft delete and
timestamps, transactions across repos, error mapping, hostile names, bound values, codecs."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from pg import run_sql
from pydantic import Field

from xrepo.runtime import (
    ConnectedRepo,
    QueryError,
    RepoMetadata,
    UnsupportedQueryError,
    XObjPrototype,
)
from xrepo.runtime.backends.postgres import COPY_THRESHOLD, PostgresBackend
from xrepo.runtime.errors import (
    BackendError,
    CheckViolation,
    ConfigurationError,
    ForeignKeyViolation,
    NotNullViolation,
    UniqueViolation,
)
from xrepo.runtime.sql.postgres import translate_regex

UTC = datetime.UTC

SCHEMA = """
CREATE TABLE customers (
  id serial PRIMARY KEY,
  email text NOT NULL CONSTRAINT customers_email_key UNIQUE,
  name text,
  score numeric(10, 2) CONSTRAINT score_not_negative CHECK (score >= 0),
  tags text[] NOT NULL DEFAULT '{}',
  meta jsonb,
  created_at timestamptz,
  updated_at timestamptz,
  deleted_at timestamptz
);
CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer_id int NOT NULL CONSTRAINT orders_customer_fk REFERENCES customers (id),
  total numeric(12, 2),
  placed date,
  ref uuid,
  wait interval,
  items jsonb NOT NULL DEFAULT '[]'
);
CREATE TABLE "we""ird; DROP TABLE customers; --" (
  "id" int PRIMARY KEY,
  "$1 ?" text,
  "sp ace" jsonb
);
"""


class Meta(XObjPrototype):
    city: str | None = None
    zip: int | None = None
    vip: bool | None = None
    since: datetime.date | None = None


class Customer(XObjPrototype):
    id: int | None = None
    email: str
    name: str | None = None
    score: decimal.Decimal | None = None
    tags: list[str] = Field(default_factory=list)
    meta: Meta | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    deleted_at: datetime.datetime | None = None


class CustomerUpdate(XObjPrototype):
    email: str | None = None
    name: str | None = None
    score: decimal.Decimal | None = None
    tags: list[str] | None = None
    meta: Meta | None = None


class Customers(ConnectedRepo[Customer, Customer, CustomerUpdate, dict[str, Any], str]):
    model = create_model = Customer
    update_model = CustomerUpdate
    metadata = RepoMetadata(
        name="customers",
        collection="customers",
        primary_key=("id",),
        unique=(("email",),),
        soft_delete=True,
        auto_timestamps=True,
    )


class Item(XObjPrototype):
    sku: str | None = None
    qty: int | None = None


class Order(XObjPrototype):
    id: int | None = None
    customer_id: int
    total: decimal.Decimal | None = None
    placed: datetime.date | None = None
    ref: uuid.UUID | None = None
    wait: datetime.timedelta | None = None
    items: list[Item] = Field(default_factory=list)


class Orders(ConnectedRepo[Order, Order, Order, dict[str, Any], str]):
    model = create_model = update_model = Order
    metadata = RepoMetadata(name="orders", collection="orders", primary_key=("id",))


class Weird(XObjPrototype):
    id: int
    dollar: str | None = Field(default=None, alias="$1 ?")
    space: dict[str, Any] | None = Field(default=None, alias="sp ace")


class WeirdRepo(ConnectedRepo[Weird, Weird, Weird, dict[str, Any], str]):
    model = create_model = update_model = Weird
    metadata = RepoMetadata(
        name="weird", collection='we"ird; DROP TABLE customers; --', primary_key=("id",)
    )


@pytest.fixture
async def backend(pg_dsn: str) -> Any:
    run_sql(pg_dsn, SCHEMA)
    async with PostgresBackend(pg_dsn, min_size=1, max_size=4) as be:
        yield be


PEOPLE: list[dict[str, Any]] = [
    {"email": "ann@x", "name": "Ann", "score": "10.50", "tags": ["a", "b"],
     "meta": {"city": "Paris", "zip": 75, "vip": True, "since": "2020-01-02"}},
    {"email": "bob@x", "name": "bob", "score": "3", "tags": ["b"],
     "meta": {"city": "Oslo", "zip": 150}},
    {"email": "cid@x", "name": None, "score": None, "tags": [], "meta": None},
    {"email": "dee@x", "name": "Dée", "score": "7.25", "tags": ["c", "a"],
     "meta": {"city": None, "vip": False}},
]  # fmt: skip


async def _people(backend: PostgresBackend) -> Customers:
    repo = Customers(backend)
    await repo.bulk_create(PEOPLE)
    return repo


async def test_crud_timestamps_and_soft_delete(backend: PostgresBackend) -> None:
    repo = Customers(backend)
    made = await repo.create({"email": "e@x", "name": "Eve", "score": "1.10"})
    assert made.id == 1 and made.score == decimal.Decimal("1.10")
    assert made.created_at is not None and made.created_at.tzinfo is not None
    assert made.created_at == made.updated_at
    got = await repo.read(1)
    assert got == made
    changed = await repo.update(1, {"name": "Eva", "meta": {"city": "Rome"}})
    assert changed is not None and changed.name == "Eva" and changed.meta == Meta(city="Rome")
    assert changed.updated_at is not None and changed.updated_at >= made.updated_at  # type: ignore[operator]
    assert await repo.delete(1)  # soft: the row stays, marked
    assert await repo.read(1) is None and await repo.count() == 0
    rows = await backend.fetch("SELECT deleted_at FROM customers WHERE id = 1")
    assert rows[0]["deleted_at"] is not None
    assert not await repo.delete(1)  # already deleted
    assert await repo.delete(1, hard=True)
    assert (await backend.fetch("SELECT count(*) FROM customers"))[0][0] == 0


async def test_filters_push_down_jsonb_paths_and_arrays(backend: PostgresBackend) -> None:
    repo = await _people(backend)

    async def emails(flt: dict[str, Any], **kw: Any) -> list[str]:
        return [c.email[:3] for c in await repo.list(flt, sort=[("email", 1)], **kw)]

    assert await emails({"meta.city": "Paris"}) == ["ann"]
    assert await emails({"meta.zip": {"$gt": 100}}) == ["bob"]
    assert await emails({"meta.zip__lte": 100}) == ["ann"]
    assert await emails({"meta.vip": False}) == ["dee"]
    assert await emails({"meta.since": {"$gte": "2020-01-01"}}) == ["ann"]
    assert await emails({"meta.city": None}) == ["cid", "dee"]  # JSON null, missing, SQL NULL
    assert await emails({"meta.city": {"$exists": True}}) == ["ann", "bob", "dee"]
    assert await emails({"meta.zip": {"$exists": False}}) == ["cid"]  # dumped as null
    assert await emails({"tags": "a"}) == ["ann", "dee"]  # native text[]: = ANY
    assert await emails({"tags": {"$all": ["a", "c"]}}) == ["dee"]
    assert await emails({"tags": {"$size": 0}}) == ["cid"]
    assert await emails({"tags": ["b"]}) == ["bob"]  # whole-array equality
    assert await emails({"tags": {"$ne": "b"}}) == ["cid", "dee"]
    assert await emails({"tags": {"$elemMatch": {"$gt": "b"}}}) == ["dee"]
    assert await emails({"score": {"$gte": 7}}) == ["ann", "dee"]
    assert await emails({"score": {"$ne": 3}}) == ["ann", "cid", "dee"]  # NULL included
    assert await emails({"name": {"$in": ["bob", None]}}) == ["bob", "cid"]
    assert await emails({"name": {"$regex": "^D", "$options": "i"}}) == ["dee"]
    assert await emails({"name": {"$regex": "ée$"}}) == ["dee"]
    assert await emails({"$or": [{"meta.zip": 75}, {"name": {"$not": {"$regex": "o"}}}]}) == [
        "ann",
        "cid",  # $not matches a NULL name, as in MongoDB
        "dee",
    ]
    assert await repo.count({"$nor": [{"tags": "a"}, {"score": None}]}) == 1
    assert await repo.exists({"meta.city": "Oslo"}) and not await repo.exists({"name": "zed"})
    orders = Orders(backend)
    await orders.bulk_create(
        [
            {"customer_id": 1, "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 5}]},
            {"customer_id": 2, "items": [{"sku": "A", "qty": 7}]},
            {"customer_id": 2},
        ]
    )
    found = await orders.list({"items": {"$elemMatch": {"sku": "A", "qty": {"$gte": 5}}}})
    assert [o.id for o in found] == [2]
    assert [o.id for o in await orders.list({"items": {"$size": 0}})] == [3]


async def test_sort_paging_keyset_and_distinct(backend: PostgresBackend) -> None:
    repo = await _people(backend)
    by_name = await repo.list(sort=[("name", 1)])
    # NULL first ascending; code point order (upper case before lower, é after z).
    assert [c.name for c in by_name] == [None, "Ann", "Dée", "bob"]
    desc = await repo.list(sort=[("meta.city", -1)])
    assert [c.email[:3] for c in desc] == ["ann", "bob", "cid", "dee"]
    assert [c.id for c in await repo.list(sort=[("score", -1)], skip=1, limit=2)] == [4, 2]
    seen: list[int | None] = []
    cursor = None
    while True:
        page = await repo.page(sort=[("score", 1)], limit=3, after=cursor)
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [3, 2, 4, 1]
    assert await repo.distinct("tags") == ["a", "b", "c"]
    assert await repo.distinct("meta.city") == [None, "Oslo", "Paris"]
    assert await repo.distinct("score", {"score": {"$lt": 8}}) == [
        decimal.Decimal("3.00"),
        decimal.Decimal("7.25"),
    ]


async def test_bulk_create_through_copy_returns_rows(backend: PostgresBackend) -> None:
    repo = Customers(backend)
    n = COPY_THRESHOLD * 3
    rows = [
        {"email": f"u{i}@x", "score": f"{i}.5", "tags": [str(i)], "meta": {"zip": i}}
        for i in range(n)
    ]
    rows[5] = {"email": "odd@x"}  # another key set: its own COPY run, order kept
    made = await repo.bulk_create(rows)
    assert [m.email for m in made] == [r["email"] for r in rows]
    assert [m.id for m in made] == list(range(1, n + 1))
    assert made[7].meta == Meta(zip=7) and made[7].score == decimal.Decimal("7.50")
    assert made[5].tags == [] and made[0].created_at is not None
    assert await repo.count({"meta.zip": {"$gte": 100}}) == n - 100
    assert await repo.bulk_update({"meta.zip": {"$lt": 10}}, {"name": "low"}) == 9
    assert await repo.count({"name": "low"}) == 9
    assert await repo.bulk_delete({"name": "low"}) == 9  # soft
    assert await repo.count() == n - 9
    assert await repo.bulk_delete({"name": "low"}, hard=True) == 9
    assert (await backend.fetch("SELECT count(*) FROM customers"))[0][0] == n - 9


async def test_transaction_spans_repos_and_rolls_back(backend: PostgresBackend) -> None:
    customers, orders = Customers(backend), Orders(backend)
    with pytest.raises(RuntimeError):
        async with customers.transaction():
            c = await customers.create({"email": "t@x"})
            await orders.create({"customer_id": c.id})
            assert await orders.count() == 1  # visible inside
            raise RuntimeError("boom")
    assert await customers.count() == 0 and await orders.count() == 0
    async with backend.transaction():
        c = await customers.create({"email": "t@x"})
        await orders.bulk_create([{"customer_id": c.id}] * (COPY_THRESHOLD + 1))
        with pytest.raises(UniqueViolation):
            async with customers.transaction():  # a savepoint: only it rolls back
                await customers.create({"email": "t2@x"})
                await customers.create({"email": "t@x"})
    assert await customers.count() == 1 and await orders.count() == COPY_THRESHOLD + 1


async def test_database_errors_name_the_constraint(backend: PostgresBackend) -> None:
    customers, orders = Customers(backend), Orders(backend)
    await customers.create({"email": "a@x"})
    with pytest.raises(UniqueViolation, match="customers_email_key") as unique:
        await customers.create({"email": "a@x"})
    assert unique.value.constraint == "customers_email_key"
    assert unique.value.table == "customers"
    with pytest.raises(ForeignKeyViolation, match="orders_customer_fk") as fk:
        await orders.create({"customer_id": 99})
    assert fk.value.constraint == "orders_customer_fk"
    with pytest.raises(CheckViolation, match="score_not_negative"):
        await customers.create({"email": "b@x", "score": "-1"})
    with pytest.raises(NotNullViolation, match="email") as nn:
        await customers.bulk_update(None, {"email": None})
    assert nn.value.column == "email"
    with pytest.raises(UniqueViolation):  # COPY path too, and nothing half-written
        await customers.bulk_create([{"email": f"c{i}@x"} for i in range(COPY_THRESHOLD)] * 2)
    assert await customers.count() == 1
    with pytest.raises(QueryError):  # PostgreSQL rejects the regex: a QueryError, not a crash
        await customers.list({"name": {"$regex": "a{2,1}"}})


async def test_hostile_identifiers_and_bound_values(backend: PostgresBackend) -> None:
    weird = WeirdRepo(backend)
    evil = "'; DROP TABLE customers; --"
    made = await weird.create({"id": 1, "$1 ?": evil, "sp ace": {"k'\"": evil}})
    assert made.dollar == evil and made.space == {"k'\"": evil}
    assert [w.id for w in await weird.list({"dollar": evil})] == [1]  # Python names
    assert await weird.count({"space.k'\"": {"$exists": True}}) == 1
    assert await weird.distinct("dollar") == [evil]
    await Customers(backend).create({"email": evil})
    assert await Customers(backend).count({"email": evil}) == 1  # the table is still there
    pipe = [{"$match": {"dollar": evil}}, {"$count": "n"}]
    plan = weird.explain_aggregate(pipe)
    assert evil not in plan["sql"] and plan["params"] == [evil]
    assert await weird.aggregate(pipe) == [{"n": 1}]


async def test_type_codecs_round_trip(backend: PostgresBackend) -> None:
    customers, orders = Customers(backend), Orders(backend)
    c = await customers.create({"email": "z@x", "score": "99999999.99"})
    ref = uuid.uuid4()
    o = await orders.create(
        {
            "customer_id": c.id,
            "total": "1234567890.12",
            "placed": "2024-02-29",
            "ref": str(ref),
            "wait": datetime.timedelta(days=2, seconds=3, microseconds=4),
            "items": [{"sku": "日本", "qty": None}],
        }
    )
    got = await orders.read(o.id)
    assert got == o and got is not None
    assert got.total == decimal.Decimal("1234567890.12") and got.ref == ref
    assert got.wait == datetime.timedelta(days=2, seconds=3, microseconds=4)
    assert await orders.count({"ref": ref}) == 1
    assert await orders.count({"wait": {"$gt": datetime.timedelta(days=1)}}) == 1
    assert await orders.count({"placed": datetime.date(2024, 2, 29)}) == 1
    with pytest.raises(UnsupportedQueryError):  # a path through an array of objects…
        await orders.count({"items.sku": "日本"})
    assert await orders.count({"items": {"$elemMatch": {"sku": "日本"}}}) == 1  # …is $elemMatch
    aware = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    await customers.update(c.id, {"name": "tz"})
    await backend.execute("UPDATE customers SET created_at = $1", aware)
    back = await customers.read(c.id)
    assert back is not None and back.created_at == aware and back.created_at.tzinfo is not None


def test_regex_translation_and_refusals() -> None:
    assert translate_regex(r"\bab\B", "") == r"(?p)\yab\Y"
    assert translate_regex(r"[\b]x{,2}", "im") == r"(?ni)[\b]x{0,2}"
    assert translate_regex(r"(?P<n>a)", "s") == "(?s)(a)"
    assert translate_regex(r"(?i)abc", "") == "(?pi)abc"
    with pytest.raises(QueryError, match="scoped"):
        translate_regex(r"a(?i:b)", "")


async def test_backend_configuration_errors(pg_dsn: str) -> None:
    with pytest.raises(ConfigurationError):
        PostgresBackend()
    bad = PostgresBackend("postgresql://nobody:secret@127.0.0.1:1/none", timeout=2)
    with pytest.raises(BackendError) as err:
        await bad.connect()
    assert "secret" not in str(err.value)
    run_sql(pg_dsn, SCHEMA)
    import asyncpg  # a pool the caller owns, made with the backend's codecs

    pool = await asyncpg.create_pool(
        pg_dsn, init=PostgresBackend.init_connection, min_size=1, max_size=2
    )
    try:
        repo = Customers(PostgresBackend(pool=pool))
        await repo.create({"email": "p@x", "meta": {"city": "Lyon"}})
        assert (await repo.find_one({"meta.city": "Lyon"})) is not None
    finally:
        await pool.close()
