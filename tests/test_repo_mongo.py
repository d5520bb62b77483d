"""ConnectedRepo over MongoDB: CRUD, filters, paging, bulk, soft delete, ObjectIds, BSON
values, transactions, error mapping, and operators refused before anything reaches the server."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import Decimal128, ObjectId
from pydantic import Field
from pymongo import AsyncMongoClient, MongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from xrepo.runtime import (
    ConfigurationError,
    ConnectedRepo,
    ConstraintError,
    QueryError,
    RepoMetadata,
    XObjPrototype,
)
from xrepo.runtime.backends.mongo import MongoBackend
from xrepo.runtime.errors import UniqueViolation
from xrepo.runtime.query.ast import MatchAll
from xrepo.runtime.query.mongo import compile_query
from xrepo.runtime.query.parse import build_query

UTC = datetime.UTC


class Address(XObjPrototype):
    city: str | None = None
    zip_code: str | None = Field(default=None, alias="zip")


class Item(XObjPrototype):
    sku: str
    qty: int = 0


class Book(XObjPrototype):
    id: str | None = Field(default=None, alias="_id")
    title: str
    author_id: str | None = None
    price: decimal.Decimal | None = None
    published: datetime.date | None = None
    ref: uuid.UUID | None = None
    rating: float | None = None
    tags: list[str] = Field(default_factory=list)
    items: list[Item] = Field(default_factory=list)
    address: Address | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    deleted_at: datetime.datetime | None = None


class BookUpdate(XObjPrototype):
    title: str | None = None
    price: decimal.Decimal | None = None
    author_id: str | None = None
    tags: list[str] | None = None


class BookRepo(ConnectedRepo[Book, Book, BookUpdate, dict[str, Any], str]):
    model = Book
    create_model = Book
    update_model = BookUpdate
    metadata = RepoMetadata(
        name="books",
        collection="books",
        primary_key=("id",),
        object_ids=("id", "author_id"),
        soft_delete=True,
        auto_timestamps=True,
    )


class Author(XObjPrototype):
    id: str | None = Field(default=None, alias="_id")
    name: str


class AuthorRepo(ConnectedRepo[Author, Author, Author, dict[str, Any], str]):
    model = Author
    create_model = Author
    update_model = Author
    metadata = RepoMetadata(name="authors", collection="authors", primary_key=("id",))


class Commands(CommandListener):
    """Every command the client sends (name and body)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: Any) -> None:
        return None

    def failed(self, event: Any) -> None:
        return None

    def names(self) -> list[str]:
        return [
            n for n, _ in self.sent if n not in ("hello", "isMaster", "ismaster", "endSessions")
        ]


@pytest.fixture
async def env(mongo_db: tuple[str, str]) -> AsyncIterator[tuple[MongoBackend, Commands]]:
    url, name = mongo_db
    commands = Commands()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        url, event_listeners=[commands], uuidRepresentation="standard", tz_aware=True
    )
    backend = MongoBackend(client, name)
    await backend.connect()
    yield backend, commands
    await client.close()


def raw(mongo_db: tuple[str, str]) -> MongoClient[Any]:
    return MongoClient(mongo_db[0], uuidRepresentation="standard")


def book(title: str, **kw: Any) -> dict[str, Any]:
    return {"title": title, **kw}


SAMPLE = [
    book(
        "Dune",
        price="9.99",
        published="1965-08-01",
        tags=["sf", "classic"],
        rating=4.5,
        items=[{"sku": "a", "qty": 2}, {"sku": "b", "qty": 0}],
        address={"city": "Oslo", "zip": "0150"},
    ),
    book(
        "Emma",
        price="5.00",
        published="1815-12-23",
        tags=["classic"],
        rating=3.9,
        items=[{"sku": "b", "qty": 5}],
        address={"city": "Bath"},
    ),
    book(
        "Neuromancer",
        price="12.50",
        published="1984-07-01",
        tags=["sf", "cyberpunk"],
        items=[],
        address=None,
    ),
    book("Ubik", tags=[], rating=None),
]


