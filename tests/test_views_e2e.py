"""Views across sources: explicit key casts, filters split and pushed down per source, bounded
joins — and, end to end, Chinook customers (PostgreSQL) ⋈ their invoices (MongoDB, ObjectId
``_id``, customer id as a string) ⋈ a CSV of segments ⋈ a Redis hash per customer, checked
against the same join done by hand over raw driver reads, then declared in config →
``xrepo inspect`` → ``xrepo generate`` → ``mypy --strict`` → the generated typed view repo.
"""

from __future__ import annotations

import csv
import datetime
import importlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from typecheck import assert_mypy_strict

from xrepo.codegen.cli import main as xrepo_cli
from xrepo.codegen.config import ConfigError, ViewConfig, XrepoConfig
from xrepo.codegen.views import view_snapshot
from xrepo.runtime.errors import ConfigurationError
from xrepo.runtime.factory import XRepoFactory
from xrepo.runtime.resources import (
    CsvResource,
    MemoryResource,
    MongoResource,
    PostgresResource,
    RedisResource,
    XResource,
)
from xrepo.runtime.schema import load_snapshot
from xrepo.runtime.views import JoinSizeError

ROOT = Path(__file__).resolve().parents[1]
Row = dict[str, Any]

# -- in memory: casts, pushdown, bounds (no servers) ---------------------------------------

PEOPLE = [{"id": i, "name": f"p{i}", "country": "BR" if i % 2 else "US"} for i in range(1, 9)]
ORDERS = [{"oid": i, "person": str(1 + i % 8), "amount": i * 10} for i in range(1, 25)]
TAGS = [{"pid": i, "tag": "gold" if i % 3 == 0 else "plain"} for i in range(1, 9)]


def _memory() -> dict[str, Any]:
    return {
        "people": (MemoryResource({"people": PEOPLE}, name="crm"), "people"),
        "orders": (MemoryResource({"orders": ORDERS}, name="shop"), "orders"),
    }


ON = {"people": "id", "orders": "person"}


async def test_mismatched_key_types_are_an_error_naming_both_sides() -> None:
    with pytest.raises(ConfigurationError) as err:
        await XRepoFactory().create_view_from_resources("po", _memory(), {"on": ON})
    msg = str(err.value)
    assert "people.id is int" in msg and "orders.person is str" in msg
    assert "key_types" in msg


async def test_explicit_cast_reconciles_keys_and_types_the_view_field() -> None:
    view = await XRepoFactory().create_view_from_resources(
        "po", _memory(), {"on": ON, "key_types": {"orders": "int"}}
    )
    rows = [r.model_dump() for r in await view.list()]
    assert len(rows) == len(ORDERS)
    assert all(isinstance(r["person"], int) and r["person"] == r["id"] for r in rows)
    # The same join the other way round: cast people.id to str.
    other = await XRepoFactory().create_view_from_resources(
        "po2", _memory(), {"on": ON, "key_types": {"people": "str"}}
    )
    assert len(await other.list()) == len(ORDERS)


async def test_uncastable_key_value_is_named() -> None:
    bad = [*ORDERS, {"oid": 99, "person": "x7", "amount": 1}]
    sources = {
        "people": (MemoryResource({"people": PEOPLE}), "people"),
        "orders": (MemoryResource({"orders": bad}), "orders"),
    }
    with pytest.raises(ConfigurationError, match=r"'orders' key field 'person' value 'x7'"):
        await XRepoFactory().create_view_from_resources(
            "po", sources, {"on": ON, "key_types": {"orders": "int"}}
        )


async def test_bad_key_type_spelling_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a key type"):
        await XRepoFactory().create_view_from_resources(
            "po", _memory(), {"on": ON, "key_types": {"orders": "integer"}}
        )


