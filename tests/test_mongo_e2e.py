"""Issue 5, end to end on a live server: the Mongo datasets (books, restaurant, grades,
products) → ``xrepo inspect`` → ``xrepo generate`` → ``mypy --strict`` on the output → the
generated repos on MongoBackend, each query equal to the same query run by raw PyMongo on the
same database (same ids in the same order, and the same documents once aliases are mapped).

The datasets are the session's read-only ``mongo_datasets``; the generated package has its
own import name and leaves ``sys.modules`` as it found it.
"""

from __future__ import annotations

import datetime
import importlib
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bson import ObjectId
from click.testing import CliRunner
from pymongo import AsyncMongoClient
from typecheck import assert_mypy_strict

from xrepo.codegen.cli import main as xrepo_cli
from xrepo.runtime.backends.mongo import MongoBackend

ROOT = Path(__file__).resolve().parents[1]
UTC = datetime.UTC
PACKAGE = "e2e_mongo_gen"
SOURCE = "datasets"


@dataclass(frozen=True)
class Generated:
    """A tmp project after inspect + generate, and its imported source module."""

    url: str
    database: str
    root: Path
    module: ModuleType
    inspect_output: str


def _cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(xrepo_cli, ["--config", str(config), *args])
    assert result.exit_code == 0, f"xrepo {' '.join(args)} failed:\n{result.output}"
    return result.output