async def seeded(backend: MongoBackend) -> tuple[BookRepo, list[Book]]:
    repo = BookRepo(backend)
    return repo, await repo.bulk_create(SAMPLE)


async def test_crud_round_trip_bson_types(
    env: tuple[MongoBackend, Commands], mongo_db: tuple[str, str]
) -> None:
    backend, _ = env
    repo = BookRepo(backend)
    author = ObjectId()
    ref = uuid.uuid4()
    made = await repo.create(
        book("Dune", author_id=str(author), price="10.10", published="2024-01-02", ref=ref)
    )
    assert made.id is not None and ObjectId.is_valid(made.id)
    assert made.price == decimal.Decimal("10.10") and made.published == datetime.date(2024, 1, 2)
    assert made.created_at is not None and made.created_at == made.updated_at
    assert made.created_at.tzinfo is not None
    # On the wire: ObjectId, Decimal128, a UTC datetime at midnight, Binary subtype 4.
    with raw(mongo_db) as client:
        stored = client[mongo_db[1]]["books"].find_one({"_id": ObjectId(made.id)})
    assert stored is not None
    assert stored["author_id"] == author
    assert stored["price"] == Decimal128("10.10")
    assert stored["published"] == datetime.datetime(2024, 1, 2)
    assert stored["ref"] == ref
    # ObjectId both ways: reads give the hex string, filters take it.
    assert await repo.read(made.id) == made
    assert [b.title for b in await repo.list({"author_id": str(author)})] == ["Dune"]
    assert [b.title for b in await repo.list({"author_id": {"$in": [str(author)]}})] == ["Dune"]
    assert await repo.list({"author_id": str(ObjectId())}) == []
    updated = await repo.update(made.id, {"price": "11", "author_id": str(ObjectId())})
    assert updated is not None and updated.price == decimal.Decimal("11")
    assert updated.updated_at is not None and updated.updated_at >= made.created_at
    with raw(mongo_db) as client:
        stored = client[mongo_db[1]]["books"].find_one({"_id": ObjectId(made.id)})
    assert stored is not None and isinstance(stored["author_id"], ObjectId)
    assert await repo.update(str(ObjectId()), {"title": "x"}) is None


async def test_filters_nested_arrays_elem_match_regex(env: tuple[MongoBackend, Commands]) -> None:
    repo, _ = await seeded(env[0])

    async def titles(flt: dict[str, Any], **kw: Any) -> list[str]:
        return [b.title for b in await repo.list(flt, sort=[("title", 1)], **kw)]

    assert await titles({"address.city": "Oslo"}) == ["Dune"]
    assert await titles({"address.zip": {"$exists": False}}) == ["Neuromancer", "Ubik"]
    assert await titles({"address.city": None}) == ["Neuromancer", "Ubik"]
    assert await titles({"tags": "sf"}) == ["Dune", "Neuromancer"]
    assert await titles({"tags": {"$all": ["sf", "classic"]}}) == ["Dune"]
    assert await titles({"tags": {"$size": 0}}) == ["Ubik"]
    assert await titles({"items.sku": "b"}) == ["Dune", "Emma"]
    assert await titles({"items": {"$elemMatch": {"sku": "b", "qty": {"$gt": 0}}}}) == ["Emma"]
    assert await titles({"tags": {"$elemMatch": {"$gt": "classic", "$lt": "s"}}}) == ["Neuromancer"]
    assert await titles({"title": {"$regex": "^e", "$options": "i"}}) == ["Emma"]
    assert await titles({"title": {"$not": {"$regex": "u"}}}) == ["Emma", "Ubik"]
    assert await titles({"price__gte": "9.99"}) == ["Dune", "Neuromancer"]
    assert await titles({"published": {"$lt": "1900-01-01"}}) == ["Emma"]
    assert await titles({"rating": {"$ne": None}}) == ["Dune", "Emma"]
    assert await titles({"$or": [{"rating": {"$gt": 4}}, {"tags": "cyberpunk"}]}) == [
        "Dune",
        "Neuromancer",
    ]
    assert await titles({"$nor": [{"tags": "sf"}, {"price": None}]}) == ["Emma"]
    assert await repo.count({"tags": "classic"}) == 2
    assert await repo.exists({"tags": "cyberpunk"})
    assert not await repo.exists({"tags": "poetry"})


