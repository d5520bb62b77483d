"""The PostgreSQL fast paths agree with the validated ones.

* ``list``: models built from driver-typed values (:mod:`xrepo.runtime.trusted_rows`) equal
  ``TypeAdapter(list[Model])`` validation of the same rows — values, field types, fields set —
  and when a row violates the model (an unknown Literal value, a NULL in a required field, a
  NaN numeric) the same ValidationError is raised.
* ``bulk_create``: rows COPYed straight into the table and built client-side
  (:mod:`xrepo.runtime.backends.postgres_copy`) equal what the table holds when read back
  and what the temporary-table ``RETURNING`` path returns.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import gc
import json
import uuid
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg import run_sql
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_serializer

from xrepo.runtime import ConnectedRepo, RepoMetadata, XObjPrototype, trusted_rows
from xrepo.runtime.backends import postgres_copy
from xrepo.runtime.backends.postgres import PostgresBackend
from xrepo.runtime.bulk_rows import ColumnRows, source_columns, source_rows, validate_creates
from xrepo.runtime.errors import CheckViolation
from xrepo.runtime.repo_plan import source_row

ZOO = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE zoo (
  id serial PRIMARY KEY, i2 int2, i8 int8, t text NOT NULL, vc varchar(5), ch char(3),
  b bool, f4 float4, f8 float8, n numeric, n2 numeric(8, 3), d date, ts timestamp,
  tstz timestamptz, tm time, ttz timetz, iv interval, by bytea, u uuid, j jsonb,
  ta text[], ia int4[], m mood, lvl text, req int4
);
CREATE TABLE made (
  id serial PRIMARY KEY, name text NOT NULL, score numeric(6, 2), raw numeric, f8 float8,
  on_ bool, day date, at timestamptz, tags text[] NOT NULL, meta jsonb, u uuid, m mood
);
"""
UTC = datetime.UTC


class Zoo(XObjPrototype):
    id: int | None = None
    i2: int | None = None
    i8: int | None = None
    t: str
    vc: str | None = None
    ch: str | None = None
    b: bool | None = None
    f4: float | None = None
    f8: float | None = None
    n: decimal.Decimal | None = None
    n2: decimal.Decimal | None = None
    d: datetime.date | None = None
    ts: datetime.datetime | None = None
    tstz: datetime.datetime | None = None
    tm: datetime.time | None = None
    ttz: datetime.time | None = None
    iv: datetime.timedelta | None = None
    by: bytes | None = None
    u: uuid.UUID | None = None
    j: dict[str, Any] | list[Any] | None = None
    ta: list[str | None] | None = None
    ia: list[int] | None = None
    m: Literal["sad", "ok", "happy"] | None = None
    lvl: Literal["low", "high"] | None = None  # the column also holds values it rejects
    req: int  # nullable column, required field


class Zoos(ConnectedRepo[Zoo, Zoo, Zoo, dict[str, Any], str]):
    model = create_model = update_model = Zoo
    metadata = RepoMetadata(name="zoo", collection="zoo", primary_key=("id",))


class Inner(XObjPrototype):
    city: str | None = None
    level: int | None = None
    ratio: float | None = None


class Made(XObjPrototype):
    id: int | None = None
    name: str
    score: decimal.Decimal | None = None
    raw: decimal.Decimal | None = None
    f8: float | None = None
    on: bool | None = Field(default=None, alias="on_")
    day: datetime.date | None = None
    at: datetime.datetime | None = None
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] | None = None
    u: uuid.UUID | None = None
    m: Literal["sad", "ok", "happy"] | None = None


class Mades(ConnectedRepo[Made, Made, Made, dict[str, Any], str]):
    model = create_model = update_model = Made
    metadata = RepoMetadata(name="made", collection="made", primary_key=("id",))


