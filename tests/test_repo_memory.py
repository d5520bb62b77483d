"""XRepo behaviour, run on the memory backend and (same tests) on a real SQLite file."""

from __future__ import annotations

import datetime
import decimal
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field

from xrepo.runtime import (
    ConnectedRepo,
    ConstraintError,
    FileFormat,
    MaterializedRepo,
    MemoryBackend,
    QueryError,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)


class Customer(XObjPrototype):
    customer_id: int = Field(alias="CustomerId")
    email: str
    first_name: str | None = Field(default=None, alias="First Name")
    score: decimal.Decimal | None = None
    born: datetime.date | None = None
    active: bool = True
    tags: list[str] = Field(default_factory=list)
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    deleted_at: datetime.datetime | None = None


class CustomerCreate(XObjPrototype):
    customer_id: int | None = Field(default=None, alias="CustomerId")
    email: str
    first_name: str | None = Field(default=None, alias="First Name")
    score: decimal.Decimal | None = None
    born: datetime.date | None = None
    active: bool = True
    tags: list[str] = Field(default_factory=list)


class CustomerUpdate(XObjPrototype):
    customer_id: int | None = Field(default=None, alias="CustomerId")
    email: str | None = None
    first_name: str | None = Field(default=None, alias="First Name")
    score: decimal.Decimal | None = None
    active: bool | None = None
    tags: list[str] | None = None


CustomerField = Literal["customer_id", "email", "first_name", "score", "born", "active"]


class CustomerRepo(
    ConnectedRepo[Customer, CustomerCreate, CustomerUpdate, dict[str, Any], CustomerField]
):
    model = Customer
    create_model = CustomerCreate
    update_model = CustomerUpdate
    metadata = RepoMetadata(
        name="customers",
        collection="customers",
        primary_key=("customer_id",),
        unique=(("email",),),
        soft_delete=True,
        auto_timestamps=True,
    )

    async def get_by_email(self, email: str) -> Customer | None:
        return await self.find_one({"email": email})


class Enrollment(XObjPrototype):
    student_id: int
    course_id: int
    grade: str | None = None


class EnrollmentUpdate(XObjPrototype):
    student_id: int | None = None
    course_id: int | None = None
    grade: str | None = None


class EnrollmentRepo(ConnectedRepo[Enrollment, Enrollment, EnrollmentUpdate, dict[str, Any], str]):
    model = Enrollment
    create_model = Enrollment
    update_model = EnrollmentUpdate
    metadata = RepoMetadata(
        name="enrollments", collection="enrollments", primary_key=("student_id", "course_id")
    )


DDL = """
CREATE TABLE customers ("CustomerId" INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
  "First Name" TEXT, score TEXT, born TEXT, active INTEGER NOT NULL DEFAULT 1, tags TEXT,
  created_at TEXT, updated_at TEXT, deleted_at TEXT);
CREATE TABLE enrollments (student_id INTEGER, course_id INTEGER, grade TEXT,
  PRIMARY KEY (student_id, course_id));
"""


def make_sqlite(path: Path) -> SQLiteBackend:
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
    return SQLiteBackend(path)


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request: Any, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    async with make_sqlite(tmp_path / "shop.db") as be:
        yield be


Factory = Callable[..., Any]


async def seed(repo: CustomerRepo) -> list[Customer]:
    return await repo.bulk_create(
        [
            {"email": "a@x.io", "first_name": "Ann", "score": "10.5", "born": "1990-01-02",
             "tags": ["vip"]},
            {"email": "b@x.io", "first_name": "Bob", "score": "9.75", "active": False},
            {"email": "c@x.io", "first_name": None, "score": "100", "tags": ["vip", "new"]},
            CustomerCreate(email="d@x.io", first_name="Ann", born=datetime.date(2001, 5, 6)),
        ]
    )  # fmt: skip


async def test_create_read_with_generated_key_and_timestamps(backend: Any) -> None:
    repo = CustomerRepo(backend)
    made = await repo.create({"email": "z@x.io", "First Name": "Zed", "score": "1.50"})
    assert made.customer_id == 1 and made.first_name == "Zed"
    assert made.score == decimal.Decimal("1.50")
    assert made.created_at is not None and made.updated_at is not None
    assert await repo.read(made.customer_id) == made
    assert await repo.read(999) is None
    assert await repo.get_by_email("z@x.io") == made


