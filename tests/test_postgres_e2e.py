"""Issue 4, end to end on a real server: a live PostgreSQL database → ``xrepo inspect`` →
``xrepo generate`` → ``mypy --strict`` on the output → the generated repos on PostgresBackend.

- Chinook (read-only): filters, sort + skip/limit paging, keyset pages, a ``$group`` revenue
  report and a ``$lookup``, each equal to hand-written SQL run through asyncpg on the same
  database (Decimals compared exactly).
- A type zoo: every type issue 4 lists, round-tripped through create/read with values that
  stress each one; the normalisations PostgreSQL applies are asserted, not tolerated.

Each generated package gets its own import name, so the two never share ``sys.modules``.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import math
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner
from pg import fresh_database, run_sql
from typecheck import assert_mypy_strict

from xrepo.codegen.cli import main as xrepo_cli
from xrepo.runtime.backends.postgres import COPY_THRESHOLD, PostgresBackend

ROOT = Path(__file__).resolve().parents[1]
D = decimal.Decimal
UTC = datetime.UTC
IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
PST = datetime.timezone(datetime.timedelta(hours=-8))


@dataclass(frozen=True)
class Generated:
    """A tmp project after inspect + generate: where it is and its imported source module."""

    dsn: str
    root: Path
    package: str
    module: ModuleType


def _cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(xrepo_cli, ["--config", str(config), *args])
    assert result.exit_code == 0, f"xrepo {' '.join(args)} failed:\n{result.output}"
    return result.output


def _generate_project(root: Path, dsn: str, package: str, source: str) -> Generated:
    """Write xrepo.toml (a postgres source read from $XREPO_E2E_PG), run inspect and generate
    through the CLI, import ``<package>.<source>`` from the tmp project."""
    config = root / "xrepo.toml"
    config.write_text(
        f'schemas_dir = "schemas"\noutput_dir = "{package}"\npackage = "{package}"\n\n'
        f'[[sources]]\nname = "{source}"\nkind = "postgres"\nurl_env = "XREPO_E2E_PG"\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XREPO_E2E_PG", dsn)
        inspected = _cli(config, "inspect")
        generated = _cli(config, "generate")
    assert f"schemas/{source}.json" in inspected
    assert (root / "schemas" / f"{source}.json").is_file()
    assert "added" in generated
    assert (root / package / source / "models.py").is_file()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    module = importlib.import_module(f"{package}.{source}")
    return Generated(dsn, root, package, module)


def _forget(gen: Generated) -> None:
    sys.path.remove(str(gen.root))
    for name in [m for m in sys.modules if m == gen.package or m.startswith(gen.package + ".")]:
        del sys.modules[name]


# -- Chinook --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chinook_gen(chinook_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    gen = _generate_project(
        tmp_path_factory.mktemp("chinook_project"), chinook_dsn, "e2e_chinook_gen", "chinook"
    )
    yield gen
    _forget(gen)


@pytest.fixture
async def chinook_backend(chinook_gen: Generated) -> AsyncIterator[PostgresBackend]:
    async with PostgresBackend(chinook_gen.dsn, min_size=1, max_size=2) as backend:
        yield backend


@pytest.fixture
async def sql(chinook_gen: Generated) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection for the hand-written side of each comparison."""
    conn = await asyncpg.connect(chinook_gen.dsn)
    try:
        yield conn
    finally:
        await conn.close()


def _rows(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]


def _dumped(models: list[Any]) -> list[dict[str, Any]]:
    return [m.model_dump(by_alias=True) for m in models]


def test_chinook_generated_package_shape_and_mypy_strict(chinook_gen: Generated) -> None:
    mod = chinook_gen.module
    for name in ("Track", "Invoice", "Customer", "InvoiceLine", "PlaylistTrack"):
        for suffix in ("", "Create", "Update", "Filter", "Field", "Repo"):
            assert hasattr(mod, name + suffix), name + suffix
    assert mod.InvoiceRepo.metadata.primary_key == ("invoice_id",)
    assert mod.Track.model_fields["unit_price"].annotation is decimal.Decimal
    # ``bytes`` is a builtin: the field is renamed and aliased back to the column.
    assert mod.Track.model_fields["bytes_"].alias == "bytes"
    assert_mypy_strict(chinook_gen.package, chinook_gen.root)