texts = st.text(max_size=6).filter(lambda s: "\x00" not in s)
floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
aware = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1),
    max_value=datetime.datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, datetime.timezone(datetime.timedelta(hours=5, minutes=30)), None]
    ),
)
decimals = st.decimals(
    allow_nan=True, allow_infinity=False, places=3, min_value=-9999, max_value=9999
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | floats | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
zoo_rows = st.fixed_dictionaries(
    {
        "i2": st.none() | st.integers(-(2**15), 2**15 - 1),
        "i8": st.none() | st.integers(-(2**63), 2**63 - 1),
        "t": texts,
        "vc": st.none() | st.text(max_size=5).filter(lambda s: "\x00" not in s),
        "ch": st.none() | st.text(min_size=1, max_size=3, alphabet="ab "),
        "b": st.none() | st.booleans(),
        "f4": st.none() | st.floats(width=32),
        "f8": st.none() | st.floats(),
        "n": st.none() | decimals,
        "n2": st.none() | decimals,
        "d": st.none() | st.dates(min_value=datetime.date(1, 1, 1)),
        "ts": st.none() | st.datetimes(min_value=datetime.datetime(1900, 1, 1)),
        "tstz": st.none() | aware.map(lambda v: v if v.tzinfo else v.replace(tzinfo=UTC)),
        "tm": st.none() | st.times(),
        "ttz": st.none() | st.times(timezones=st.just(UTC)),
        "iv": st.none()
        | st.timedeltas(
            min_value=datetime.timedelta(days=-9999), max_value=datetime.timedelta(days=9999)
        ),
        "by": st.none() | st.binary(max_size=4),
        "u": st.none() | st.uuids(),
        "j": json_values,
        "ta": st.none() | st.lists(st.none() | texts, max_size=3),
        "ia": st.none() | st.lists(st.integers(-100, 100), max_size=3),
        "m": st.none() | st.sampled_from(["sad", "ok", "happy"]),
        "lvl": st.none() | st.sampled_from(["low", "high", "low", "high", "mid"]),
        "req": st.sampled_from([1, 2, 3, 4, 5, 6, 7, None]),
    }
)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{**e, "input": repr(e["input"])} for e in exc.errors()]  # NaN != NaN


def _same_models(fast: list[Any], slow: list[Any]) -> None:
    assert [repr(m.model_dump()) for m in fast] == [repr(m.model_dump()) for m in slow]  # NaN
    for a, b in zip(fast, slow, strict=True):
        assert a.model_fields_set == b.model_fields_set
        assert list(a.__dict__) == list(b.__dict__)  # field order (dumps, repr)
        for name in type(a).model_fields:
            x, y = getattr(a, name), getattr(b, name)
            assert type(x) is type(y) or (isinstance(x, uuid.UUID) and isinstance(y, uuid.UUID))
            if isinstance(x, decimal.Decimal) and x.is_finite():
                assert str(x) == str(y)
            if isinstance(x, BaseModel):  # nested models: fields set, order, types too
                _same_models([x], [y])
            if isinstance(x, list):
                assert [type(i) for i in x] == [type(i) for i in y]


async def _list_equals_validation(repo: Any, model: type[BaseModel]) -> bool:
    """``repo.list()`` equals validating the plain rows with ``list[model]``, or raises the
    same errors; True when the rows were valid (the fast path had something to build)."""
    plain = await repo.list_rows(sort=[("id", 1)])
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]
    try:
        slow = adapter.validate_python([dict(r) for r in plain])
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            await repo.list(sort=[("id", 1)])
        assert _errors(got.value) == _errors(exc)
        return False
    _same_models(await repo.list(sort=[("id", 1)]), slow)
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(zoo_rows, min_size=1, max_size=6))
def test_list_fast_path_equals_validation(pg_dsn: str, rows: list[dict[str, Any]]) -> None:
    _schema(pg_dsn)

    async def go() -> None:
        backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
        try:
            await backend.execute("TRUNCATE zoo RESTART IDENTITY")
            cols = list(rows[0])
            marks = ", ".join(f"${i + 1}" for i in range(len(cols)))
            async with backend.connection() as conn:
                await conn.executemany(
                    f"INSERT INTO zoo ({', '.join(cols)}) VALUES ({marks})",
                    [tuple(r[c] for c in cols) for r in rows],
                )
            repo = Zoos(backend)
            if await _list_equals_validation(repo, Zoo):
                assert backend.trusted_types(repo.plan().collection) is not None
        finally:
            await backend.close()

    asyncio.run(go())


_ready: set[str] = set()


def _schema(dsn: str) -> None:
    if dsn not in _ready:  # once per database (hypothesis reuses the fixture's)
        run_sql(dsn, ZOO)
        _ready.add(dsn)


