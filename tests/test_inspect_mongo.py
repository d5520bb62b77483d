"""The MongoDB inspector against a live server (SecantusDB, or XREPO_TEST_MONGO_URL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient, MongoClient

from xrepo.codegen.inspect.mongo_validator import read_validator, to_json_schema
from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.introspect.infer import FieldAccumulator
from xrepo.runtime.introspect.memory import DocumentAccumulator
from xrepo.runtime.introspect.minority import apply_minority_threshold
from xrepo.runtime.introspect.mongo import inspect_mongo, inspect_mongo_async
from xrepo.runtime.introspect.mongo_maps import detect_maps
from xrepo.runtime.introspect.mongo_sample import plan_windows, read_sample
from xrepo.runtime.introspect.mongo_types import is_data_key
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    LogicalType,
    Snapshot,
    TypeSpec,
    dumps_snapshot,
    parse_snapshot,
)

STR = TypeSpec(kind=LogicalType.STR)
INT = TypeSpec(kind=LogicalType.INT)
FLOAT = TypeSpec(kind=LogicalType.FLOAT)
OID = TypeSpec(kind=LogicalType.OBJECT_ID)
UTC_DT = TypeSpec(kind=LogicalType.DATETIME, tz_aware=True)


def _url(url: str, db: str) -> str:
    return f"{url.rstrip('/')}/{db}"


@pytest.fixture
def sync_db(mongo_db: tuple[str, str]) -> Iterator[Any]:
    """A PyMongo database handle for a fresh database; ``_mongo_url(db)`` is its URL."""
    url, name = mongo_db
    client: MongoClient[dict[str, Any]]
    with MongoClient(url, tz_aware=True) as client:
        _URLS[name] = _url(url, name)
        yield client[name]


@pytest.fixture(scope="module")
def datasets(mongo_datasets: tuple[str, str]) -> Snapshot:
    url, db = mongo_datasets
    return inspect_mongo(_url(url, db), name="datasets")


def field(spec: CollectionSpec, *path: str) -> FieldSpec:
    found = spec.field(path[0])
    for name in path[1:]:
        found = next(f for f in found.type.fields or () if f.name == name)
    return found


# -- the shared datasets -------------------------------------------------------------------------
def test_books(datasets: Snapshot) -> None:
    books = datasets.collection("books")
    assert books.kind == "collection"
    assert books.primary_key == ("_id",)
    assert books.field("_id").type == TypeSpec(kind=LogicalType.UNION, variants=(INT, OID))
    assert books.field("_id").required and not books.field("_id").nullable
    assert books.stats is not None
    # the union's frequencies
    assert books.stats.fields["_id"].type_histogram == {"int": 399, "object_id": 32}
    published = books.field("publishedDate")
    assert published.type == UTC_DT
    assert not published.required
    assert books.stats.fields["publishedDate"].presence_ratio == round(353 / 431, 4)
    assert books.field("authors").type == TypeSpec(kind=LogicalType.ARRAY, items=STR)
    assert books.field("pageCount").type == INT
    assert books.field("title").required
    assert books.stats.row_estimate == 431
    assert books.stats.sampled == 431  # smaller than the sample: read whole
    assert books.fields[0].name == "_id"


def test_restaurant_union_and_field_name_with_a_space(datasets: Snapshot) -> None:
    restaurant = datasets.collection("restaurant")
    assert restaurant.field("address line 2").type == STR
    rating = restaurant.field("rating").type
    assert rating == TypeSpec(kind=LogicalType.UNION, variants=(STR, FLOAT))
    assert restaurant.stats is not None
    assert restaurant.stats.row_estimate == 2548
    assert restaurant.stats.sampled == 1000
    histogram = restaurant.stats.fields["rating"].type_histogram
    assert histogram is not None and set(histogram) == {"int", "float", "str"}
    assert not [w for w in datasets.warnings if w.startswith("restaurant.rating")]


async def test_restaurant_minority_threshold_warns_instead_of_widening(
    mongo_datasets: tuple[str, str],
) -> None:
    url, db = mongo_datasets
    snap = await inspect_mongo_async(
        _url(url, db), name="d", include=["restaurant"], full_scan=True, minority_threshold=0.05
    )
    restaurant = snap.collection("restaurant")
    assert restaurant.field("rating").type == FLOAT
    assert restaurant.stats is not None and restaurant.stats.sampled == 2548
    histogram = restaurant.stats.fields["rating"].type_histogram
    assert histogram is not None and histogram["str"] == 63  # the stats keep the truth
    (warning,) = [w for w in snap.warnings if w.startswith("restaurant.rating")]
    assert "63 of 2548" in warning and " str " in warning and "0.05" in warning
    # under the default 1% threshold the same 2.5% is a union member
    snap = await inspect_mongo_async(
        _url(url, db), name="d", include=["restaurant"], full_scan=True
    )
    assert snap.collection("restaurant").field("rating").type.kind == LogicalType.UNION


def test_grades_array_of_sub_documents(datasets: Snapshot) -> None:
    grades = datasets.collection("grades")
    scores = grades.field("scores").type
    assert scores.kind == LogicalType.ARRAY and scores.items is not None
    assert scores.items.kind == LogicalType.OBJECT
    item_fields = {f.name: f for f in scores.items.fields or ()}
    assert item_fields["score"].type == FLOAT and item_fields["score"].required
    assert item_fields["type"].type == STR
    assert grades.stats is not None
    assert grades.stats.fields["scores[]"].type_histogram == {"object": 1241}
    assert "scores[].score" in grades.stats.fields


def test_products_polymorphic(datasets: Snapshot) -> None:
    products = datasets.collection("products")
    assert products.field("_id").type == TypeSpec(kind=LogicalType.UNION, variants=(STR, OID))
    str_array = TypeSpec(kind=LogicalType.ARRAY, items=STR)
    assert products.field("type").type == TypeSpec(
        kind=LogicalType.UNION, variants=(STR, str_array)
    )
    assert products.stats is not None
    assert products.stats.fields["type"].type_histogram == {"array": 4, "str": 7}
    voice = field(products, "limits", "voice")
    assert {f.name for f in voice.type.fields or ()} == {"n", "over_rate", "units"}
    assert not products.field("limits").required


def test_snapshot_round_trips(datasets: Snapshot) -> None:
    text = dumps_snapshot(datasets)
    assert parse_snapshot(json.loads(text)) == datasets
    assert datasets.source.kind == "mongo" and datasets.source.server_version


async def test_three_inspections_give_identical_bytes(mongo_datasets: tuple[str, str]) -> None:
    url, db = mongo_datasets
    texts = [
        dumps_snapshot(await inspect_mongo_async(_url(url, db), name="d", sample_size=300))
        for _ in range(3)
    ]
    assert texts[0] == texts[1] == texts[2]
    # windows really were used (restaurant 2548 > 300) and stay representative of the end
    snap = parse_snapshot(json.loads(texts[0]))
    assert snap.collection("restaurant").stats.sampled == 300  # type: ignore[union-attr]


# -- sampling ------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 5000), sample=st.integers(1, 6000), windows=st.integers(1, 20))
def test_windows_cover_both_ends_without_overlap(total: int, sample: int, windows: int) -> None:
    plan = plan_windows(total, sample, windows=windows)
    assert sum(size for _, size in plan) == min(total, sample)
    assert plan[0][0] == 0
    if len(plan) > 1 or sample < total:
        last_start, last_size = plan[-1]
        assert last_start + last_size == total or len(plan) == 1
    ends = [start + size for start, size in plan]
    assert all(end <= start for end, (start, _) in zip(ends, plan[1:], strict=False))
    assert all(size > 0 for _, size in plan)


async def test_windows_read_the_same_documents_as_positions(
    mongo_datasets: tuple[str, str],
) -> None:
    """products' _id goes from str to ObjectId: ``$gt`` chaining must fall back correctly."""
    url, db = mongo_datasets
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        coll = client[db]["products"]
        everything = await coll.find().sort("_id", 1).to_list(None)
        for sample in (2, 3, 5, 7):
            plan = plan_windows(len(everything), sample, windows=3)
            got = [doc async for batch in read_sample(coll, plan) for doc in batch]
            expected = [d for start, size in plan for d in everything[start : start + size]]
            assert [d["_id"] for d in got] == [d["_id"] for d in expected]
    finally:
        await client.close()