async def test_unique_violation_is_a_constraint_error(backend: Any) -> None:
    repo = CustomerRepo(backend)
    await repo.create({"email": "a@x.io"})
    with pytest.raises(ConstraintError):
        await repo.create({"email": "a@x.io"})
    assert await repo.count() == 1


async def test_list_filters_sort_skip_limit(backend: Any) -> None:
    repo = CustomerRepo(backend)
    await seed(repo)
    names = [c.email for c in await repo.list({"score": {"$gt": 9.8}}, sort=[("score", -1)])]
    assert names == ["c@x.io", "a@x.io"]  # numeric, not text, order for decimals
    page = await repo.list(sort=[("first_name", 1)], skip=1, limit=2)
    # NULL first ascending; two "Ann" tie and keep primary-key order
    assert [c.customer_id for c in page] == [1, 4]
    assert [c.email for c in await repo.list({"tags": "vip"})] == ["a@x.io", "c@x.io"]
    assert [c.email for c in await repo.list({"born__gte": "2000-01-01"})] == ["d@x.io"]
    assert [c.email for c in await repo.list({"active": False})] == ["b@x.io"]
    assert [c.email for c in await repo.list({"first_name": {"$ne": "Ann"}})] == [
        "b@x.io",
        "c@x.io",
    ]
    assert await repo.count({"first_name": None}) == 1
    assert await repo.exists({"email": {"$regex": "^b@"}})
    assert not await repo.exists({"email": "nobody"})
    found = await repo.find_one({"first_name": "Ann"}, sort=[("customer_id", -1)])
    assert found is not None and found.email == "d@x.io"
    assert await repo.distinct("first_name") == [None, "Ann", "Bob"]
    assert await repo.distinct("tags") == ["new", "vip"]  # type: ignore[arg-type]


async def test_update_only_set_fields(backend: Any) -> None:
    repo = CustomerRepo(backend)
    made = await repo.create({"email": "a@x.io", "first_name": "Ann", "score": "2"})
    updated = await repo.update(made.customer_id, CustomerUpdate(first_name=None))
    assert updated is not None and updated.first_name is None and updated.score == 2
    assert updated.updated_at is not None and made.updated_at is not None
    assert updated.updated_at >= made.updated_at
    again = await repo.update(made.customer_id, {"tags": ["x"]})
    assert again is not None and again.tags == ["x"] and again.first_name is None
    moved = await repo.update(made.customer_id, {"customer_id": 50})
    assert moved is not None and moved.customer_id == 50
    assert await repo.update(12345, {"first_name": "x"}) is None


async def test_soft_delete_hides_rows_and_hard_delete_removes(backend: Any) -> None:
    repo = CustomerRepo(backend)
    a, *_ = await seed(repo)
    assert await repo.delete(a.customer_id)
    assert not await repo.delete(a.customer_id)  # already gone from view
    assert await repo.read(a.customer_id) is None
    assert await repo.count() == 3
    assert not await repo.exists({"email": "a@x.io"})
    assert await repo.update(a.customer_id, {"first_name": "x"}) is None
    assert await repo.delete(a.customer_id, hard=True)  # still stored: hard removes it
    assert await repo.bulk_delete({"first_name": "Ann"}) == 1
    assert await repo.count() == 2
    assert await repo.bulk_delete({"active": False}, hard=True) == 1
    assert [c.email for c in await repo.list()] == ["c@x.io"]


async def test_bulk_update(backend: Any) -> None:
    repo = CustomerRepo(backend)
    await seed(repo)
    assert await repo.bulk_update({"tags": "vip"}, {"active": False}) == 2
    assert await repo.count({"active": False}) == 3