aware_only = aware.map(lambda v: v if v.tzinfo else v.replace(tzinfo=UTC))
#: Values the client can always predict (the direct COPY path must be taken) …
made_rows = st.fixed_dictionaries(
    {
        "name": texts,
        "score": st.none()
        | st.decimals(
            allow_nan=False, allow_infinity=False, places=4, min_value=-9999, max_value=9999
        ),
        "raw": st.none()
        | st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=1, max_value=99),
        "f8": st.none() | floats,
        "on_": st.none() | st.booleans(),
        "day": st.none() | st.dates(min_value=datetime.date(1, 1, 1)),
        "at": st.none() | aware_only,
        "tags": st.lists(texts, max_size=3),
        "meta": st.none() | st.dictionaries(texts, json_values, max_size=3),
        "u": st.none() | st.uuids(),
        "m": st.none() | st.sampled_from(["sad", "ok", "happy"]),
    }
)
#: … and values it cannot, or that PostgreSQL rewrites (either path, same result).
ODD: list[dict[str, Any]] = [
    {"name": "ties", "score": decimal.Decimal("-0.005"), "raw": decimal.Decimal("7.50")},
    {"name": "half", "score": decimal.Decimal("0.125"), "meta": {"bb": 1, "a": 2, "ab": [1e20]}},
    {"name": "exp", "score": decimal.Decimal("1E+2"), "meta": {"neg0": -0.0, "t": 1.5e-7}},
    {"name": "raw exp", "raw": decimal.Decimal("1E+3")},
    {"name": "raw zero", "raw": decimal.Decimal("-0.0")},
    {"name": "naive", "at": datetime.datetime(2024, 5, 1, 12)},
    {"name": "int f8", "f8": 3, "tags": []},
]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(made_rows, min_size=64, max_size=70),
    drop=st.sets(st.sampled_from(["score", "meta", "u"])),
)
def test_bulk_create_direct_copy_equals_database(
    pg_dsn: str, rows: list[dict[str, Any]], drop: set[str]
) -> None:
    _schema(pg_dsn)
    items = [{k: v for k, v in r.items() if k not in drop} for r in rows]

    async def go() -> None:
        backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
        try:
            await backend.execute("TRUNCATE made RESTART IDENTITY")
            repo = Mades(backend)
            direct = _spy()
            try:
                made = await repo.bulk_create(items)
            finally:
                _patch_stored(postgres_copy.stored_rows)
            assert direct, "the direct COPY path was not taken"
            stored = await repo.list(sort=[("id", 1)])
            _same_models(made, stored)
            assert [m.id for m in made] == list(range(1, len(items) + 1))
            # and the temporary-table RETURNING path gives the same models
            await backend.execute("TRUNCATE made RESTART IDENTITY")
            _patch(_refuse)
            try:
                returned = await repo.bulk_create(items)
            finally:
                _patch(postgres_copy.direct_plan)
            _same_models(made, returned)
        finally:
            await backend.close()

    asyncio.run(go())


def _spy() -> list[int]:
    calls: list[int] = []

    def stored(*args: Any) -> Any:
        calls.append(1)
        return postgres_copy.stored_rows(*args)

    _patch_stored(stored)
    return calls


def _patch_stored(fn: Any) -> None:
    import xrepo.runtime.backends.postgres as pg_backend

    pg_backend.stored_rows = fn  # type: ignore[attr-defined]


async def test_bulk_create_odd_values_agree_both_paths(pg_dsn: str) -> None:
    _schema(pg_dsn)
    items = [dict(ODD[i % len(ODD)], name=f"{i}") for i in range(70)]
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
    try:
        repo = Mades(backend)
        made = await repo.bulk_create(items)
        _same_models(made, await repo.list(sort=[("id", 1)]))
        for chunk in ([i for i in items if "raw" not in i and "at" not in i] * 10)[:70], items:
            await backend.execute("TRUNCATE made RESTART IDENTITY")
            made = await repo.bulk_create(chunk)
            await backend.execute("TRUNCATE made RESTART IDENTITY")
            _patch(_refuse)
            try:
                returned = await repo.bulk_create(chunk)
            finally:
                _patch(postgres_copy.direct_plan)
            _same_models(made, returned)
        assert made[0].score == decimal.Decimal("-0.01")  # half away from zero, as numeric
    finally:
        await backend.close()


def _refuse(*args: Any) -> Any:
    raise postgres_copy.NotKnowable("forced fallback")


def _patch(fn: Any) -> None:
    import xrepo.runtime.backends.postgres as pg_backend

    pg_backend.direct_plan = fn  # type: ignore[attr-defined]