# -- maps ----------------------------------------------------------------------------------------
LANGS = [f"{a}{b}" for a in "abcdefghij" for b in "klmnopqrst"]  # 100 two-letter codes


async def test_map_keyed_by_data(sync_db: Any) -> None:
    docs = []
    for i in range(2000):
        langs = [LANGS[(i * 7 + k * 13) % len(LANGS)] for k in range(4)]
        docs.append(
            {
                "title": f"t{i}",
                "translations": {lang: {"text": f"x{i}", "votes": i % 5} for lang in langs},
                "by_user": {str(1000 + (i * 31 + k) % 900): i % 3 for k in range(3)},
                "labels": {"en": "a", "fr": "b"},  # a fixed handful of codes: fields
            }
        )
    sync_db["articles"].insert_many(docs)
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="m")
    articles = snap.collection("articles")
    translations = articles.field("translations").type
    assert translations.kind == LogicalType.OBJECT and translations.fields is None
    assert translations.map_values is not None
    assert {f.name for f in translations.map_values.fields or ()} == {"text", "votes"}
    assert articles.field("by_user").type == TypeSpec(kind=LogicalType.OBJECT, map_values=INT)
    labels = articles.field("labels").type
    assert labels.map_values is None and {f.name for f in labels.fields or ()} == {"en", "fr"}
    assert articles.stats is not None
    assert "translations.*" in articles.stats.fields
    assert "translations.*.text" in articles.stats.fields
    assert not any(k.startswith("translations.aa") for k in articles.stats.fields)


