"""Keyset (cursor) pagination: paging through a whole table in pages of k yields every row
exactly once, in the full-sort order, on the memory backend and on SQLite (ties, NULLs, mixed
directions, nested fields); cursors round-trip typed values and reject tampering and foreign
sorts."""

from __future__ import annotations

import asyncio
import base64
import datetime
import decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrepo.runtime import (
    ConnectedRepo,
    MaterializedRepo,
    MemoryBackend,
    Page,
    QueryError,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)
from xrepo.runtime.query.ast import Query
from xrepo.runtime.query.cursor import decode_cursor, encode_cursor
from xrepo.runtime.query.fields import fields_of
from xrepo.runtime.query.parse import parse_sort
from xrepo.runtime.sql import compiler
from xrepo.runtime.sql.dialect import SQLiteDialect


class Place(XObjPrototype):
    city: str | None = None


class Item(XObjPrototype):
    id: int
    a: int | None = None
    s: str | None = None
    d: decimal.Decimal | None = None
    day: datetime.date | None = None
    ts: datetime.datetime | None = None
    flag: bool | None = None
    place: Place | None = None


META = RepoMetadata(name="items", collection="items", primary_key=("id",))


class SqlItems(ConnectedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = META


class MemItems(MaterializedRepo[Item, Item, Item, dict[str, Any], str]):
    model = create_model = update_model = Item
    metadata = META


DDL = (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, s TEXT, d TEXT, day TEXT, ts TEXT,"
    " flag INTEGER, place TEXT)"
)
SORTABLE = ["a", "s", "d", "day", "ts", "flag", "place.city", "id"]


def nullable(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


# Small domains: many ties, so the primary-key tiebreaker is what keeps pages apart.
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "a": nullable(st.integers(-2, 2)),
            "s": nullable(st.sampled_from(["", "a", "B", "b", "é", "ab"])),
            "d": nullable(st.sampled_from(["-1", "0", "0.10", "0.5", "2.50"]).map(decimal.Decimal)),
            "day": nullable(st.dates(datetime.date(2024, 1, 1), datetime.date(2024, 1, 3))),
            "ts": nullable(
                st.sampled_from(
                    [
                        datetime.datetime(2024, 1, 1, 0, 0),
                        datetime.datetime(2024, 1, 1, 0, 0, 0, 500),
                        datetime.datetime(2024, 1, 1, 12, 30),
                    ]
                )
            ),
            "flag": nullable(st.booleans()),
            "place": nullable(
                st.fixed_dictionaries({"city": nullable(st.sampled_from(["Oslo", "Åre", ""]))})
            ),
        }
    ),
    max_size=14,
)
sorts = st.lists(
    st.tuples(st.sampled_from(SORTABLE), st.sampled_from([1, -1])), min_size=0, max_size=3
)


async def page_through(repo: Any, flt: Any, sort: Any, k: int) -> tuple[list[int], int]:
    seen: list[int] = []
    pages = 0
    cursor: str | None = None
    while True:
        page = await repo.page(flt, sort=sort, limit=k, after=cursor)
        assert isinstance(page, Page)
        assert len(page.items) <= k
        # list(after=) is the same read.
        again = await repo.list(flt, sort=sort, limit=k, after=cursor)
        assert [r.id for r in again] == [r.id for r in page.items]
        seen.extend(r.id for r in page.items)
        pages += 1
        assert pages <= 100, "pagination does not terminate"
        if page.next_cursor is None:
            return seen, pages
        assert len(page.items) == k
        cursor = page.next_cursor