async def test_sort_paging_and_keyset(env: tuple[MongoBackend, Commands]) -> None:
    repo, _made = await seeded(env[0])
    by_price = [b.title for b in await repo.list(sort=[("price", -1)])]
    assert by_price == ["Neuromancer", "Dune", "Emma", "Ubik"]  # null last descending
    asc = [b.title for b in await repo.list(sort=[("rating", 1), ("title", 1)])]
    assert asc == ["Neuromancer", "Ubik", "Emma", "Dune"]  # null/missing first ascending
    assert [b.title for b in await repo.list(sort=[("title", 1)], skip=1, limit=2)] == [
        "Emma",
        "Neuromancer",
    ]
    assert await repo.list(limit=0) == []
    for sort in ([("price", -1)], [("rating", 1)], [("title", 1)], [("address.city", -1)]):
        seen: list[str] = []
        cursor = None
        while True:
            page = await repo.page(sort=sort, limit=1, after=cursor)  # type: ignore[arg-type]
            seen += [b.title for b in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        full = [b.title for b in await repo.list(sort=sort)]  # type: ignore[arg-type]
        assert seen == full, sort


async def test_distinct_on_server(env: tuple[MongoBackend, Commands]) -> None:
    repo, _ = await seeded(env[0])
    commands = env[1]
    commands.sent.clear()
    assert await repo.distinct("tags") == ["classic", "cyberpunk", "sf"]
    assert await repo.distinct("address.city") == [None, "Bath", "Oslo"]
    assert await repo.distinct("price", {"tags": "sf"}) == [
        decimal.Decimal("9.99"),
        decimal.Decimal("12.50"),
    ]
    assert "distinct" in commands.names()


async def test_bulk_update_delete_soft_delete(env: tuple[MongoBackend, Commands]) -> None:
    repo, made = await seeded(env[0])
    commands = env[1]
    commands.sent.clear()
    assert await repo.bulk_update({"tags": "sf"}, {"price": "1"}) == 2
    assert [n for n in commands.names()] == ["update"]  # one update_many
    assert {b.price for b in await repo.list({"tags": "sf"})} == {decimal.Decimal("1")}
    assert await repo.delete(made[0].id)  # soft: marked, hidden
    assert await repo.read(made[0].id) is None
    assert await repo.count() == 3
    assert await repo.bulk_delete({"tags": "classic"}) == 1  # Emma; Dune already gone
    assert await repo.count() == 2
    assert await repo.delete(made[2].id, hard=True)
    assert [b.title for b in await repo.list()] == ["Ubik"]
    assert await env[0].count(repo.plan().collection, MatchAll()) == 3  # soft-deleted kept


async def test_bulk_create_is_one_ordered_bulk_write_and_all_or_nothing(
    env: tuple[MongoBackend, Commands], mongo_db: tuple[str, str]
) -> None:
    backend, commands = env
    with raw(mongo_db) as client:
        client[mongo_db[1]]["books"].create_index("title", unique=True, name="title_unique")
    repo = BookRepo(backend)
    commands.sent.clear()
    made = await repo.bulk_create([book("A"), book("B")])
    assert [n for n in commands.names()] == ["insert"]
    assert commands.sent[-1][1]["ordered"] is True
    assert all(m.id is not None and ObjectId.is_valid(m.id) for m in made)
    with pytest.raises(UniqueViolation, match="title_unique") as info:
        await repo.bulk_create([book("C"), book("D"), book("A")])
    assert info.value.constraint == "title_unique"
    assert sorted(b.title for b in await repo.list()) == ["A", "B"]  # C and D taken back
    with pytest.raises(ConstraintError, match="title_unique"):
        await repo.create(book("B"))
    with pytest.raises(ConstraintError, match="title_unique"):
        await repo.bulk_update({"title": "A"}, {"title": "B"})


async def test_validator_failure_names_collection(
    env: tuple[MongoBackend, Commands], mongo_db: tuple[str, str]
) -> None:
    with raw(mongo_db) as client:
        client[mongo_db[1]].create_collection(
            "authors",
            validator={
                "$jsonSchema": {
                    "bsonType": "object",
                    "required": ["name"],
                    "properties": {"name": {"bsonType": "string", "minLength": 3}},
                }
            },
        )
    repo = AuthorRepo(env[0])
    assert (await repo.create({"name": "Frank"})).name == "Frank"
    with pytest.raises(ConstraintError, match=r"authors.*validat"):
        await repo.create({"name": "Al"})


async def test_transactions_commit_and_roll_back_across_repos(
    env: tuple[MongoBackend, Commands], mongo_db: tuple[str, str]
) -> None:
    backend = env[0]
    with raw(mongo_db) as client:  # collections must exist before a transaction writes them
        client[mongo_db[1]].create_collection("books")
        client[mongo_db[1]].create_collection("authors")
    books = BookRepo(backend)
    authors = AuthorRepo(MongoBackend(backend.client, mongo_db[1]))  # same client, other backend
    async with books.transaction():
        a = await authors.create({"name": "Frank"})
        await books.create(book("Dune", author_id=a.id))
        assert await books.count() == 1  # reads see the transaction's writes
    assert await books.count() == 1 and await authors.count() == 1

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with authors.transaction():
            await authors.create({"name": "Ursula"})
            await books.create(book("Earthsea"))
            async with books.transaction():  # nested: joins the outer one
                await books.bulk_update(None, {"price": "1"})
            raise Boom
    assert [x.name for x in await authors.list()] == ["Frank"]
    assert [b.title for b in await books.list()] == ["Dune"]
    assert (await books.list())[0].price is None
    started = [c for n, c in env[1].sent if n == "insert"]
    assert all("lsid" in c for c in started)  # every write carried a session
    assert any("txnNumber" in c for c in started)


async def test_transaction_needs_backend_support() -> None:
    from xrepo.runtime.backends.redis import RedisBackend  # no transactions (MULTI per write)

    with pytest.raises(ConfigurationError, match="no transactions"):
        BookRepo(RedisBackend("redis://127.0.0.1:6379/0")).transaction()


@pytest.mark.parametrize(
    ("flt", "named"),
    [
        ({"$where": "sleep(1000)"}, "$where"),
        ({"title": {"$where": "1"}}, "$where"),
        ({"title": {"$function": {}}}, "$function"),
        ({"title": {"$unknownOp": 1}}, "$unknownOp"),
        ({"$expr": {"$eq": ["$title", "x"]}}, "$expr"),
        ({"nope": 1}, "nope"),
    ],
)
async def test_rejected_filters_never_reach_the_server(
    env: tuple[MongoBackend, Commands], flt: dict[str, Any], named: str
) -> None:
    repo = BookRepo(env[0])
    env[1].sent.clear()
    for call in (repo.list, repo.count, repo.exists, repo.bulk_delete):
        with pytest.raises(QueryError) as info:
            await call(flt)
        assert named in str(info.value)
    assert env[1].names() == []


@pytest.mark.parametrize(
    ("pipeline", "named"),
    [
        ([{"$match": {"$where": "true"}}], "$where"),
        (
            [{"$group": {"_id": None, "x": {"$accumulator": {"init": "function(){}"}}}}],
            "$accumulator",
        ),
        (
            [{"$addFields": {"x": {"$function": {"body": "return 1", "args": [], "lang": "js"}}}}],
            "$function",
        ),
        ([{"$project": {"x": {"$evalJs": 1}}}], "$evalJs"),
        ([{"$out": "stolen"}], "$out"),
        ([{"$merge": {"into": "x"}}], "$merge"),
        ([{"$match": {"title": "x"}}, {"$match": {"$where": "1"}}], "$where"),
    ],
)
async def test_rejected_pipelines_never_reach_the_server(
    env: tuple[MongoBackend, Commands], pipeline: list[dict[str, Any]], named: str
) -> None:
    repo = BookRepo(env[0])
    env[1].sent.clear()
    with pytest.raises(QueryError, match=named.replace("$", r"\$")):
        await repo.aggregate(pipeline)
    assert env[1].names() == []


async def test_code_operators_refused_even_when_the_ast_carries_them(
    env: tuple[MongoBackend, Commands],
) -> None:
    """Defence in depth: an untyped field compared with a document holding ``$where`` is
    refused by the backend's own scan, not sent as a literal."""

    class Loose(XObjPrototype):
        id: str | None = Field(default=None, alias="_id")
        meta: Any = None

    class LooseRepo(ConnectedRepo[Loose, Loose, Loose, dict[str, Any], str]):
        model = Loose
        create_model = Loose
        update_model = Loose
        metadata = RepoMetadata(name="loose", collection="loose", primary_key=("id",))

    env[1].sent.clear()
    with pytest.raises(QueryError, match=r"\$where runs code"):
        await LooseRepo(env[0]).list({"meta": {"$eq": {"$where": "1"}}})
    assert env[1].names() == []


async def test_find_carries_projection_sort_skip_limit(env: tuple[MongoBackend, Commands]) -> None:
    repo, _ = await seeded(env[0])
    env[1].sent.clear()
    await repo.list({"tags": "sf"}, sort=[("title", -1)], skip=1, limit=1)
    ((_, cmd),) = [(n, c) for n, c in env[1].sent if n == "find"]
    assert cmd["skip"] == 1 and cmd["limit"] == 1
    assert list(cmd["sort"].items()) == [("title", -1), ("_id", 1)]
    assert cmd["projection"]["title"] == 1 and "deleted_at" in cmd["filter"]["$and"][1]
    env[1].sent.clear()
    assert await repo.exists({"title": "Dune"})
    ((_name, cmd),) = [(n, c) for n, c in env[1].sent if n == "find"]
    assert cmd["projection"] == {"_id": 1} and cmd["limit"] == 1


def test_compiled_query_documents() -> None:
    q = build_query(
        Book,
        {
            "author_id": "5f1d7f0c9d1e8a0b3c4d5e6f",
            "published": {"$gte": "2024-01-01"},
            "price": {"$in": ["1.5"]},
            "tags": {"$not": {"$size": 0}},
        },
        sort=[("price", -1)],
        tiebreak=("id",),
    )
    compiled = compile_query(q, {("author_id",), ("_id",)})
    assert compiled.filter == {
        "$and": [
            {"author_id": {"$eq": ObjectId("5f1d7f0c9d1e8a0b3c4d5e6f")}},
            {"published": {"$gte": datetime.datetime(2024, 1, 1, tzinfo=UTC)}},
            {"price": {"$in": [Decimal128("1.5")]}},
            {"$nor": [{"tags": {"$size": 0}}]},
        ]
    }
    assert compiled.sort == [("price", -1), ("_id", 1)]


async def test_aggregate_runs_on_the_server(env: tuple[MongoBackend, Commands]) -> None:
    repo, _ = await seeded(env[0])
    env[1].sent.clear()
    out = await repo.aggregate(
        [
            {"$match": {"tags": "sf"}},
            {"$unwind": "$tags"},
            {"$group": {"_id": "$tags", "n": {"$sum": 1}, "top": {"$max": "$price"}}},
            {"$sort": {"_id": 1}},
        ]
    )
    assert out == [
        {"_id": "classic", "n": 1, "top": decimal.Decimal("9.99")},
        {"_id": "cyberpunk", "n": 1, "top": decimal.Decimal("12.50")},
        {"_id": "sf", "n": 2, "top": decimal.Decimal("12.50")},
    ]
    ((_, cmd),) = [(n, c) for n, c in env[1].sent if n == "aggregate"]
    assert cmd["pipeline"][0] == {
        "$match": {"$and": [{"tags": {"$eq": "sf"}}, {"deleted_at": {"$eq": None}}]}
    }
    assert cmd["pipeline"][1]["$project"]["id"] == "$_id"  # source names → Python names
    cities = await repo.aggregate(
        [{"$match": {"address.zip_code": "0150"}}, {"$project": {"address": 1, "_id": 0}}]
    )
    assert cities == [{"address": {"city": "Oslo", "zip_code": "0150"}}]
    explained = repo.explain_aggregate([{"$match": {"tags": "sf"}}, {"$count": "n"}])
    assert explained["memory_stages"] == [] and explained["server_stages"] == ["$match", "$count"]
    ids = await repo.aggregate([{"$project": {"id": 1, "_id": 0}}])
    assert all(isinstance(d["id"], str) and ObjectId.is_valid(d["id"]) for d in ids)


async def test_backend_from_url_owns_its_client(mongo_db: tuple[str, str]) -> None:
    url, name = mongo_db
    async with MongoBackend(f"{url}/{name}") as backend:
        repo = AuthorRepo(backend)
        await repo.create({"name": "Frank"})
        assert backend.database.name == name
    assert backend.client is None
    with pytest.raises(ConfigurationError, match="no database"):
        await MongoBackend(url).connect()


class MotorStyleCollection:
    """Motor's calling conventions over PyMongo's async collection: ``aggregate`` returns the
    cursor itself (no coroutine); everything else is awaitable as in Motor."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def aggregate(self, pipeline: Any, **kw: Any) -> Any:
        outer = self

        class LazyCursor:
            async def to_list(self, length: int | None) -> Any:
                cursor = await outer._inner.aggregate(pipeline, **kw)
                return await cursor.to_list(length)

        return LazyCursor()


class MotorStyleSession:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aenter__(self) -> Any:
        await self._inner.__aenter__()
        return self._inner

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)


class MotorStyleClient:
    """``start_session`` is a coroutine, ``close`` is synchronous, databases hand out wrapped
    collections — the parts of AsyncIOMotorClient's surface MongoBackend touches."""

    def __init__(self, url: str) -> None:
        self.inner: AsyncMongoClient[Any] = AsyncMongoClient(url)

    def get_database(self, name: str, **kw: Any) -> Any:
        db = self.inner.get_database(name, **kw)

        class Db:
            def get_collection(self, coll: str) -> Any:
                return MotorStyleCollection(db.get_collection(coll))

            def __getitem__(self, coll: str) -> Any:
                return db[coll]

        return Db()

    async def start_session(self) -> Any:
        return self.inner.start_session()

    def close(self) -> None:
        return None


async def test_motor_style_client_is_accepted(mongo_db: tuple[str, str]) -> None:
    url, name = mongo_db
    client = MotorStyleClient(url)
    with raw(mongo_db) as sync:
        sync[name].create_collection("authors")
    backend = MongoBackend(client, name)
    repo = AuthorRepo(backend)
    made = await repo.create({"name": "Frank"})
    assert await repo.read(made.id) == made
    assert await repo.aggregate([{"$project": {"name": 1, "_id": 0}}]) == [{"name": "Frank"}]
    with pytest.raises(RuntimeError):
        async with repo.transaction():
            await repo.create({"name": "Ursula"})
            raise RuntimeError
    assert [a.name for a in await repo.list()] == ["Frank"]
    await backend.close()  # not owned: the client stays usable
    assert await client.inner[name]["authors"].count_documents({}) == 1
    await client.inner.close()