async def test_chinook_filters_equal_sql(
    chinook_gen: Generated, chinook_backend: PostgresBackend, sql: asyncpg.Connection
) -> None:
    tracks = chinook_gen.module.TrackRepo(chinook_backend)
    got = await tracks.list(
        {
            "genre_id": {"$in": [1, 3]},
            "composer": {"$regex": "^[A-M].*(Page|Plant|Young)"},
            "unit_price": {"$gte": D("0.99"), "$lte": D("1.99")},
        },
        sort=[("track_id", 1)],
    )
    want = await sql.fetch(
        "SELECT * FROM track WHERE genre_id = ANY($1::int[]) AND composer ~ $2"
        " AND unit_price BETWEEN $3 AND $4 ORDER BY track_id",
        [1, 3],
        "^[A-M].*(Page|Plant|Young)",
        D("0.99"),
        D("1.99"),
    )
    assert len(want) > 10
    assert _dumped(got) == _rows(want)
    assert all(type(t.unit_price) is decimal.Decimal for t in got)

    # Suffix form, $or and NULLs, $exists, a generated foreign-key finder.
    got = await tracks.list(
        {"$or": [{"composer": None}, {"milliseconds__gt": 1_000_000}], "media_type_id__ne": 1},
        sort=[("track_id", 1)],
    )
    want = await sql.fetch(
        "SELECT * FROM track WHERE (composer IS NULL OR milliseconds > 1000000)"
        " AND media_type_id <> 1 ORDER BY track_id"
    )
    assert want and _dumped(got) == _rows(want)
    # A column always exists (NULL or not): ``$exists: false`` matches nothing (documented in
    # runtime/sql/compiler.py), ``$exists: true`` everything.
    assert await tracks.count({"composer": {"$exists": False}}) == 0
    assert await tracks.count({"composer": {"$exists": True}}) == await sql.fetchval(
        "SELECT count(*) FROM track"
    )
    assert await tracks.count({"composer": None}) == await sql.fetchval(
        "SELECT count(*) FROM track WHERE composer IS NULL"
    )
    by_album = await tracks.list_by_album_id(1)
    assert sorted(t.track_id for t in by_album) == [
        r["track_id"]
        for r in await sql.fetch("SELECT track_id FROM track WHERE album_id = 1 ORDER BY 1")
    ]
    customers = chinook_gen.module.CustomerRepo(chinook_backend)
    countries = await customers.distinct("country")
    want_countries = [r[0] for r in await sql.fetch("SELECT DISTINCT country FROM customer")]
    assert len(countries) == len(want_countries) and set(countries) == set(want_countries)


async def test_chinook_sort_and_skip_limit_paging_equal_sql(
    chinook_gen: Generated, chinook_backend: PostgresBackend, sql: asyncpg.Connection
) -> None:
    tracks = chinook_gen.module.TrackRepo(chinook_backend)
    flt = {"genre_id": 1}
    sort = [("unit_price", -1), ("name", 1)]
    # The repo orders strings by code point (COLLATE "C"), as Python does; the tie on name
    # falls back to the primary key.
    order = 'unit_price DESC, name COLLATE "C", track_id'
    everything = await sql.fetch(f"SELECT * FROM track WHERE genre_id = 1 ORDER BY {order}")
    assert len(everything) > 1000
    pages: list[dict[str, Any]] = []
    size = 97
    for skip in range(0, len(everything) + size, size):
        page = await tracks.list(flt, sort=sort, skip=skip, limit=size)
        want = await sql.fetch(
            f"SELECT * FROM track WHERE genre_id = 1 ORDER BY {order} OFFSET $1 LIMIT $2",
            skip,
            size,
        )
        assert _dumped(page) == _rows(want), f"page at skip={skip}"
        pages.extend(_dumped(page))
    assert pages == _rows(everything)
    assert await tracks.count(flt) == len(everything)