async def test_view_filter_split_by_origin_pushed_and_residual() -> None:
    sources = {**_memory(), "tags": (MemoryResource({"tags": TAGS}), "tags")}
    config = {
        "on": {**ON, "tags": "pid"},
        "key_types": {"orders": "int"},
        "prefix": "always",
    }
    where = {
        "people_country": "BR",
        "orders_amount__gte": 100,
        "$or": [{"tags_tag": "gold"}, {"orders_amount": 110}],
    }
    view = await XRepoFactory().create_view_from_resources("pot", sources, config, where=where)
    got = sorted(r.model_dump()["orders_oid"] for r in await view.list())
    expected = sorted(
        o["oid"]
        for o in ORDERS
        for p in PEOPLE
        for t in TAGS
        if int(o["person"]) == p["id"] == t["pid"]
        and p["country"] == "BR"
        and o["amount"] >= 100
        and (t["tag"] == "gold" or o["amount"] == 110)
    )
    assert got == expected and got
    fetched = view.freshness.source_rows
    assert fetched["people"] == sum(p["country"] == "BR" for p in PEOPLE)
    assert fetched["orders"] == sum(o["amount"] >= 100 for o in ORDERS)
    assert fetched["tags"] == len(TAGS)  # only in the cross-source $or: not pushed


async def test_filter_on_cast_key_or_outer_side_is_not_pushed() -> None:
    config = {"on": ON, "key_types": {"orders": "int"}, "type": "left", "prefix": "always"}
    view = await XRepoFactory().create_view_from_resources(
        "po", _memory(), config, where={"orders_person": 3, "people_id__lte": 4}
    )
    rows = [r.model_dump() for r in await view.list()]
    assert {r["people_id"] for r in rows} == {3}
    assert view.freshness.source_rows == {"people": 4, "orders": len(ORDERS)}


async def test_unknown_view_field_in_where_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="where: unknown field 'nope'"):
        await XRepoFactory().create_view_from_resources(
            "po", _memory(), {"on": ON, "key_types": {"orders": "int"}}, where={"nope": 1}
        )


async def test_source_too_large_names_source_and_limit() -> None:
    with pytest.raises(JoinSizeError, match=r"source 'orders' gives more than max_rows=10"):
        await XRepoFactory().create_view_from_resources(
            "po", _memory(), {"on": ON, "key_types": {"orders": "int"}}, max_rows=10
        )
    # The pushed-down filter is what makes it fit.
    view = await XRepoFactory().create_view_from_resources(
        "po",
        _memory(),
        {"on": ON, "key_types": {"orders": "int"}},
        max_rows=10,
        where={"amount__lte": 50},
    )
    assert view.freshness.source_rows == {"people": 8, "orders": 5}


def test_view_config_is_validated_and_planned_like_the_runtime() -> None:
    with pytest.raises(ValueError, match="source 'nowhere' is not configured"):
        XrepoConfig.model_validate(
            {
                "sources": [{"name": "a", "path": "a.csv"}],
                "views": [
                    {
                        "name": "v",
                        "sources": [
                            {"name": "x", "source": "a", "collection": "a", "on": "id"},
                            {"name": "y", "source": "nowhere", "collection": "b", "on": "id"},
                        ],
                    }
                ],
            }
        )
    import asyncio

    crm = asyncio.run(MemoryResource({"people": PEOPLE}, name="crm").discover_schema())
    shop = asyncio.run(MemoryResource({"orders": ORDERS}, name="shop").discover_schema())
    sides = [
        {"name": "people", "source": "crm", "collection": "people", "on": "id"},
        {"name": "orders", "source": "shop", "collection": "orders", "on": "person"},
    ]
    with pytest.raises(ConfigError, match=r"people\.id is int, orders\.person is str"):
        view_snapshot(
            ViewConfig.model_validate({"name": "v", "sources": sides}), {"crm": crm, "shop": shop}
        )
    sides[1]["key_type"] = "int"
    snap = view_snapshot(
        ViewConfig.model_validate({"name": "v", "sources": sides}), {"crm": crm, "shop": shop}
    )
    (spec,) = snap.collections
    assert spec.kind == "view" and snap.source.kind == "memory"
    assert spec.field("person").type.kind.value == "int"


# -- end to end: PostgreSQL ⋈ MongoDB ⋈ CSV ⋈ Redis ------------------------------------