def test_map_rule() -> None:
    for key in ("en", "pt-BR", "zh_Hant", "42", "-1", "507f1f77bcf86cd799439011", "user_42"):
        assert is_data_key(key), key
    for key in ("title", "firstName", "address line 2", "a.b", "createdAt"):
        assert not is_data_key(key), key
    words = [{f"word{chr(97 + i % 26)}{chr(97 + i // 26)}x": 1 for i in range(100)}]
    assert detect_maps([{"sub": words[0]}]) == frozenset()  # 100 named keys: still fields
    many = {f"name{chr(97 + i % 26)}{chr(97 + (i // 26) % 26)}z{i // 676}": 1 for i in range(600)}
    assert detect_maps([{"sub": many}]) == frozenset({(("k", "sub"),)})  # > 512 keys: a map
    ids = {str(i): {str(j): j for j in range(70)} for i in range(70)}
    found = detect_maps([{"outer": ids}])
    assert (("k", "outer"),) in found and (("k", "outer"), ("v", "")) in found


# -- validators ----------------------------------------------------------------------------------
VALIDATOR = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": ["sku", "price"],
        "properties": {
            "sku": {"bsonType": "string", "maxLength": 12},
            "price": {"bsonType": "decimal"},
            "qty": {"bsonType": ["int", "null"]},
            "owner": {"bsonType": "objectId"},
            "added": {"bsonType": "date"},
            "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
            "dims": {
                "bsonType": "object",
                "required": ["w"],
                "properties": {"w": {"bsonType": "double"}, "h": {"bsonType": "long"}},
            },
            "never_stored": {"bsonType": "bool"},
        },
    }
}


def _stock(db: Any, validator: dict[str, Any]) -> None:
    db.create_collection("stock", validator=validator)
    db["stock"].insert_many(
        [
            {
                "sku": f"S{i}",
                "price": Decimal128(f"{i}.50"),
                "qty": i if i % 2 else None,
                "owner": ObjectId(),
                "added": datetime(2024, 1, 1 + i, tzinfo=UTC),
                "tags": ["a"],
                "dims": {"w": 1.5, "h": Int64(3)},
                "note": "extra",
            }
            for i in range(5)
        ]
    )


async def test_validator_is_authoritative(sync_db: Any) -> None:
    _stock(sync_db, VALIDATOR)
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="v", validator_reader=read_validator)
    stock = snap.collection("stock")
    assert stock.field("price").type.kind == LogicalType.DECIMAL
    assert stock.field("price").required and stock.field("sku").required
    assert stock.field("sku").type == TypeSpec(kind=LogicalType.STR, max_length=12)
    assert stock.field("owner").type == OID and not stock.field("owner").required
    assert stock.field("added").type == UTC_DT
    assert stock.field("qty").type == INT and stock.field("qty").nullable
    assert field(stock, "dims", "h").type == INT
    assert field(stock, "dims", "w").required
    assert stock.field("never_stored").type == TypeSpec(kind=LogicalType.BOOL)  # declared only
    assert stock.field("_id").type == OID  # implicit in the validator: from the sample
    assert stock.field("note").type == STR  # undeclared: from the sample, with a warning
    assert any(w.startswith("stock.note:") and "not declared" in w for w in snap.warnings)
    assert stock.field("price").source_type == "decimal"
    # the sampled statistics sit beside the declared types
    assert stock.stats is not None and stock.stats.sampled == 5
    assert stock.stats.fields["qty"].null_ratio == 0.6
    assert stock.fields[0].name == "_id"