async def test_composite_keys(backend: Any) -> None:
    repo = EnrollmentRepo(backend)
    await repo.bulk_create([{"student_id": 1, "course_id": 1}, {"student_id": 1, "course_id": 2}])
    assert (await repo.read((1, 2))) == Enrollment(student_id=1, course_id=2)
    updated = await repo.update((1, 2), {"grade": "A"})
    assert updated is not None and updated.grade == "A"
    with pytest.raises(ConstraintError):
        await repo.create({"student_id": 1, "course_id": 1})
    with pytest.raises(QueryError, match="tuple"):
        await repo.read(1)
    assert await repo.delete((1, 1))
    assert [e.course_id for e in await repo.list()] == [2]


async def test_bad_filters_fail_before_the_backend(backend: Any) -> None:
    repo = CustomerRepo(backend)
    with pytest.raises(QueryError, match="'nope'"):
        await repo.list({"nope": 1})
    with pytest.raises(QueryError, match="'customer_id'"):
        await repo.read("abc")


class CustomerView(
    MaterializedRepo[Customer, CustomerCreate, CustomerUpdate, dict[str, Any], CustomerField]
):
    model = Customer
    create_model = CustomerCreate
    update_model = CustomerUpdate
    metadata = RepoMetadata(name="view", collection="view", primary_key=("customer_id",))


async def test_materialized_repo_validates_rows_by_either_name() -> None:
    repo = CustomerView(
        [
            {"CustomerId": 2, "email": "b@x.io", "First Name": "Bob"},
            {"customer_id": 1, "email": "a@x.io", "first_name": "Ann"},
        ]
    )
    assert [c.customer_id for c in await repo.list(sort=[("email", 1)])] == [1, 2]
    assert (await repo.read(2)) is not None
    created = await repo.create({"email": "c@x.io"})
    assert created.customer_id == 3
    with pytest.raises(ValueError):
        CustomerView([{"customer_id": "x", "email": "a"}])


class Penguin(XObjPrototype):
    species: str
    bill_length_mm: float | None = None
    year: int


class PenguinRepo(MaterializedRepo[Penguin, Penguin, Penguin, dict[str, Any], str]):
    model = Penguin
    create_model = Penguin
    update_model = Penguin
    metadata = RepoMetadata(name="penguins", collection="penguins")
    file_format = FileFormat(null_tokens=("NA",))


async def test_materialized_repo_from_file(tmp_path: Path) -> None:
    path = tmp_path / "penguins.csv"
    path.write_text("species,bill_length_mm,year\nAdelie,39.1,2007\nGentoo,NA,2009\n")
    repo = PenguinRepo.from_file(path)
    assert [p.species for p in await repo.list({"bill_length_mm": None})] == ["Gentoo"]
    assert await repo.count({"year__gte": 2008}) == 1


async def test_large_bulk_create_equals_one_by_one(backend: Any) -> None:
    """Batches of 64+ dicts or create models take the batched path (columns when every
    item sets the same fields); each row equals what ``create`` makes of its item."""
    repo = CustomerRepo(backend)
    uniform = [
        {"email": f"u{i}@x.io", "First Name": f"U{i}", "score": f"{i}.5", "tags": ["t"]}
        for i in range(70)
    ]
    mixed = [{"email": f"m{i}@x.io", **({"active": False} if i % 3 else {})} for i in range(70)]
    models = [CustomerCreate(email=f"c{i}@x.io", born=datetime.date(2000, 1, 1)) for i in range(70)]
    for batch in (uniform, mixed, models):
        made = await repo.bulk_create(batch)
        assert len(made) == 70 and len({m.customer_id for m in made}) == 70
        stamps = {m.created_at for m in made}
        assert len(stamps) == 1 and None not in stamps  # one instant for the batch
        assert all(m.updated_at == m.created_at for m in made)
        one = CustomerRepo(MemoryBackend())
        for item, got in zip(batch, made, strict=True):
            want = await one.create(item)
            skip = {"customer_id", "created_at", "updated_at"}
            assert got.model_dump(exclude=skip) == want.model_dump(exclude=skip)
        listed = await repo.list({"customer_id": {"$in": [m.customer_id for m in made]}})
        assert sorted(listed, key=lambda m: m.customer_id) == sorted(
            made, key=lambda m: m.customer_id
        )