def test_direct_copy_used_for_plain_tables_not_for_server_defaults() -> None:
    cols = [
        {
            "attname": "id",
            "typname": "int4",
            "typtype": "b",
            "elem": None,
            "atttypmod": -1,
            "seq": "public.t_id_seq",
            "attidentity": "",
            "attgenerated": "",
            "atthasdef": True,
            "defexpr": "nextval('t_id_seq'::regclass)",
            "in_catalog": True,
            "direct": True,
        },
        {
            "attname": "at",
            "typname": "timestamptz",
            "typtype": "b",
            "elem": None,
            "atttypmod": -1,
            "seq": None,
            "attidentity": "",
            "attgenerated": "",
            "atthasdef": True,
            "defexpr": "now()",
            "in_catalog": True,
            "direct": True,
        },
        {
            "attname": "v",
            "typname": "varchar",
            "typtype": "b",
            "elem": None,
            "atttypmod": 9,
            "seq": None,
            "attidentity": "",
            "attgenerated": "",
            "atthasdef": False,
            "defexpr": None,
            "in_catalog": True,
            "direct": True,
        },
    ]
    table = postgres_copy.copy_table(cols)
    plan = postgres_copy.direct_plan(table, ("at",))
    assert plan.columns == ("at", "id") and plan.sequence == "public.t_id_seq"
    with pytest.raises(postgres_copy.NotKnowable, match="server-side default"):
        postgres_copy.direct_plan(table, ())  # now() only the database knows
    with pytest.raises(postgres_copy.NotKnowable, match="'v'"):
        postgres_copy.direct_plan(table, ("at", "v"))  # varchar(5) may trim trailing spaces
    _, stored = postgres_copy.normalize_columns(
        plan,
        [[datetime.datetime(2024, 1, 1, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))]],
    )
    assert stored[0] == [datetime.datetime(2024, 1, 1, tzinfo=UTC)]
    with pytest.raises(postgres_copy.NotKnowable):
        postgres_copy.normalize_columns(plan, [[datetime.datetime(2024, 1, 1)]])  # naive


def test_bulk_source_rows_equal_source_row() -> None:
    items = [
        {"name": "a", "score": "1.5", "tags": ["x"], "meta": {"k": [1, {"z": None}]}},
        {"name": "b", "on_": True, "u": str(uuid.UUID(int=5)), "m": "ok"},
        {"name": "c", "score": None, "meta": None},
    ] * 30
    made = validate_creates(Made, items)
    assert made is not None
    assert source_rows(Made, made) == [source_row(Made.model_validate(i)) for i in items]
    assert validate_creates(Made, [*items, {"name": 5}]) is None  # caller re-validates


class Shouted(XObjPrototype):
    """A create model whose dump is not what it holds: rows come from pydantic's dump."""

    name: str
    tags: list[str] = Field(default_factory=list)

    @field_serializer("name")
    def _upper(self, value: str) -> str:
        return value.upper()


def test_bulk_source_columns_equal_source_rows() -> None:
    items = [
        {"name": f"n{i}", "on_": i % 2 == 0, "meta": {"k": [i]}, "tags": ["t"], "m": "ok"}
        for i in range(70)
    ]
    made = validate_creates(Made, items)
    assert made is not None
    columns = source_columns(Made, made)
    assert isinstance(columns, ColumnRows)
    assert "on_" in columns.keys and "score" not in columns.keys  # aliases; unset None left out
    expected = [source_row(Made.model_validate(i)) for i in items]
    assert list(columns) == expected == source_rows(Made, made)
    assert columns[3] is columns[3] and columns[1:3] == expected[1:3]  # built once, sliceable
    stamp = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    columns.fill("at", stamp)
    columns.fill("name", "ignored")  # present: setdefault keeps each row's own
    assert list(columns) == [{**row, "at": stamp} for row in expected]
    # different fields set per row: no common keys, so no columns (rows instead)
    mixed = validate_creates(Made, [*items, {"name": "x", "score": None}])
    assert mixed is not None and source_columns(Made, mixed) is None
    assert source_rows(Made, mixed) == [*expected, {"name": "x", "score": None, "tags": []}]
    # a serializer changes the dump: no columns, and rows are pydantic's dump
    shouted = validate_creates(Shouted, [{"name": "a"}] * 70)
    assert shouted is not None and source_columns(Shouted, shouted) is None
    assert source_rows(Shouted, shouted) == [{"name": "A", "tags": []}] * 70