async def test_chinook_keyset_pages_visit_every_invoice_once(
    chinook_gen: Generated, chinook_backend: PostgresBackend, sql: asyncpg.Connection
) -> None:
    invoices = chinook_gen.module.InvoiceRepo(chinook_backend)
    want = await sql.fetch("SELECT * FROM invoice ORDER BY total DESC, invoice_id")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await invoices.page(sort=[("total", -1)], limit=37, after=cursor)
        assert page.items, "a page before the end is never empty"
        seen.extend(_dumped(page.items))
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == math.ceil(len(want) / 37)
    assert seen == _rows(want)
    assert len({r["invoice_id"] for r in seen}) == len(want) == await invoices.count()


async def test_chinook_group_revenue_report_runs_in_sql_and_equals_sql(
    chinook_gen: Generated, chinook_backend: PostgresBackend, sql: asyncpg.Connection
) -> None:
    invoices = chinook_gen.module.InvoiceRepo(chinook_backend)
    pipeline: list[dict[str, Any]] = [
        {
            "$group": {
                "_id": "$billing_country",
                "revenue": {"$sum": "$total"},
                "invoices": {"$sum": 1},
            }
        },
        {"$sort": {"revenue": -1, "_id": 1}},
    ]
    plan = invoices.explain_aggregate(pipeline)
    assert plan["memory_stages"] == []
    assert plan["sql_stages"] == ["$group", "$sort"]
    assert "GROUP BY" in plan["sql"]
    got = await invoices.aggregate(pipeline)
    want = await sql.fetch(
        "SELECT billing_country, sum(total) AS revenue, count(*) AS invoices FROM invoice"
        ' GROUP BY billing_country ORDER BY revenue DESC, billing_country COLLATE "C"'
    )
    assert got == [
        {"_id": r["billing_country"], "revenue": r["revenue"], "invoices": r["invoices"]}
        for r in want
    ]
    assert all(type(row["revenue"]) is decimal.Decimal for row in got)
    # Exact: the per-country revenues add up to the grand total to the cent.
    assert sum(row["revenue"] for row in got) == await sql.fetchval(
        "SELECT sum(total) FROM invoice"
    )


async def test_chinook_lookup_invoices_with_their_customer(
    chinook_gen: Generated, chinook_backend: PostgresBackend, sql: asyncpg.Connection
) -> None:
    invoices = chinook_gen.module.InvoiceRepo(chinook_backend)
    pipeline: list[dict[str, Any]] = [
        {"$match": {"billing_country": {"$in": ["Germany", "Brazil"]}}},
        {"$sort": {"invoice_id": 1}},
        {
            "$lookup": {
                "from": "customer",
                "localField": "customer_id",
                "foreignField": "customer_id",
                "as": "customer",
            }
        },
    ]
    plan = invoices.explain_aggregate(pipeline)
    assert plan["sql_stages"][:2] == ["$match", "$sort"]  # the prefix is pushed down
    got = await invoices.aggregate(pipeline)
    # Once the backend has described the customer table, the $lookup is pushed too: a
    # correlated subquery aggregating the matching customers into a JSON array.
    plan = invoices.explain_aggregate(pipeline)
    assert plan["sql_stages"] == ["$match", "$sort", "$lookup"] and plan["memory_stages"] == []
    assert "json_agg" in plan["sql"]
    where = "WHERE i.billing_country IN ('Germany', 'Brazil')"
    invoice_rows = _rows(await sql.fetch(f"SELECT * FROM invoice i {where} ORDER BY invoice_id"))
    joined = await sql.fetch(
        "SELECT i.invoice_id AS of_invoice, c.* FROM invoice i"
        f" JOIN customer c ON c.customer_id = i.customer_id {where} ORDER BY i.invoice_id"
    )
    assert len(got) == len(joined) == len(invoice_rows) > 20
    for doc, inv, pair in zip(got, invoice_rows, joined, strict=True):
        customer = dict(pair)
        assert customer.pop("of_invoice") == inv["invoice_id"]
        assert {k: v for k, v in doc.items() if k != "customer"} == inv
        assert doc["customer"] == [customer]