async def test_validator_without_reader_is_a_warning(sync_db: Any) -> None:
    validator = {**VALIDATOR, "price": {"$type": "decimal"}}
    _stock(sync_db, validator)
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="v")
    stock = snap.collection("stock")
    assert any("validator that was not applied" in w for w in snap.warnings)
    assert "never_stored" not in {f.name for f in stock.fields}
    assert stock.field("price").type.kind == LogicalType.DECIMAL  # sampled Decimal128
    (check,) = stock.checks
    assert json.loads(check.expression) == {"price": {"$type": "decimal"}}


def test_validator_translation_of_bson_types() -> None:
    spec = read_validator(
        {
            "properties": {
                "code": {"bsonType": "javascript"},
                "blob": {"bsonType": "binData"},
                "when": {"bsonType": "timestamp"},
                "either": {"bsonType": ["string", "int"], "maxLength": 3},
                "meta": {"bsonType": "object", "additionalProperties": {"bsonType": "long"}},
            }
        },
        "things",
    )
    assert spec.field("code").type.kind == LogicalType.UNKNOWN
    assert spec.field("blob").type.kind == LogicalType.BYTES
    assert spec.field("when").type == UTC_DT
    either = spec.field("either").type
    assert either.kind == LogicalType.UNION
    assert either.variants == (TypeSpec(kind=LogicalType.STR, max_length=3), INT)
    assert spec.field("meta").type == TypeSpec(kind=LogicalType.OBJECT, map_values=INT)
    translated = to_json_schema({"bsonType": ["object", "null"], "properties": {}}, root=True)
    assert translated["anyOf"][0] == {"type": "object", "properties": {}}


# -- indexes, views, stats -----------------------------------------------------------------------
async def test_indexes_of_every_kind(sync_db: Any) -> None:
    coll = sync_db["events"]
    coll.insert_many([{"kind": "a", "at": datetime.now(UTC), "user": i, "n": i} for i in range(3)])
    coll.create_index([("user", 1), ("kind", -1)], unique=True, name="user_kind")
    coll.create_index("n", sparse=True, name="n_sparse")
    coll.create_index("kind", partialFilterExpression={"n": {"$gt": 1}}, name="kind_partial")
    coll.create_index("at", expireAfterSeconds=3600, name="at_ttl")
    coll.create_index("ghost", name="ghost_1")
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="i")
    events = snap.collection("events")
    by_name = {ix.name: ix for ix in events.indexes}
    assert list(by_name) == sorted(by_name)
    assert "_id_" not in by_name
    assert by_name["user_kind"].fields == ("user", "kind") and by_name["user_kind"].unique
    assert by_name["n_sparse"].sparse and not by_name["n_sparse"].unique
    assert json.loads(by_name["kind_partial"].partial or "") == {"n": {"$gt": 1}}
    assert by_name["at_ttl"].ttl_seconds == 3600
    assert events.field("ghost").type.kind == LogicalType.UNKNOWN
    assert any(w.startswith("events.ghost:") for w in snap.warnings)
    assert events.stats is not None and events.stats.row_estimate == 3
    assert events.stats.size_bytes is not None and events.stats.avg_size_bytes is not None


async def test_view(sync_db: Any) -> None:
    sync_db["people"].insert_many([{"name": f"p{i}", "age": i} for i in range(10)])
    sync_db.create_collection(
        "adults",
        viewOn="people",
        pipeline=[{"$match": {"age": {"$gte": 5}}}, {"$project": {"_id": 0, "name": 1}}],
    )
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="w")
    adults = snap.collection("adults")
    assert adults.kind == "view"
    assert [f.name for f in adults.fields] == ["name"]
    assert adults.primary_key == ()
    assert adults.indexes == ()
    assert adults.stats is not None and adults.stats.row_estimate == 5
    assert adults.comment is not None and adults.comment.startswith("view on people")
    assert snap.collection("people").primary_key == ("_id",)


async def test_include_exclude_and_empty_collection(sync_db: Any) -> None:
    sync_db.create_collection("empty")
    sync_db["keep"].insert_one({"a": 1})
    sync_db["skip_me"].insert_one({"a": 1})
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="e", exclude=["skip_*"])
    assert [c.name for c in snap.collections] == ["empty", "keep"]
    empty = snap.collection("empty")
    assert empty.field("_id").type == OID and empty.primary_key == ("_id",)
    assert any(w.startswith("empty:") for w in snap.warnings)