async def test_bulk_create_from_create_models_keeps_callers_values(pg_dsn: str) -> None:
    _schema(pg_dsn)
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
    try:
        repo = Mades(backend)
        uniform = [
            {"name": f"n{i}", "tags": ["a"], "meta": {"i": i}, "on_": True} for i in range(80)
        ]
        # different fields set per model: rows, not columns, built from the models
        mixed = [{k: v for k, v in r.items() if k != "on_" or i % 2} for i, r in enumerate(uniform)]
        for rows in (uniform, mixed):
            await backend.execute("TRUNCATE made RESTART IDENTITY")
            given = [Made.model_validate(r) for r in rows]
            made = await repo.bulk_create(given)
            for model in given:  # the caller's models stay theirs: nothing shared
                model.tags.append("mutated")
                assert model.meta is not None
                model.meta["i"] = -1
            assert [(m.id, m.tags, m.meta) for m in made] == [
                (i + 1, ["a"], {"i": i}) for i in range(80)
            ]
            stored = await repo.list(sort=[("id", 1)])
            _same_models(made, stored)
            await backend.execute("TRUNCATE made RESTART IDENTITY")
            _same_models(await repo.bulk_create(rows), stored)  # same as from plain dicts
    finally:
        await backend.close()


def test_copy_normalizers_column_wise() -> None:
    def norm(typname: str, typmod: int, values: list[Any], elem: str | None = None) -> Any:
        column = postgres_copy.CopyColumn("c", typname, "b", elem, typmod, None, False)
        found = postgres_copy.normalizer(column)
        assert found is not None
        return found(values)

    n62 = (6 << 16 | 2) + 4  # numeric(6, 2)
    D = decimal.Decimal
    sent, stored = norm("numeric", n62, [D("-0.004"), None, D("0.125"), D("-1.005"), D("7")])
    assert [str(v) for v in stored] == ["0.00", "None", "0.13", "-1.01", "7.00"]
    assert sent == stored
    for bad in (D("NaN"), D("Infinity"), D("-Infinity"), 1.5, 3, "1.00", D("1E+1000")):
        with pytest.raises(postgres_copy.NotKnowable):
            norm("numeric", n62, [D(1), bad])
    utc = datetime.datetime(2024, 3, 1, 12, tzinfo=UTC)
    same = [utc, None, utc.replace(microsecond=5)]
    assert norm("timestamptz", -1, same) == (same, same)
    plus5 = datetime.timezone(datetime.timedelta(hours=5))
    _, back = norm("timestamptz", -1, [utc.astimezone(plus5), None, utc.replace(fold=1)])
    assert back == [utc, None, utc] and [v.tzinfo for v in back if v] == [UTC, UTC]
    assert not any(v.fold for v in back if v)
    for bad in (datetime.datetime(2024, 1, 1), datetime.date(2024, 1, 1), "2024-01-01"):
        with pytest.raises(postgres_copy.NotKnowable):
            norm("timestamptz", -1, [utc, bad])
    arrays = [["a", None], None, [], ["b"]]
    assert norm("_text", -1, arrays, "text") == (arrays, arrays)
    for bad in ([["a"]], [[]], ("a",), [1], "ab"):
        with pytest.raises(postgres_copy.NotKnowable):
            norm("_text", -1, [["a"], bad], "text")


ODD_NAMES = """
CREATE TABLE "odd names" (
  id serial PRIMARY KEY, "it's" text, "two words" int4, "j""q" jsonb, "plain json" json,
  "UPPER" numeric
);
"""


class Odd(XObjPrototype):
    id: int | None = None
    its: str | None = Field(default=None, alias="it's")
    two: int | None = Field(default=None, alias="two words")
    jq: dict[str, Any] | list[Any] | str | None = Field(default=None, alias='j"q')
    pj: Any = Field(default=None, alias="plain json")
    upper: decimal.Decimal | None = Field(default=None, alias="UPPER")


class Odds(ConnectedRepo[Odd, Odd, Odd, dict[str, Any], str]):
    model = create_model = update_model = Odd
    metadata = RepoMetadata(name="odd", collection="odd names", primary_key=("id",))