SEGMENTS = ("gold", "silver", "bronze")
TIERS = ("vip", "regular")
COUNTRIES = ["Brazil", "USA", "Canada"]
WHERE: dict[str, Any] = {
    "customers_country": {"$in": COUNTRIES},
    "invoices_total__gte": 5,
    "$or": [{"segments_segment": "gold"}, {"profile_tier": "vip"}],
}
VIEW_TOML = """
[[views]]
name = "customer_activity"
type = "inner"
prefix = "always"

[[views.sources]]
name = "customers"
source = "chinook"
collection = "customer"
on = "customer_id"

[[views.sources]]
name = "invoices"
source = "shop"
collection = "invoices"
on = "customer_id"
key_type = "int"

[[views.sources]]
name = "segments"
source = "segments"
collection = "segments"
on = "customer_id"

[[views.sources]]
name = "profile"
source = "cache"
collection = "cust:{id}"
on = "id"
"""


@dataclass(frozen=True)
class World:
    pg: str
    mongo_url: str
    mongo_db: str
    redis_url: str
    prefix: str
    csv_path: Path


@pytest.fixture
async def world(
    chinook_dsn: str,
    mongo_db: tuple[str, str],
    redis_prefix: tuple[str, str],
    tmp_path: Path,
) -> World:
    import asyncpg
    import redis.asyncio as aioredis
    from bson import ObjectId
    from pymongo import MongoClient

    conn = await asyncpg.connect(chinook_dsn)
    try:
        customers = [r["customer_id"] for r in await conn.fetch("SELECT customer_id FROM customer")]
        invoices = await conn.fetch(
            "SELECT invoice_id, customer_id, invoice_date, billing_country, total FROM invoice"
        )
    finally:
        await conn.close()
    url, db = mongo_db
    with MongoClient(url) as client:
        client[db]["invoices"].insert_many(
            [
                {
                    "_id": ObjectId(),
                    "invoice_id": r["invoice_id"],
                    "customer_id": str(r["customer_id"]),
                    "invoice_date": r["invoice_date"],
                    "billing_country": r["billing_country"],
                    "total": float(r["total"]),
                }
                for r in invoices
            ]
        )
    csv_path = tmp_path / "segments.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["customer_id", "segment", "score"])
        for cid in sorted(customers):
            if cid % 5 != 0:  # some customers have no segment: the inner join drops them
                out.writerow([cid, SEGMENTS[cid % 3], cid * 7 % 100])
    redis_url, prefix = redis_prefix
    client = aioredis.from_url(redis_url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for cid in customers:
                if cid % 7 != 0:
                    mapping = {"tier": TIERS[cid % 2], "visits": str(cid * 3)}
                    pipe.hset(f"{prefix}cust:{cid}", mapping=mapping)
            await pipe.execute()
    finally:
        await client.aclose()
    return World(chinook_dsn, url, db, redis_url, prefix, csv_path)


def _resources(w: World) -> dict[str, Any]:
    return {
        "customers": (PostgresResource(w.pg, name="chinook", include=["customer"]), "customer"),
        "invoices": (MongoResource(w.mongo_url, w.mongo_db, name="shop"), "invoices"),
        "segments": CsvResource(w.csv_path, name="segments"),
        "profile": (RedisResource(w.redis_url, name="cache", prefix=w.prefix), "cust:{id}"),
    }


async def _close(resources: Mapping[str, Any]) -> None:
    for given in resources.values():
        resource = given[0] if isinstance(given, tuple) else given
        await resource.close()


def _prefixed(source: str, row: Mapping[str, Any]) -> Row:
    return {f"{source}_{k}": v for k, v in row.items()}


async def _by_hand(w: World) -> tuple[list[Row], dict[str, int]]:
    """The same join over raw driver reads, in plain Python."""
    import asyncpg
    import redis.asyncio as aioredis
    from pymongo import MongoClient

    conn = await asyncpg.connect(w.pg)
    try:
        customers = [dict(r) for r in await conn.fetch("SELECT * FROM customer")]
    finally:
        await conn.close()
    with MongoClient(w.mongo_url, tz_aware=True) as client:
        invoices = list(client[w.mongo_db]["invoices"].find())
    with w.csv_path.open(newline="", encoding="utf-8") as fh:
        segments = [
            {
                "customer_id": int(r["customer_id"]),
                "segment": r["segment"],
                "score": int(r["score"]),
            }
            for r in csv.DictReader(fh)
        ]
    client = aioredis.from_url(w.redis_url, decode_responses=True)
    profiles: list[Row] = []
    try:
        async for key in client.scan_iter(match=f"{w.prefix}cust:*"):
            raw = await client.hgetall(key)
            cid = int(key.removeprefix(f"{w.prefix}cust:"))
            profiles.append({"id": cid, "tier": raw["tier"], "visits": int(raw["visits"])})
    finally:
        await client.aclose()

    kept_customers = [c for c in customers if c["country"] in COUNTRIES]
    kept_invoices = [i for i in invoices if i["total"] >= 5]
    seg_by = {s["customer_id"]: s for s in segments}
    prof_by = {p["id"]: p for p in profiles}
    rows: list[Row] = []
    for c in kept_customers:
        for inv in kept_invoices:
            if int(inv["customer_id"]) != c["customer_id"]:
                continue
            seg, prof = seg_by.get(c["customer_id"]), prof_by.get(c["customer_id"])
            if seg is None or prof is None:
                continue
            if not (seg["segment"] == "gold" or prof["tier"] == "vip"):
                continue
            invoice = {**inv, "_id": str(inv["_id"]), "customer_id": int(inv["customer_id"])}
            rows.append(
                _prefixed("customers", c)
                | _prefixed("invoices", invoice)
                | _prefixed("segments", seg)
                | _prefixed("profile", prof)
            )
    counts = {
        "customers": len(kept_customers),
        "invoices": len(kept_invoices),
        "segments": len(segments),
        "profile": len(profiles),
    }
    return _ordered(rows), counts


def _ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r["customers_customer_id"], r["invoices_invoice_id"]))