# -- BSON types and hostile names ----------------------------------------------------------------
async def test_bson_types_and_hostile_names(sync_db: Any) -> None:
    doc = {
        "oid": ObjectId(),
        "long": Int64(2**40),
        "dec": Decimal128("1.25"),
        "bin": Binary(b"\x00\x01", 0),
        "u4": Binary(uuid.uuid4().bytes, 4),
        "u3": Binary(uuid.uuid4().bytes, 3),
        "re": Regex("^a", "i"),
        "ts": Timestamp(1_700_000_000, 3),
        "min": MinKey(),
        "max": MaxKey(),
        "js": Code("return 1"),
        "when": datetime(2024, 5, 1, tzinfo=UTC),
        "a.b": 1,
        "$dollar": 2,
        "with space": 3,
        "naïve ünïcode": 4,
        "nested": {"x.y": {"$z": [1, 2]}},
    }
    sync_db["odd"].insert_one(doc)
    snap = await inspect_mongo_async(_mongo_url(sync_db), name="o")
    odd = snap.collection("odd")
    kinds = {f.name: f.type.kind for f in odd.fields}
    assert kinds["oid"] == LogicalType.OBJECT_ID
    assert kinds["long"] == LogicalType.INT
    assert kinds["dec"] == LogicalType.DECIMAL
    assert kinds["bin"] == LogicalType.BYTES
    assert kinds["u4"] == kinds["u3"] == LogicalType.UUID
    assert kinds["re"] == LogicalType.STR
    assert odd.field("ts").type == UTC_DT and odd.field("when").type == UTC_DT
    assert kinds["min"] == kinds["max"] == kinds["js"] == LogicalType.UNKNOWN
    for name in ("a.b", "$dollar", "with space", "naïve ünïcode"):
        assert kinds[name] == LogicalType.INT
    inner = field(odd, "nested", "x.y", "$z")
    assert inner.type == TypeSpec(kind=LogicalType.ARRAY, items=INT)
    text = "\n".join(snap.warnings)
    for where in ("odd.min: 1 sampled minKey", "odd.max: 1 sampled maxKey", "odd.js: 1"):
        assert where in text
    assert "odd.re: 1 sampled regex value(s) typed str" in text
    assert "odd.ts: 1 sampled timestamp value(s) typed datetime" in text
    assert "naïve ünïcode" in dumps_snapshot(snap)  # verbatim, not escaped


def test_minority_rule_on_the_accumulator() -> None:
    docs = DocumentAccumulator()
    for i in range(1000):
        docs.add({"v": "n/a" if i < 5 else (i if i % 2 else i + 0.5), "w": i})
    warnings = apply_minority_threshold(docs, 0.01, where="c")
    assert docs.to_fields()[0].type == FLOAT
    assert warnings == [
        "c.v: 5 of 1000 sampled values are str (0.50%, under the minority threshold 0.01); "
        "left out of the type"
    ]
    acc = FieldAccumulator()
    for v in [1] * 10 + ["x"] * 10:
        acc.add(v)
    docs2 = DocumentAccumulator()
    docs2.fields["f"] = acc
    docs2.count = 20
    assert apply_minority_threshold(docs2, 0.9, where="c") != []
    assert acc.to_type().kind in (LogicalType.INT, LogicalType.STR)  # the larger always stays


# -- failures ------------------------------------------------------------------------------------
async def test_unreachable_server_is_one_line_without_credentials() -> None:
    with pytest.raises(InspectError) as info:
        await inspect_mongo_async(
            "mongodb://alice:s3cret@127.0.0.1:1/shop?serverSelectionTimeoutMS=300", name="x"
        )
    message = str(info.value)
    assert "\n" not in message
    assert "s3cret" not in message and "alice" not in message
    assert "not reachable" in message and "'x'" in message


def test_database_must_be_named() -> None:
    with pytest.raises(InspectError, match="no database"):
        inspect_mongo("mongodb://127.0.0.1:1", name="x")
    with pytest.raises(InspectError, match="sample_size"):
        inspect_mongo("mongodb://127.0.0.1:1/db", name="x", sample_size=0)


_URLS: dict[str, str] = {}


def _mongo_url(db: Any) -> str:
    return _URLS[db.name]


def test_decimal_values_stay_exact() -> None:
    from xrepo.runtime.introspect.mongo_types import BsonNotes, normalise

    value = normalise({"d": Decimal128("0.1")}, (), BsonNotes())
    assert value == {"d": Decimal("0.1")}