async def test_select_rows_and_models_odd_names(pg_dsn: str) -> None:
    # Quoted, renamed (aliased) columns; json and jsonb read as text and parsed per result.
    run_sql(pg_dsn, ODD_NAMES)
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
    try:
        values = [
            ("a", 1, {"k": [1, 2.5, None]}, [1, {"b": "c"}], decimal.Decimal("1.5")),
            (None, None, None, None, None),
            ("'\"", 3, "text", 7, decimal.Decimal("-0.0")),
        ] * 400  # past the collector pause threshold
        async with backend.connection() as conn:
            await conn.executemany(
                'INSERT INTO "odd names" ("it\'s", "two words", "j""q", "plain json", "UPPER")'
                " VALUES ($1, $2, $3, $4, $5)",
                [*values, ("nan", 0, None, None, decimal.Decimal("NaN"))],
            )
        repo = Odds(backend)
        got = await repo.list_rows(sort=[("id", 1)])
        raw = await backend.fetch(
            'SELECT id, "it\'s", "two words", "j""q"::text AS "j""q",'
            ' "plain json"::text AS "plain json", "UPPER" FROM "odd names" ORDER BY id'
        )
        want = [
            {
                **dict(r),
                'j"q': None if r['j"q'] is None else json.loads(r['j"q']),
                "plain json": None if r["plain json"] is None else json.loads(r["plain json"]),
            }
            for r in raw
        ]
        assert repr(got) == repr(want)  # NaN != NaN; repr also compares key order
        assert len({id(r) for r in got}) == len(got)
        adapter = TypeAdapter(list[Odd])
        with pytest.raises(ValidationError) as slow:
            adapter.validate_python([dict(r) for r in got])
        with pytest.raises(ValidationError) as fast:
            await repo.list(sort=[("id", 1)])
        assert _errors(fast.value) == _errors(slow.value)  # the NaN row: ordinary error
        assert gc.isenabled()
        await backend.execute('DELETE FROM "odd names" WHERE "it\'s" = \'nan\'')
        models = await repo.list(sort=[("id", 1)])
        _same_models(models, adapter.validate_python(await repo.list_rows(sort=[("id", 1)])))
        assert len({id(m.model_fields_set) for m in models}) == len(models)  # not shared
        assert gc.isenabled()
    finally:
        await backend.close()


async def test_bulk_create_leaves_collector_enabled(pg_dsn: str) -> None:
    _schema(pg_dsn)
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
    try:
        await backend.execute("TRUNCATE made RESTART IDENTITY")
        repo = Mades(backend)
        items = [{"name": f"n{i}", "meta": {"i": i}, "tags": ["t"]} for i in range(1200)]
        made = await repo.bulk_create(items)
        assert gc.isenabled() and [m.id for m in made] == list(range(1, 1201))
        _same_models(made, await repo.list(sort=[("id", 1)]))
        await backend.execute("ALTER TABLE made ADD CONSTRAINT made_name_short CHECK (name <> 'x')")
        try:
            with pytest.raises(CheckViolation):
                await repo.bulk_create([*items, {"name": "x"}])
            assert gc.isenabled()
        finally:
            await backend.execute("ALTER TABLE made DROP CONSTRAINT made_name_short")
    finally:
        await backend.close()


NESTED = """
CREATE TABLE nested (
  id serial PRIMARY KEY, tags text[], opt_tags text[], b jsonb, j json
);
"""


class Place(XObjPrototype):
    city: str | None = None
    level: int | None = None
    ratio: float | None = None
    on: bool = False


class Nested(XObjPrototype):
    id: int | None = None
    tags: list[str] | None = None
    opt_tags: list[str | None] = Field(default_factory=list)
    b: Place | None = None
    j: Place | None = None


class Nesteds(ConnectedRepo[Nested, Nested, Nested, dict[str, Any], str]):
    model = create_model = update_model = Nested
    metadata = RepoMetadata(name="nested", collection="nested", primary_key=("id",))


