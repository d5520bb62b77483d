"""SQLite specifics: storage encodings, persistence, hostile names, injection, driver errors."""

from __future__ import annotations

import datetime
import decimal
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from xrepo.runtime import (
    ConnectedRepo,
    MissingDriverError,
    RepoMetadata,
    SQLiteBackend,
    UnsupportedQueryError,
    XObjPrototype,
)


class Place(XObjPrototype):
    city: str | None = None
    zip_code: str | None = Field(default=None, alias="zip")


class Thing(XObjPrototype):
    id: int
    odd: str | None = Field(default=None, alias='we"ird; --')
    price: decimal.Decimal | None = None
    when: datetime.datetime | None = None
    day: datetime.date | None = None
    flag: bool | None = None
    ref: uuid.UUID | None = None
    place: Place | None = None
    tags: list[int] = Field(default_factory=list)


class ThingUpdate(XObjPrototype):
    price: decimal.Decimal | None = None


class ThingRepo(ConnectedRepo[Thing, Thing, ThingUpdate, dict[str, Any], str]):
    model = Thing
    create_model = Thing
    update_model = ThingUpdate
    metadata = RepoMetadata(name="things", collection='tab"le; drop', primary_key=("id",))


DDL = """CREATE TABLE "tab""le; drop" (id INTEGER PRIMARY KEY, "we""ird; --" TEXT, price TEXT,
  "when" TEXT, day TEXT, flag INTEGER, ref TEXT, place TEXT, tags TEXT)"""
UTC = datetime.UTC


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "things.db"
    with sqlite3.connect(path) as db:
        db.execute(DDL)
    return path


async def test_round_trip_and_storage_encoding(db_path: Path) -> None:
    backend = SQLiteBackend(db_path)
    repo = ThingRepo(backend)  # connects lazily on first use
    when = datetime.datetime(
        2024, 1, 2, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    thing = Thing(
        id=1, odd="o", price=decimal.Decimal("10.10"), when=when, day=datetime.date(2024, 1, 2),
        flag=True, ref=uuid.UUID(int=5), place=Place(city="Oslo", zip_code="0150"), tags=[3, 1],
    )  # fmt: skip
    assert await repo.create(thing) == thing
    await backend.close()
    with sqlite3.connect(db_path) as db:
        raw = db.execute('SELECT * FROM "tab""le; drop"').fetchone()
    assert raw[2:7] == (
        "10.10",
        "2024-01-02 10:00:00+00:00",
        "2024-01-02",
        1,
        str(uuid.UUID(int=5)),
    )
    assert raw[7] == '{"city": "Oslo", "zip": "0150"}' and raw[8] == "[3, 1]"
    async with SQLiteBackend(db_path) as be:  # a fresh connection reads the same row back
        again = await ThingRepo(be).read(1)
    assert again == thing


async def test_comparisons_behave_like_memory(db_path: Path) -> None:
    async with SQLiteBackend(db_path) as be:
        repo = ThingRepo(be)
        await repo.bulk_create(
            [
                {"id": 1, "price": "9.5", "day": "2024-01-02", "place": {"city": "Oslo"}},
                {"id": 2, "price": "10", "day": "2023-12-31", "tags": [1, 2]},
                {"id": 3, "when": datetime.datetime(2024, 1, 1, 23, tzinfo=UTC)},
            ]
        )

        async def ids(filters: dict[str, Any]) -> list[int]:
            return [t.id for t in await repo.list(filters)]

        assert await ids({"price": {"$gt": 9.6}}) == [2]  # "10" > "9.6" only numerically
        assert await ids({"day": {"$gte": datetime.date(2024, 1, 1)}}) == [1]
        assert await ids({"place.city": "Oslo"}) == [1]
        assert await ids({"place.city": None}) == [2, 3]
        assert await ids({"tags": 2}) == [2]
        assert await ids({"tags": {"$size": 0}}) == [1, 3]
        assert await ids({"tags": {"$elemMatch": {"$gt": 1}}}) == [2]
        later = datetime.datetime(
            2024, 1, 2, 0, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        )
        assert await ids({"when": {"$gt": later}}) == [3]  # compared as instants (UTC text)
        assert await repo.distinct("price") == [None, decimal.Decimal("9.5"), decimal.Decimal(10)]


async def test_injection_attempt_is_just_a_value(db_path: Path) -> None:
    hostile = '\'; DROP TABLE "tab""le; drop"; --'
    async with SQLiteBackend(db_path) as be:
        repo = ThingRepo(be)
        await repo.create({"id": 1, "odd": hostile})
        assert [t.id for t in await repo.list({"odd": hostile})] == [1]
        assert await repo.count({"odd": {"$regex": "DROP"}}) == 1
        assert await repo.bulk_update({"odd": hostile}, {"price": "1"}) == 1
        rows = await be.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert [r[0] for r in rows] == ['tab"le; drop']


async def test_untyped_query_is_refused_not_guessed(db_path: Path) -> None:
    class Loose(XObjPrototype):
        id: int
        place: dict[str, Any] | None = None

    class LooseRepo(ConnectedRepo[Loose, Loose, Loose, dict[str, Any], str]):
        model = Loose
        create_model = Loose
        update_model = Loose
        metadata = RepoMetadata(name="l", collection='tab"le; drop', primary_key=("id",))

    async with SQLiteBackend(db_path) as be:
        with pytest.raises(UnsupportedQueryError, match=r"'place\.city'"):
            await LooseRepo(be).list({"place.city": {"$gt": "a"}})


async def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiosqlite", None)
    with pytest.raises(MissingDriverError, match=r"xrepo\[sqlite\]"):
        await SQLiteBackend(":memory:").connect()


class Blank(XObjPrototype):
    id: int
    blank: str | None = Field(default=None, alias="")


class BlankRepo(ConnectedRepo[Blank, Blank, Blank, dict[str, Any], str]):
    model = Blank
    create_model = Blank
    update_model = Blank
    metadata = RepoMetadata(name="blank", collection="", primary_key=("id",))


async def test_empty_identifiers_are_quoted_for_sqlite(tmp_path: Path) -> None:
    # SQLite allows a table and a column named "" (PostgreSQL does not): still usable.
    path = tmp_path / "blank.db"
    con = sqlite3.connect(path)
    con.execute('CREATE TABLE "" (id INTEGER PRIMARY KEY, "" TEXT)')
    con.close()
    async with SQLiteBackend(path) as db:
        repo = BlankRepo(db)
        await repo.create({"id": 1, "": "x"})
        await repo.create({"id": 2})
        got = await repo.read(1)
        assert got is not None and got.blank == "x"
        assert [b.id for b in await repo.list({"blank": None})] == [2]