# -- Type zoo -------------------------------------------------------------------------------

ZOO_SQL = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_int AS int4 CHECK (VALUE > 0);
CREATE TYPE address AS (street text, zip varchar(5), tags text[]);
CREATE TABLE zoo (
    id serial PRIMARY KEY,
    ident bigint GENERATED ALWAYS AS IDENTITY,
    c_int2 smallint,
    c_int4 integer,
    c_int8 bigint,
    c_numeric_ps numeric(12, 3),
    c_numeric numeric,
    c_float4 real,
    c_float8 double precision,
    c_text text,
    c_varchar varchar(20),
    c_char char(5),
    c_bool boolean,
    c_date date,
    c_time time,
    c_timetz timetz,
    c_ts timestamp,
    c_tstz timestamptz,
    c_interval interval,
    c_uuid uuid,
    c_json json,
    c_jsonb jsonb,
    c_bytea bytea,
    c_inet inet,
    c_cidr cidr,
    c_macaddr macaddr,
    c_money money,
    c_int_arr integer[],
    c_text_matrix text[][],
    c_mood mood,
    c_status text CHECK (c_status IN ('new', 'paid', 'it''s')),
    c_pos positive_int,
    c_address address,
    c_citext citext,
    c_doubled integer GENERATED ALWAYS AS (c_int2::int * 2) STORED
);
"""

UNICODE = "héllo 🎉👩‍👩‍👧 שלום عربي e\u0301 \u202eRTL\u202c"

#: Rows that stress each type; values are what we write. ``None`` of a column = NULL.
STRESS: list[dict[str, Any]] = [
    {  # maxima, big precision, positive-offset zone
        "c_int2": 32767,
        "c_int4": 2_147_483_647,
        "c_int8": 9_223_372_036_854_775_807,
        "c_numeric_ps": D("999999999.999"),
        "c_numeric": D("9" * 1000 + "." + "0" * 499 + "1"),
        "c_float4": float("inf"),
        "c_float8": 1.7976931348623157e308,
        "c_text": UNICODE,
        "c_varchar": "🎉" * 20,  # varchar(n) counts characters, not bytes
        "c_char": "ab",
        "c_bool": True,
        "c_date": datetime.date(9999, 12, 31),
        "c_time": datetime.time(23, 59, 59, 999_999),
        "c_timetz": datetime.time(23, 59, 59, 999_999, tzinfo=IST),
        "c_ts": datetime.datetime(9999, 12, 31, 23, 59, 59, 999_999),
        "c_tstz": datetime.datetime(2024, 2, 29, 23, 30, tzinfo=IST),
        "c_interval": datetime.timedelta(days=36_500, seconds=86_399, microseconds=999_999),
        "c_uuid": uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        "c_json": {"z": [1, None, {"é": "🎉"}], "a": 1.5, "big": 2**62},
        "c_jsonb": [{"nested": {"deeper": [[], {}, ""]}}, UNICODE, True, None],
        "c_bytea": bytes(range(256)),
        "c_macaddr": "08:00:2B:01:02:03",
        "c_inet": "2001:db8::1/64",
        "c_cidr": "192.168.100.128/25",
        "c_money": D("92233720368547758.07"),  # money's maximum
        "c_int_arr": [2_147_483_647, -2_147_483_648, 0],
        "c_text_matrix": [["a", "🎉"], ["שלום", ""]],
        "c_mood": "happy",
        "c_status": "it's",
        "c_pos": 2_147_483_647,
        "c_citext": "MiXeD ÄÖ",
    },
    {  # minima, negative-offset zone, empties
        "c_int2": -32768,
        "c_int4": -2_147_483_648,
        "c_int8": -9_223_372_036_854_775_808,
        "c_numeric_ps": D("-999999999.999"),
        "c_numeric": D("-0.000000000000000000000000000000000000001"),
        "c_float4": float("-inf"),
        "c_float8": 5e-324,
        "c_text": "",
        "c_varchar": "",
        "c_char": "",
        "c_bool": False,
        "c_date": datetime.date(1, 1, 1),
        "c_time": datetime.time(0, 0),
        "c_timetz": datetime.time(0, 0, tzinfo=PST),
        "c_ts": datetime.datetime(1, 1, 1, 0, 0),
        "c_tstz": datetime.datetime(1999, 12, 31, 16, 0, 0, 1, tzinfo=PST),
        "c_interval": datetime.timedelta(days=-3, microseconds=1),
        "c_uuid": uuid.UUID(int=0),
        "c_json": [],
        "c_jsonb": {},
        "c_bytea": b"",
        "c_macaddr": "00:00:00:00:00:00",
        "c_inet": "0.0.0.0",  # a host: PostgreSQL prints no /32
        "c_cidr": "::/0",
        "c_money": D("-92233720368547758.08"),  # money's minimum
        "c_int_arr": [],
        "c_text_matrix": [],
        "c_mood": "sad",
        "c_status": "new",
        "c_pos": 1,
        "c_citext": "",
    },
    {  # NaN and the floats' other edges
        "c_float4": float("nan"),
        "c_float8": float("nan"),
        "c_numeric_ps": D("1.5"),  # stored at scale 3
        "c_numeric": D("0"),
        "c_jsonb": "just a string",
    },
    {  # float edges that are exact in float4 and float8
        "c_float4": -1.5,
        "c_float8": float("-inf"),
        "c_int2": 0,
    },
]


def _expected(column: str, written: Any) -> Any:
    """What PostgreSQL gives back for ``written`` — its documented normalisations."""
    if written is None:
        return None
    if column == "c_char":
        return written.ljust(5)  # char(n) pads with blanks
    if column == "c_macaddr":
        return written.lower()  # macaddr prints in lower case
    if column == "c_tstz":
        return written.astimezone(UTC)  # timestamptz stores an instant, read back in UTC
    return written


@dataclass(frozen=True)
class Zoo:
    gen: Generated
    citext: bool


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    # Module-scoped (the ``pg_dsn`` fixture is per test): one database, one generation, and
    # each test writes its own rows.
    with fresh_database("xrepo_zoo") as dsn:
        probe = subprocess.run(
            ["psql", dsn, "-tAc", "SELECT 1 FROM pg_available_extensions WHERE name = 'citext'"],
            capture_output=True,
            text=True,
            check=True,
        )
        citext = probe.stdout.strip() == "1"
        schema = ZOO_SQL
        if citext:
            schema = "CREATE EXTENSION citext;\n" + schema
        else:
            schema = schema.replace("    c_citext citext,\n", "")
        run_sql(dsn, schema)
        gen = _generate_project(tmp_path_factory.mktemp("zoo_project"), dsn, "e2e_zoo_gen", "zoo")
        yield Zoo(gen, citext)
        _forget(gen)


@pytest.fixture
async def zoo_repo(zoo: Zoo) -> AsyncIterator[Any]:
    async with PostgresBackend(zoo.gen.dsn, min_size=1, max_size=2) as backend:
        yield zoo.gen.module.ZooRepo(backend)


def _columns(zoo: Zoo) -> list[str]:
    cols = [c for c in zoo.gen.module.Zoo.model_fields if c.startswith("c_")]
    return [c for c in cols if c != "c_doubled"]


def test_citext_is_available_on_this_server(zoo: Zoo) -> None:
    # The zoo includes citext whenever the server ships it; on these machines it must.
    assert zoo.citext, "citext is not in pg_available_extensions: the zoo left it out"


def test_zoo_generated_models_mypy_strict_and_types(zoo: Zoo) -> None:
    mod = zoo.gen.module
    fields = mod.Zoo.model_fields
    assert set(_columns(zoo)) == {
        line.split()[0] for line in ZOO_SQL.splitlines() if line.startswith("    c_")
    } - {"c_doubled"} - (set() if zoo.citext else {"c_citext"})
    create = mod.ZooCreate.model_fields
    # serial and BY DEFAULT identity: the database fills them, create may omit them; ALWAYS
    # identity and computed columns refuse writers' values: absent from create and update.
    assert not create["id"].is_required()
    for col in ("ident", "c_doubled"):
        assert col not in create and col not in mod.ZooUpdate.model_fields, col
    assert fields["id"].annotation is int and fields["ident"].annotation is int
    assert fields["c_numeric_ps"].annotation == decimal.Decimal | None
    assert create["c_varchar"].metadata and create["c_char"].metadata  # max_length carried
    assert_mypy_strict(zoo.gen.package, zoo.gen.root)


async def test_zoo_stress_values_round_trip(zoo: Zoo, zoo_repo: Any) -> None:
    mod = zoo.gen.module
    columns = _columns(zoo)
    for written in STRESS:
        if not zoo.citext:
            written = {k: v for k, v in written.items() if k != "c_citext"}
        made = await zoo_repo.create(mod.ZooCreate(**written))
        got = await zoo_repo.read(made.id)
        assert got is not None
        assert made.id > 0 and made.ident > 0
        want_doubled = None if written.get("c_int2") is None else written["c_int2"] * 2
        assert made.c_doubled == got.c_doubled == want_doubled  # computed by the database
        for col in columns:
            value = written.get(col)
            want = _expected(col, value)
            for side, model in (("create", made), ("read", got)):
                have = getattr(model, col)
                if value is None:
                    assert have is None, (side, col, have)
                    continue
                if isinstance(value, float) and math.isnan(value):
                    assert isinstance(have, float) and math.isnan(have), (side, col, have)
                    continue
                assert have == want, (side, col, have, want)
                # isinstance: asyncpg's UUID is a uuid.UUID subclass.
                assert isinstance(have, type(want)), (side, col, type(have), type(want))
                if col == "c_timetz":  # the offset itself survives, not just the instant
                    assert have.utcoffset() == value.utcoffset(), (side, col)
                if col == "c_tstz":
                    assert have.utcoffset() == datetime.timedelta(0), (side, col)
                    assert have == value  # the same instant as written
                if col == "c_numeric_ps":
                    assert have.as_tuple().exponent == -3, (side, col, have)  # scale 3


async def test_zoo_null_in_every_nullable_column(zoo: Zoo, zoo_repo: Any) -> None:
    made = await zoo_repo.create(zoo.gen.module.ZooCreate())
    got = await zoo_repo.read(made.id)
    assert got == made
    for col in [*_columns(zoo), "c_doubled"]:
        assert getattr(got, col) is None, col
    assert isinstance(got.id, int) and isinstance(got.ident, int)
    # NULL is findable per column through the generated filter.
    assert [z.id for z in await zoo_repo.list({"c_tstz": None, "id": made.id})] == [made.id]


async def test_zoo_filters_on_special_types(zoo: Zoo, zoo_repo: Any) -> None:
    mod = zoo.gen.module
    tag = str(uuid.uuid4())
    made = await zoo_repo.create(
        mod.ZooCreate(
            c_text=tag,
            c_citext="CamelCase" if zoo.citext else None,
            c_tstz=datetime.datetime(2024, 6, 1, 12, 0, tzinfo=IST),
            c_mood="ok",
            c_numeric=D("12345678901234567890.123456789"),
        )
    )
    assert [z.id for z in await zoo_repo.list({"c_text": tag})] == [made.id]
    # The same instant given in another zone matches.
    same_instant = datetime.datetime(2024, 6, 1, 6, 30, tzinfo=UTC)
    assert [z.id for z in await zoo_repo.list({"c_text": tag, "c_tstz": same_instant})] == [made.id]
    assert await zoo_repo.count({"c_text": tag, "c_mood": {"$in": ["ok", "happy"]}}) == 1
    assert await zoo_repo.count({"c_text": tag, "c_numeric": D("12345678901234567890.123456789")})
    if zoo.citext:
        # citext compares case-insensitively in the database.
        assert await zoo_repo.count({"c_text": tag, "c_citext": "camelcase"}) == 1


# -- Types the driver decodes unlike the models (inet/cidr, money, composites) -------------
# Each reads a row written with plain SQL (the read path) and writes one through the repo (the
# write path), so a half fix still fails.


async def _sql_row(zoo: Zoo, columns: str, values: str) -> int:
    conn = await asyncpg.connect(zoo.gen.dsn)
    try:
        row_id: int = await conn.fetchval(
            f"INSERT INTO zoo ({columns}) VALUES ({values}) RETURNING id"
        )
    finally:
        await conn.close()
    return row_id


async def test_zoo_inet_cidr_round_trip(zoo: Zoo, zoo_repo: Any) -> None:
    row_id = await _sql_row(zoo, "c_inet, c_cidr", "'::1', '2001:db8::/32'")
    got = await zoo_repo.read(row_id)
    assert (got.c_inet, got.c_cidr) == ("::1", "2001:db8::/32")
    made = await zoo_repo.create(
        zoo.gen.module.ZooCreate(c_inet="192.168.0.1/24", c_cidr="10.0.0.0/8")
    )
    got = await zoo_repo.read(made.id)
    assert (got.c_inet, got.c_cidr) == ("192.168.0.1/24", "10.0.0.0/8")


async def test_zoo_money_round_trip(zoo: Zoo, zoo_repo: Any) -> None:
    row_id = await _sql_row(zoo, "c_money", "-1234.56")
    got = await zoo_repo.read(row_id)
    assert got.c_money == D("-1234.56")
    made = await zoo_repo.create(zoo.gen.module.ZooCreate(c_money=D("92233720368547758.07")))
    got = await zoo_repo.read(made.id)
    assert got.c_money == D("92233720368547758.07")  # money's maximum


async def test_zoo_composite_round_trip(zoo: Zoo, zoo_repo: Any) -> None:
    mod = zoo.gen.module
    row_id = await _sql_row(zoo, "c_address", "ROW('Main 1', '12345', '{x}')")
    got = await zoo_repo.read(row_id)
    assert got.c_address == mod.ZooCAddress(street="Main 1", zip="12345", tags=["x"])
    address = mod.ZooCAddress(street="שלום 🎉", zip=None, tags=[])
    made = await zoo_repo.create(mod.ZooCreate(c_address=address))
    got = await zoo_repo.read(made.id)
    assert got.c_address == address


async def test_zoo_numeric_nan_and_infinity(zoo: Zoo, zoo_repo: Any) -> None:
    row_id = await _sql_row(zoo, "c_numeric", "'NaN'")
    got = await zoo_repo.read(row_id)
    assert got.c_numeric.is_nan()
    mod = zoo.gen.module
    for value in (D("NaN"), D("Infinity"), D("-Infinity")):
        made = await zoo_repo.create(mod.ZooCreate(c_numeric=value))
        got = await zoo_repo.read(made.id)
        assert str(got.c_numeric) == str(value)


async def test_zoo_special_types_bulk_create(zoo: Zoo, zoo_repo: Any) -> None:
    # Enough rows for the COPY path (a temporary table, then INSERT … SELECT … RETURNING).
    mod = zoo.gen.module
    address = mod.ZooCAddress(street="Main 1", zip="12345", tags=["a", ""])
    rows = [
        mod.ZooCreate(
            c_inet=f"10.0.{i}.1/24",
            c_cidr="2001:db8::/32",
            c_money=D(f"-{i}.05"),
            c_address=address,
        )
        for i in range(COPY_THRESHOLD + 6)
    ]
    made = await zoo_repo.bulk_create(rows)
    for i, model in enumerate(made):
        got = await zoo_repo.read(model.id)
        for have in (model, got):
            assert (have.c_inet, have.c_cidr) == (f"10.0.{i}.1/24", "2001:db8::/32")
            assert have.c_money == D(f"-{i}.05")
            assert have.c_address == address