def _normalised(row: Mapping[str, Any]) -> Row:
    """Datetimes compared as UTC instants (MongoDB stores UTC)."""
    out = dict(row)
    for k, v in out.items():
        if isinstance(v, datetime.datetime) and v.tzinfo is None:
            out[k] = v.replace(tzinfo=datetime.UTC)
    return out


JOIN = {
    "type": "inner",
    "prefix": "always",
    "on": {
        "customers": "customer_id",
        "invoices": "customer_id",
        "segments": "customer_id",
        "profile": "id",
    },
    "key_types": {"invoices": "int"},
}


async def test_four_source_view_equals_the_join_by_hand(world: World) -> None:
    expected, counts = await _by_hand(world)
    assert expected, "the fixture data must produce rows"
    resources = _resources(world)
    try:
        view = await XRepoFactory().create_view_from_resources(
            "customer_activity", resources, JOIN, where=WHERE
        )
        got = _ordered([_normalised(m.model_dump(by_alias=True)) for m in await view.list()])
    finally:
        await _close(resources)
    assert got == [_normalised(r) for r in expected]
    # Pushdown: each source sent only the rows its part of the filter keeps.
    assert dict(view.freshness.source_rows) == counts
    assert counts["customers"] < 59 and counts["invoices"] < 412


async def test_server_resources_list_discover_and_validate(world: World) -> None:
    resources = _resources(world)
    expected = {"customers": "customer", "invoices": "invoices", "profile": "cust:{id}"}
    try:
        for src, collection in expected.items():
            resource = resources[src][0]
            assert isinstance(resource, XResource) and not resource.materialized
            assert await resource.validate_connection()
            assert await resource.list_collections_or_tables() == [collection]
            snap = await resource.discover_schema()
            assert snap.collection(collection).fields
    finally:
        await _close(resources)
    down = [
        PostgresResource("postgresql://nobody@127.0.0.1:1/none"),
        MongoResource(
            "mongodb://127.0.0.1:1", "none", client_options={"serverSelectionTimeoutMS": 200}
        ),
        RedisResource("redis://127.0.0.1:1/0"),
    ]
    for resource in down:
        assert not await resource.validate_connection(), resource
        await resource.close()