place_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2), st.sampled_from(["x", "1"])
)
#: Objects the nested-model shortcut takes (all fields, in order, exactly typed) and ones
#: it must leave to validation: missing, extra or reordered keys, ints for floats, bad values.
places = st.one_of(
    st.none(),
    st.builds(
        lambda c, lv, r, on: {"city": c, "level": lv, "ratio": r, "on": on},
        st.none() | texts,
        st.none() | st.integers(-5, 5),
        st.none() | st.floats(-9, 9),
        st.booleans(),
    ),
    st.dictionaries(st.sampled_from(["on", "city", "level", "ratio", "zz"]), place_values),
)
nested_rows = st.fixed_dictionaries(
    {
        "tags": st.none() | st.lists(st.none() | texts, max_size=3),
        "opt_tags": st.none() | st.lists(st.none() | texts, max_size=3),
        "b": places,
        "j": places,
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(nested_rows, min_size=1, max_size=6), shortcut=st.booleans())
def test_list_nested_and_list_shortcuts_equal_validation(
    pg_dsn: str, rows: list[dict[str, Any]], shortcut: bool
) -> None:
    key = f"nested {pg_dsn}"
    if key not in _ready:
        run_sql(pg_dsn, NESTED)
        _ready.add(key)
    ok = {"city": "Oslo", "level": 2, "ratio": 0.5, "on": True}
    assert trusted_rows._flat_model(Place, True)([ok, None]) is not None
    if shortcut:  # rows every shortcut takes, so it is exercised, not only refused
        rows = [{"tags": ["a"], "opt_tags": ["b", None], "b": ok, "j": None}] * 3

    async def go() -> None:
        backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
        try:
            await backend.execute("TRUNCATE nested RESTART IDENTITY")
            async with backend.connection() as conn:
                await conn.executemany(
                    "INSERT INTO nested (tags, opt_tags, b, j) VALUES ($1, $2, $3, $4)",
                    [(r["tags"], r["opt_tags"], r["b"], r["j"]) for r in rows],
                )
            await _list_equals_validation(Nesteds(backend), Nested)
        finally:
            await backend.close()

    asyncio.run(go())


EXTRAS = """
CREATE TYPE pair AS (a int4, b text);
CREATE TABLE extras (
  id serial PRIMARY KEY, p pair, ps pair[], cash money, ip inet, net cidr, note text
);
"""


class Extra(XObjPrototype):
    id: int | None = None
    p: dict[str, Any] | None = None
    ps: list[dict[str, Any]] | None = None
    cash: decimal.Decimal | None = None
    ip: str | None = None
    net: str | None = None
    note: str = "default"


class Extras(ConnectedRepo[Extra, Extra, Extra, dict[str, Any], str]):
    model = create_model = update_model = Extra
    metadata = RepoMetadata(name="extras", collection="extras", primary_key=("id",))


async def test_list_composite_money_inet_rows_equal_validation(pg_dsn: str) -> None:
    run_sql(pg_dsn, EXTRAS)
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
    try:
        await backend.execute(
            "INSERT INTO extras (p, ps, cash, ip, net, note)"
            " SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE ROW(g, 'b' || g)::pair END,"
            " ARRAY[ROW(g, NULL)::pair], (g || '.25')::money,"
            " ('10.0.' || (g % 250) || '.1/24')::inet, '10.1.0.0/16'::cidr,"
            " CASE WHEN g % 2 = 0 THEN 'n' END"
            " FROM generate_series(1, 1100) g"
        )
        repo = Extras(backend)
        rows = await repo.list_rows(sort=[("id", 1)])
        assert rows[0]["p"] == {"a": 1, "b": "b1"} and rows[0]["ps"] == [{"a": 1, "b": None}]
        assert rows[0]["cash"] == decimal.Decimal("1.25") and rows[0]["ip"] == "10.0.1.1/24"
        adapter = TypeAdapter(list[Extra])
        with pytest.raises(ValidationError) as slow:  # NULL notes: the required-ish default
            adapter.validate_python([dict(r) for r in rows])
        with pytest.raises(ValidationError) as fast:
            await repo.list(sort=[("id", 1)])
        assert _errors(fast.value) == _errors(slow.value)
        await backend.execute("UPDATE extras SET note = 'x' WHERE note IS NULL")
        rows = await repo.list_rows(sort=[("id", 1)])
        _same_models(await repo.list(sort=[("id", 1)]), adapter.validate_python(rows))
        assert gc.isenabled()
    finally:
        await backend.close()


class Wallet(XObjPrototype):
    id: int | None = None
    cash: decimal.Decimal | None = None
    ips: list[str | None] | None = None
    nets: list[str] | None = None
    funds: list[decimal.Decimal | None] | None = None
    grid: list[list[str]] | None = None


class Wallets(ConnectedRepo[Wallet, Wallet, Wallet, dict[str, Any], str]):
    model = create_model = update_model = Wallet
    metadata = RepoMetadata(name="wallets", collection="wallets", primary_key=("id",))


class Spend(XObjPrototype):
    id: int | None = None
    wallet_id: int | None = None


class Spends(ConnectedRepo[Spend, Spend, Spend, dict[str, Any], str]):
    model = create_model = update_model = Spend
    metadata = RepoMetadata(name="spends", collection="spends", primary_key=("id",))


async def test_inet_cidr_money_arrays_read_as_models_hold_them(pg_dsn: str) -> None:
    """asyncpg decodes inet[] into ipaddress objects and money[] into locale text; the
    models hold what inet prints (no /32 on hosts) and exact decimals — in reads, writes
    (one row, the COPY path) and documents joined by an in-memory ``$lookup``."""
    run_sql(
        pg_dsn,
        "CREATE TABLE wallets (id serial PRIMARY KEY, cash money, ips inet[], nets cidr[],"
        " funds money[], grid inet[][]);"
        " CREATE TABLE spends (id serial PRIMARY KEY, wallet_id int);"
        " INSERT INTO wallets (cash, ips, nets, funds, grid) VALUES"
        " (-1234.56, '{10.0.0.1,NULL,\"::1\",192.168.0.1/24}', '{10.0.0.0/8}',"
        "  '{-1234.56,NULL,92233720368547758.07}', '{{1.2.3.4,5.6.7.8},{::1,::2/64}}'),"
        " (NULL, NULL, '{}', '{}', NULL);"
        " INSERT INTO spends (wallet_id) VALUES (1), (2), (1), (NULL);",
    )
    D = decimal.Decimal
    first = Wallet(
        id=1,
        cash=D("-1234.56"),
        ips=["10.0.0.1", None, "::1", "192.168.0.1/24"],
        nets=["10.0.0.0/8"],
        funds=[D("-1234.56"), None, D("92233720368547758.07")],
        grid=[["1.2.3.4", "5.6.7.8"], ["::1", "::2/64"]],
    )
    second = Wallet(id=2, nets=[], funds=[])
    backend = PostgresBackend(pg_dsn, min_size=1, max_size=1)
    try:
        wallets = Wallets(backend)
        assert await wallets.list(sort=[("id", 1)]) == [first, second]
        one = {"ips": ["10.1.1.1", None, "10.0.0.2/16"], "funds": [D("1.05"), None]}
        made = await wallets.create(one)
        assert await wallets.read(made.id) == made == Wallet(id=3, **one)
        many = [{"ips": [f"10.0.0.{i}", "::1"], "funds": [D(i) / 4]} for i in range(70)]
        bulk = await wallets.bulk_create(many)
        assert [w.model_dump(exclude={"id"}) for w in bulk] == [
            Wallet(**m).model_dump(exclude={"id"}) for m in many
        ]
        assert await wallets.list({"id": {"$gt": 3}}, sort=[("id", 1)]) == bulk
        spends = Spends(backend)
        lookup = {"from": "wallets", "localField": "wallet_id", "foreignField": "id", "as": "w"}
        joined = await spends.aggregate([{"$lookup": lookup}, {"$sort": {"id": 1}}])
        dumped = {w.id: w.model_dump() for w in (first, second)}
        assert [[dumped[w["id"]] == w for w in d["w"]] for d in joined] == [
            [True],
            [True],
            [True],
            [],
        ]
    finally:
        await backend.close()


ODD_JSON = [
    '{"a": 1, "a": 2, "b": -0, "c": -0.0, "d": 1e308, "e": 12345678901234567890123}',
    '"\\ud800x"',  # a lone surrogate: json columns hold it, pydantic-core refuses it
    "1e400",
    '[1.5e-320, "é🎉", {"": null}, "\\u0000"]',
    None,
    "123.456e-7",
]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.none() | json_values, max_size=8),
    ascii_only=st.booleans(),
    odd=st.lists(st.sampled_from(ODD_JSON), max_size=3),
)
def test_json_texts_parse_as_json_loads(
    values: list[Any], ascii_only: bool, odd: list[str | None]
) -> None:
    from xrepo.runtime.backends.postgres import _parse_json_texts

    texts = [None if v is None else json.dumps(v, ensure_ascii=ascii_only) for v in values]
    texts += odd
    want = [None if t is None else json.loads(t) for t in texts]
    assert repr(_parse_json_texts(texts)) == repr(want)  # repr: -0.0 and key order too