@pytest.fixture(scope="module")
def gen(
    mongo_datasets: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Generated]:
    url, database = mongo_datasets
    root = tmp_path_factory.mktemp("mongo_project")
    config = root / "xrepo.toml"
    config.write_text(
        f'schemas_dir = "schemas"\noutput_dir = "{PACKAGE}"\npackage = "{PACKAGE}"\n\n'
        f'[[sources]]\nname = "{SOURCE}"\nkind = "mongo"\nurl_env = "XREPO_E2E_MONGO"\n'
        f'database = "{database}"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XREPO_E2E_MONGO", url)
        inspected = _cli(config, "inspect")
        generated = _cli(config, "generate")
    assert f"schemas/{SOURCE}.json" in inspected
    assert "added" in generated
    assert (root / PACKAGE / SOURCE / "models.py").is_file()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(f"{PACKAGE}.{SOURCE}")
        yield Generated(url, database, root, module, inspected)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
async def backend(gen: Generated) -> AsyncIterator[MongoBackend]:
    backend = MongoBackend(gen.url, gen.database)
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def raw(gen: Generated) -> AsyncIterator[Any]:
    """The database through plain PyMongo (async), for the hand-written side."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(gen.url, tz_aware=True)
    try:
        yield client[gen.database]
    finally:
        await client.close()


def _plain(value: Any) -> Any:
    """A raw BSON-decoded value as the models hold it: ObjectIds as 24-hex str."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _no_nulls(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Absent and null are the same document for the comparison (models default to None)."""
    return {
        k: _no_nulls(v) if isinstance(v, Mapping) else v for k, v in doc.items() if v is not None
    }


def _docs(models: Sequence[Any]) -> list[dict[str, Any]]:
    return [_no_nulls(m.model_dump(by_alias=True)) for m in models]


def _raw_docs(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_no_nulls(_plain(d)) for d in docs]


def _ids(models: Sequence[Any]) -> list[Any]:
    return [m.id for m in models]


def _raw_ids(docs: Sequence[Mapping[str, Any]]) -> list[Any]:
    return [_plain(d["_id"]) for d in docs]


async def _find(
    coll: Any, query: Mapping[str, Any], sort: Sequence[tuple[str, int]], **kw: Any
) -> list[dict[str, Any]]:
    cursor = coll.find(dict(query), sort=list(sort), **kw)
    return [d async for d in cursor]


async def _agree(models: Sequence[Any], want: Sequence[Mapping[str, Any]]) -> None:
    """Equal ids in equal order, then equal documents."""
    assert _ids(models) == _raw_ids(want)
    assert _docs(models) == _raw_docs(want)


# -- the generated package ------------------------------------------------------------------


def test_generated_package_shape_and_mypy_strict(gen: Generated) -> None:
    mod = gen.module
    for name in ("Book", "Restaurant", "Grade", "Product"):
        for suffix in ("", "Create", "Update", "Filter", "Field", "Repo"):
            assert hasattr(mod, name + suffix), name + suffix
        assert getattr(mod, name + "Repo").metadata.object_ids == ("id",)
    # books' _id is an int for most documents and an ObjectId for the rest.
    assert mod.Book.model_fields["id"].alias == "_id"
    assert mod.Restaurant.model_fields["address_line_2"].alias == "address line 2"
    assert mod.Product.model_fields["type_"].alias == "type"
    # The 4 int addresses among 2548 restaurants are reported, not widened into the type.
    assert "restaurant.address" in gen.inspect_output
    assert_mypy_strict(PACKAGE, gen.root)


# -- books ----------------------------------------------------------------------------------


async def test_books_author_date_status_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    books = gen.module.BookRepo(backend)
    sort = [("_id", 1)]

    # An element of the ``authors`` array, by equality and by $in.
    got = await books.list({"authors": "Robi Sen"}, sort=[("id", 1)])
    want = await _find(raw.books, {"authors": "Robi Sen"}, sort)
    assert len(want) >= 2
    await _agree(got, want)
    names = ["Charlie Collins", "Gary Pollice"]
    got = await books.list({"authors": {"$in": names}}, sort=[("id", 1)])
    want = await _find(raw.books, {"authors": {"$in": names}}, sort)
    assert len(want) >= 2
    await _agree(got, want)

    # publishedDate range with aware datetimes in two zones, plus status.
    lo = datetime.datetime(2009, 1, 1, tzinfo=UTC)
    hi = datetime.datetime(2010, 12, 31, 19, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
    got = await books.list(
        {"published_date": {"$gte": lo, "$lt": hi}, "status": "PUBLISH"}, sort=[("id", 1)]
    )
    want = await _find(
        raw.books, {"publishedDate": {"$gte": lo, "$lt": hi}, "status": "PUBLISH"}, sort
    )
    assert len(want) > 20
    await _agree(got, want)
    assert all(b.published_date is not None and b.published_date.tzinfo for b in got)
    assert all(lo <= b.published_date < hi for b in got)

    got = await books.list({"status": "MEAP", "page_count__gt": 0}, sort=[("id", 1)])
    want = await _find(raw.books, {"status": "MEAP", "pageCount": {"$gt": 0}}, sort)
    assert want
    await _agree(got, want)
    assert await books.count({"status": "MEAP"}) == await raw.books.count_documents(
        {"status": "MEAP"}
    )


async def test_books_sort_by_title_and_paging_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    books = gen.module.BookRepo(backend)
    sort = [("title", 1), ("_id", 1)]
    everything = await _find(raw.books, {}, sort)
    assert len(everything) == 431
    for skip, limit in ((0, 25), (25, 25), (400, 50)):
        got = await books.list(sort=[("title", 1)], skip=skip, limit=limit)
        want = await _find(raw.books, {}, sort, skip=skip, limit=limit)
        await _agree(got, want)
    got = await books.list({"status": "PUBLISH"}, sort=[("title", -1)], skip=10, limit=30)
    want = await _find(
        raw.books, {"status": "PUBLISH"}, [("title", -1), ("_id", 1)], skip=10, limit=30
    )
    await _agree(got, want)


async def _keyset_ids(repo: Any, sort: list[tuple[str, int]], limit: int) -> list[Any]:
    """Ids of every page from the first until ``next_cursor`` is None."""
    seen: list[Any] = []
    after: str | None = None
    while True:
        page = await repo.page(sort=sort, limit=limit, after=after)
        assert len(page.items) <= limit and len(seen) <= 431
        seen.extend(page.items)
        if page.next_cursor is None:
            return _ids(seen)
        after = page.next_cursor


async def test_books_keyset_pages_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    """Keyset pages over the title order (three titles are shared by several books) join up
    to the whole sorted collection, ascending and descending."""
    books = gen.module.BookRepo(backend)
    for direction in (1, -1):
        want = _raw_ids(await _find(raw.books, {}, [("title", direction), ("_id", 1)]))
        for limit in (40, 13):
            assert await _keyset_ids(books, [("title", direction)], limit) == want


async def test_books_keyset_pages_across_the_id_types_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    """In ``_id`` order the 399 int ids come before the 32 ObjectIds; a page that ends on the
    last int must be followed by the ObjectIds (MongoDB's ``$gt: <int>`` alone never matches
    an ObjectId)."""
    books = gen.module.BookRepo(backend)
    want = _raw_ids(await _find(raw.books, {}, [("_id", 1)]))
    ints = sum(isinstance(i, int) for i in want)
    assert (ints, len(want) - ints) == (399, 32)
    for limit in (57, ints, 100):
        assert await _keyset_ids(books, [("id", 1)], limit) == want, limit


async def test_books_read_by_int_and_object_id(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    books = gen.module.BookRepo(backend)
    as_int = await books.read(1)
    assert as_int is not None and as_int.id == 1
    assert _docs([as_int]) == _raw_docs([await raw.books.find_one({"_id": 1})])

    oid = ObjectId("53c2ae8528d75d572c06ad9d")
    as_oid = await books.read(str(oid))
    assert as_oid is not None and as_oid.id == str(oid)
    assert as_oid.title == "XSLT Quickly"
    assert _docs([as_oid]) == _raw_docs([await raw.books.find_one({"_id": oid})])

    # Both types in one $in; absent ids of either type read as None.
    got = await books.list({"id": {"$in": [1, str(oid), 2]}}, sort=[("id", 1)])
    want = await _find(raw.books, {"_id": {"$in": [1, oid, 2]}}, [("_id", 1)])
    assert len(want) == 3
    await _agree(got, want)
    assert await books.read(10_000_000) is None
    assert await books.read("0" * 24) is None


# -- restaurant -----------------------------------------------------------------------------


async def test_restaurant_spaced_field_and_rating_union_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    restaurants = gen.module.RestaurantRepo(backend)
    sort = [("name", 1), ("_id", 1)]

    # "address line 2" is address_line_2 in Python; filter and sort by it.
    got = await restaurants.list(
        {"address_line_2": "Cardiff", "type_of_food": {"$in": ["Chinese", "Pizza"]}},
        sort=[("name", 1)],
    )
    want = await _find(
        raw.restaurant,
        {"address line 2": "Cardiff", "type_of_food": {"$in": ["Chinese", "Pizza"]}},
        sort,
    )
    assert len(want) >= 3
    await _agree(got, want)
    assert all(r.address_line_2 == "Cardiff" for r in got)

    # rating is str | float: by a number, by a range, and by the string.
    for mine, theirs in (
        ({"rating": 6}, {"rating": 6}),
        ({"rating": {"$lt": 2}}, {"rating": {"$lt": 2}}),
        (
            {"rating": "Not yet rated", "address_line_2": "London"},
            {"rating": "Not yet rated", "address line 2": "London"},
        ),
    ):
        got = await restaurants.list(mine, sort=[("name", 1)])
        want = await _find(raw.restaurant, theirs, sort)
        assert want, mine
        await _agree(got, want)
    assert await restaurants.count({"rating": "Not yet rated"}) == 63


async def test_restaurant_whole_collection_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    """Every restaurant whose address is a string (the 4 int addresses are the minority type
    the inspector warned about and left out of the model), one batch past the bulk-validation
    threshold, in name order."""
    restaurants = gen.module.RestaurantRepo(backend)
    got = await restaurants.list({"address": {"$regex": "."}}, sort=[("name", 1)])
    want = await _find(raw.restaurant, {"address": {"$type": "string"}}, [("name", 1), ("_id", 1)])
    assert len(want) == 2548 - 4
    await _agree(got, want)


async def test_restaurant_group_count_per_food_type_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    restaurants = gen.module.RestaurantRepo(backend)
    got = await restaurants.aggregate(
        [
            {"$match": {"address_line_2": {"$ne": "London"}}},
            {"$group": {"_id": "$type_of_food", "count": {"$sum": 1}}},
            {"$sort": {"count": -1, "_id": 1}},
        ]
    )
    cursor = await raw.restaurant.aggregate(
        [
            {"$match": {"address line 2": {"$ne": "London"}}},
            {"$group": {"_id": "$type_of_food", "count": {"$sum": 1}}},
            {"$sort": {"count": -1, "_id": 1}},
        ]
    )
    want = [d async for d in cursor]
    assert len(want) > 10
    assert got == want
    assert sum(row["count"] for row in got) == await raw.restaurant.count_documents(
        {"address line 2": {"$ne": "London"}}
    )


# -- grades ---------------------------------------------------------------------------------


async def test_grades_elem_match_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    grades = gen.module.GradeRepo(backend)
    sort = [("_id", 1)]
    # The same sub-document must be an exam AND score >= 90 (not any exam and any 90+).
    got = await grades.list(
        {"scores": {"$elemMatch": {"type_": "exam", "score": {"$gte": 90}}}}, sort=[("id", 1)]
    )
    want = await _find(
        raw.grades, {"scores": {"$elemMatch": {"type": "exam", "score": {"$gte": 90}}}}, sort
    )
    loose = await raw.grades.count_documents({"scores.type": "exam", "scores.score": {"$gte": 90}})
    assert 0 < len(want) < loose
    await _agree(got, want)

    got = await grades.list(
        {
            "student_id__lt": 20,
            "scores": {"$elemMatch": {"type_": "quiz", "score": {"$lt": 10}}},
        },
        sort=[("class_id", 1)],
    )
    want = await _find(
        raw.grades,
        {
            "student_id": {"$lt": 20},
            "scores": {"$elemMatch": {"type": "quiz", "score": {"$lt": 10}}},
        },
        [("class_id", 1), ("_id", 1)],
    )
    assert want
    await _agree(got, want)


# -- products -------------------------------------------------------------------------------


async def test_products_polymorphic_id_and_type_equal_pymongo(
    gen: Generated, backend: MongoBackend, raw: Any
) -> None:
    products = gen.module.ProductRepo(backend)
    sort = [("_id", 1)]
    everything = await products.list(sort=[("id", 1)])
    await _agree(everything, await _find(raw.products, {}, sort))
    assert len(everything) == 11

    # _id: a plain string and an ObjectId, both str in the model.
    ac3 = await products.read("ac3")
    assert ac3 is not None and ac3.name == "AC3 Phone" and ac3.type_ == "phone"
    charger = await products.read("507d95d5719dbef170f15bf9")
    assert charger is not None and charger.type_ == ["accessory", "charger"]
    assert charger.for_ == ["ac3", "ac7", "ac9"]
    ids = ["ac7", "507d95d5719dbef170f15bfb", "nope"]
    got = await products.list({"id": {"$in": ids}}, sort=[("id", 1)])
    want = await _find(raw.products, {"_id": {"$in": ["ac7", ObjectId(ids[1]), "nope"]}}, sort)
    assert len(want) == 2
    await _agree(got, want)

    # type: a scalar matches a string type and an array element alike.
    for mine, theirs in (
        ({"type_": "accessory"}, {"type": "accessory"}),
        ({"type_": "phone"}, {"type": "phone"}),
        ({"type_": {"$in": ["case", "service"]}}, {"type": {"$in": ["case", "service"]}}),
        ({"type_": {"$all": ["accessory", "case"]}}, {"type": {"$all": ["accessory", "case"]}}),
        ({"for_": "ac3", "price__lt": 20}, {"for": "ac3", "price": {"$lt": 20}}),
    ):
        got = await products.list(mine, sort=[("id", 1)])
        want = await _find(raw.products, theirs, sort)
        assert want, mine
        await _agree(got, want)
    # The server's distinct leaves out documents lacking the field; the repo reports them as
    # None, first (as the memory and SQL backends do; MongoBackend.distinct's docstring).
    lacking = await raw.products.count_documents({"brand": None})
    assert lacking > 0
    assert await products.distinct("brand") == [None, *await raw.products.distinct("brand")]
    assert await products.distinct("brand", {"price__gt": 100}) == ["ACME"]