async def check_paging(rows: list[dict[str, Any]], flt: Any, sort: Any, k: int) -> None:
    data = [{"id": i + 1, **r} for i, r in enumerate(rows)]
    mem = MemItems(data)
    async with SQLiteBackend(":memory:") as be:
        await be.execute(DDL)
        sql = SqlItems(be)
        await sql.bulk_create(data)
        for repo in (mem, sql):
            full = [r.id for r in await repo.list(flt, sort=sort)]
            got, pages = await page_through(repo, flt, sort, k)
            assert got == full, (type(repo).__name__, sort, k)
            assert pages == max(1, -(-len(full) // k))
        assert [r.id for r in await mem.list(flt, sort=sort)] == [
            r.id for r in await sql.list(flt, sort=sort)
        ]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=rows_strategy,
    sort=sorts,
    k=st.integers(1, 4),
    flt=st.sampled_from([None, {"a": {"$ne": 0}}, {"flag": {"$ne": None}}, {"s__gte": "a"}]),
)
def test_paging_visits_every_row_once_in_sort_order(
    rows: list[dict[str, Any]], sort: Any, k: int, flt: Any
) -> None:
    asyncio.run(check_paging(rows, flt, sort, k))


async def test_page_without_limit_is_everything() -> None:
    repo = MemItems([{"id": i, "a": i % 2} for i in range(1, 6)])
    page = await repo.page(sort=[("a", -1)])
    assert [r.id for r in page.items] == [1, 3, 5, 2, 4]
    assert page.next_cursor is None


async def test_last_page_exact_fit_has_no_cursor() -> None:
    repo = MemItems([{"id": i} for i in range(1, 5)])
    first = await repo.page(limit=2)
    assert [r.id for r in first.items] == [1, 2] and first.next_cursor is not None
    second = await repo.page(limit=2, after=first.next_cursor)
    assert [r.id for r in second.items] == [3, 4] and second.next_cursor is None


async def test_keyset_is_stable_under_inserts_before_the_cursor() -> None:
    repo = MemItems([{"id": i, "a": i * 10} for i in range(1, 7)])
    first = await repo.page(sort=[("a", 1)], limit=3)
    await repo.create({"id": 99, "a": 5})  # sorts before the cursor: must not shift page 2
    second = await repo.page(sort=[("a", 1)], limit=3, after=first.next_cursor)
    assert [r.id for r in second.items] == [4, 5, 6]


SORT = [("d", -1), ("day", 1), ("s", 1)]


def _keys(sort: Any) -> Any:
    return parse_sort(fields_of(Item), sort, ("id",))


def test_cursor_round_trips_typed_values() -> None:
    keys = _keys(SORT)
    values = (decimal.Decimal("2.50"), datetime.date(2024, 2, 29), None, 7)
    cursor = encode_cursor(keys, values)
    assert cursor.replace("-", "").replace("_", "").isalnum()  # URL-safe, no padding
    back = decode_cursor(cursor, keys)
    assert back == values
    assert type(back[0]) is decimal.Decimal and type(back[1]) is datetime.date


def test_tampered_cursor_is_rejected() -> None:
    keys = _keys(SORT)
    cursor = encode_cursor(keys, (decimal.Decimal("1"), None, "x", 3))
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1  # flip one bit of the payload
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (forged, cursor[:-4], "not a cursor!", "", cursor + "AAAA"):
        with pytest.raises(QueryError, match="after"):
            decode_cursor(bad, keys)


def test_cursor_from_another_sort_is_rejected() -> None:
    cursor = encode_cursor(_keys(SORT), (None, None, None, 1))
    with pytest.raises(QueryError, match="made for sort"):
        decode_cursor(cursor, _keys([("d", 1), ("day", 1), ("s", 1)]))
    with pytest.raises(QueryError, match="made for sort"):
        decode_cursor(cursor, _keys([("a", -1)]))


async def test_repo_rejects_bad_cursors() -> None:
    repo = MemItems([{"id": i, "a": i} for i in range(1, 5)])
    page = await repo.page(sort=[("a", -1)], limit=2)
    assert page.next_cursor is not None
    with pytest.raises(QueryError, match="made for sort"):
        await repo.list(sort=[("a", 1)], after=page.next_cursor)
    with pytest.raises(QueryError, match="altered"):
        await repo.page(sort=[("a", -1)], limit=2, after=page.next_cursor[:-2] + "xx")
    with pytest.raises(QueryError, match="limit"):
        await repo.page(limit=0)


def test_cursor_value_must_fit_the_field_kind() -> None:
    made = encode_cursor(_keys([("s", 1)]), (5, 1))  # an int where a str belongs
    with pytest.raises(QueryError, match="does not fit"):
        decode_cursor(made, _keys([("s", 1)]))


def test_sql_keyset_binds_values() -> None:
    table = fields_of(Item)
    asc = Query(sort=parse_sort(table, [("a", 1)], ("id",)), after=(3, 7), limit=2)
    sql, params = compiler.select(SQLiteDialect(), '"items"', asc)
    assert '("a", "id") > (?, ?)' in sql and params == [3, 7, 2]
    mixed = Query(sort=parse_sort(table, [("d", -1)], ("id",)), after=(None, 7))
    sql, params = compiler.select(SQLiteDialect(), '"items"', mixed)
    # NULLs come last descending: only ties on NULL with a larger id remain.
    assert " OR " not in sql.split("ORDER BY")[0] and "IS NULL" in sql
    assert params == [7]
    chain = Query(sort=parse_sort(table, [("d", -1), ("s", 1)], ("id",)), after=("1.5", "b", 7))
    sql, params = compiler.select(SQLiteDialect(), '"items"', chain)
    assert "1.5" not in sql and "'b'" not in sql and " OR " in sql
    assert params.count("1.5") == 3 and params.count("b") == 2 and params[-1] == 7


async def test_memory_backend_applies_after_before_skip() -> None:
    repo = MemItems([{"id": i, "a": 5 - i} for i in range(1, 6)])
    first = await repo.page(sort=[("a", 1)], limit=2)
    rest = await repo.list(sort=[("a", 1)], after=first.next_cursor, skip=1)
    assert [r.id for r in first.items] == [5, 4] and [r.id for r in rest] == [2, 1]
    assert isinstance(repo.backend, MemoryBackend)


class Loose(XObjPrototype):
    id: int
    v: Any = None


class LooseRepo(MaterializedRepo[Loose, Loose, Loose, dict[str, Any], str]):
    model = create_model = update_model = Loose
    metadata = RepoMetadata(name="loose", collection="loose", primary_key=("id",))


@pytest.mark.parametrize("direction", [1, -1])
async def test_memory_keyset_on_untyped_mixed_values(direction: int) -> None:
    values: list[Any] = [3, "b", None, 1.5, True, "a", None, 2, False, "b", 0]
    repo = LooseRepo([{"id": i, "v": v} for i, v in enumerate(values, 1)])
    sort: Any = [("v", direction)]
    full = [r.id for r in await repo.list(sort=sort)]
    got, _ = await page_through(repo, None, sort, 3)
    assert got == full and sorted(got) == list(range(1, len(values) + 1))