async def test_four_source_view_without_cast_is_an_error(world: World) -> None:
    resources = _resources(world)
    join = {k: v for k, v in JOIN.items() if k != "key_types"}
    try:
        with pytest.raises(ConfigurationError) as err:
            await XRepoFactory().create_view_from_resources("ca", resources, join)
    finally:
        await _close(resources)
    assert "customers.customer_id is int, invoices.customer_id is str" in str(err.value)


async def test_large_mongo_source_says_so(world: World) -> None:
    resources = _resources(world)
    try:
        with pytest.raises(JoinSizeError, match=r"source 'invoices' gives more than max_rows=100"):
            await XRepoFactory().create_view_from_resources("ca", resources, JOIN, max_rows=100)
    finally:
        await _close(resources)


def _cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(xrepo_cli, ["--config", str(config), *args])
    assert result.exit_code == 0, f"xrepo {' '.join(args)} failed:\n{result.output}"
    return result.output


@pytest.fixture
def generated_view(world: World, tmp_path: Path) -> Iterator[tuple[Path, Any, ViewConfig]]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "segments.csv").write_bytes(world.csv_path.read_bytes())
    config = root / "xrepo.toml"
    package = "e2e_view_gen"
    config.write_text(
        f'schemas_dir = "schemas"\noutput_dir = "{package}"\npackage = "{package}"\n\n'
        '[[sources]]\nname = "chinook"\nkind = "postgres"\nurl_env = "XREPO_VIEW_PG"\n'
        'include = ["customer"]\n\n'
        '[[sources]]\nname = "shop"\nkind = "mongo"\nurl_env = "XREPO_VIEW_MONGO"\n'
        f'database = "{world.mongo_db}"\n\n'
        '[[sources]]\nname = "segments"\npath = "segments.csv"\n\n'
        '[[sources]]\nname = "cache"\nkind = "redis"\nurl_env = "XREPO_VIEW_REDIS"\n'
        f'prefix = "{world.prefix}"\n' + VIEW_TOML,
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XREPO_VIEW_PG", world.pg)
        mp.setenv("XREPO_VIEW_MONGO", world.mongo_url)
        mp.setenv("XREPO_VIEW_REDIS", world.redis_url)
        _cli(config, "inspect")
        _cli(config, "generate")
    snap = load_snapshot(root / "schemas" / "customer_activity.json")
    (spec,) = snap.collections
    assert spec.kind == "view"
    assert spec.field("invoices_customer_id").type.kind.value == "int"  # the declared cast
    assert_mypy_strict(package, root)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(f"{package}.customer_activity")
        from xrepo.codegen.config import load_project

        view_config = load_project(config).config.views[0]
        yield root, module, view_config
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]


async def test_generated_view_repo_is_typed_and_returns_the_same_rows(
    world: World, generated_view: tuple[Path, Any, ViewConfig]
) -> None:
    _, module, view_config = generated_view
    repo_classes = [
        v for k, v in vars(module).items() if k.endswith("Repo") and k != "RepoMetadata"
    ]
    (repo_class,) = [c for c in repo_classes if isinstance(c, type)]
    expected, counts = await _by_hand(world)
    resources = _resources(world)
    try:
        view = await XRepoFactory().create_view_from_resources(
            "customer_activity",
            resources,
            view_config.join_config(),
            where=WHERE,
            repo_class=repo_class,
        )
        models = await view.list()
    finally:
        await _close(resources)
    assert isinstance(view, repo_class)
    assert all(isinstance(m, repo_class.model) for m in models)
    got = _ordered([_normalised(m.model_dump(by_alias=True)) for m in models])
    assert got == [_normalised(r) for r in expected]
    assert dict(view.freshness.source_rows) == counts
