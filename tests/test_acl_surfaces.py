"""The ACL and the read cache on the surfaces beyond a plain repo's CRUD: materialized views
(factory-made and generated, before and after refresh), DictRepo, the describing methods
(inspect_schema, inspect_collection, get_statistics, get_audit_log), and reads inside
``repo.transaction()`` blocks (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pg import run_sql
from pydantic import BaseModel

from xrepo.runtime import (
    ACL,
    ConfigurationError,
    ConnectedRepo,
    DictRepo,
    MaterializedRepo,
    PermissionDenied,
    PostgresBackend,
    QueryError,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)
from xrepo.runtime.cache import MemoryCache
from xrepo.runtime.factory import XRepoFactory

# -- views ------------------------------------------------------------------------------------
USERS = [
    {"id": 1, "name": "ada", "team": "x", "region": "eu"},
    {"id": 2, "name": "bob", "team": "y", "region": "us"},
    {"id": 3, "name": "cy", "team": "x", "region": "eu"},
]
ORDERS = [
    {"id": 10, "user_id": 1, "team": "x", "total": 5},
    {"id": 11, "user_id": 1, "team": "x", "total": 7},
    {"id": 12, "user_id": 2, "team": "y", "total": 9},
    {"id": 13, "user_id": 3, "team": "x", "total": 4},
]
JOIN = {"type": "left", "on": {"users": "id", "orders": "user_id"}}
VIEW_RULES: list[dict[str, Any]] = [
    {  # a row rule over a field of one source, a hidden field of the other
        "role": "member",
        "permissions": ["read", "list", "update"],
        "conditions": {"row": {"name": "$user_id"}, "hidden": ["total"]},
    },
    {"role": "europe", "permissions": ["list"], "conditions": {"row": {"region": "eu"}}},
    {"role": "root", "permissions": ["admin"]},
]
VIEW_ROLES = {"ada": ["member"], "bob": ["member"], "eve": ["europe"], "root": ["root"]}


def _view_acl() -> ACL:
    return ACL(VIEW_RULES, lambda user: VIEW_ROLES.get(user, []))


class UserOrder(XObjPrototype):
    """What ``xrepo generate`` declares for the left join above."""

    users_id: int
    name: str
    region: str
    users_team: str
    orders_id: int | None = None
    orders_team: str | None = None
    total: int | None = None
    user_id: int | None = None


class UserOrderUpdate(XObjPrototype):
    users_id: int | None = None
    name: str | None = None
    region: str | None = None
    users_team: str | None = None
    orders_id: int | None = None
    orders_team: str | None = None
    total: int | None = None
    user_id: int | None = None


class UserOrderRepo(MaterializedRepo[UserOrder, UserOrder, UserOrderUpdate, dict[str, Any], str]):
    model = UserOrder
    create_model = UserOrder
    update_model = UserOrderUpdate
    metadata = RepoMetadata(name="uo", collection="uo", primary_key=("orders_id",))


async def _view(generated: bool, name: str = "uo") -> tuple[Any, Any]:
    f = XRepoFactory()
    users = await f.create(data=USERS, name="users")
    orders = await f.create(data=ORDERS, name="orders")
    view = await f.create_view_from_resources(
        name,
        {"users": users, "orders": orders},
        JOIN,
        repo_class=UserOrderRepo if generated else None,
    )
    view.acl = _view_acl()
    return view, orders


VIEW_CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "list": lambda v, u: v.list(user_id=u),
    "list_rows": lambda v, u: v.list_rows(user_id=u),
    "find_one": lambda v, u: v.find_one({}, user_id=u),
    "count": lambda v, u: v.count(user_id=u),
    "exists": lambda v, u: v.exists(user_id=u),
    "distinct": lambda v, u: v.distinct("name", user_id=u),
    "aggregate": lambda v, u: v.aggregate([{"$count": "n"}], user_id=u),
    "create": lambda v, u: v.create(
        {"users_id": 9, "name": "z", "region": "eu", "users_team": "x"}, user_id=u
    ),
    "bulk_update": lambda v, u: v.bulk_update({}, {"region": "x"}, user_id=u),
    "bulk_delete": lambda v, u: v.bulk_delete({}, user_id=u),
    "inspect_schema": lambda v, u: v.inspect_schema(user_id=u),
    "inspect_collection": lambda v, u: v.inspect_collection(user_id=u),
    "get_statistics": lambda v, u: v.get_statistics(user_id=u),
}


@pytest.mark.parametrize("generated", [False, True], ids=["factory", "generated"])
async def test_view_denies_every_method_to_strangers_and_anonymous(generated: bool) -> None:
    view, _ = await _view(generated)
    for op, call in VIEW_CALLS.items():
        for who, principal in (("nobody", "'nobody'"), (None, "anonymous")):
            with pytest.raises(PermissionDenied) as err:
                await call(view, who)
            assert (err.value.operation, err.value.principal) == (op, principal)
    assert await view.count(user_id="root") == 4  # the denied writes changed nothing


@pytest.mark.parametrize("generated", [False, True], ids=["factory", "generated"])
async def test_view_row_rule_and_hidden_field_in_every_read(generated: bool) -> None:
    view, _ = await _view(generated)
    mine = await view.list(sort=[("orders_id", 1)], user_id="ada")
    assert [(m.name, m.orders_id) for m in mine] == [("ada", 10), ("ada", 11)]
    assert all(m.total is None and "total" not in m.model_dump(exclude_unset=True) for m in mine)
    rows = await view.list_rows(user_id="ada")
    assert sorted(r["orders_id"] for r in rows) == [10, 11]
    assert all("total" not in r for r in rows)
    assert await view.count(user_id="ada") == 2 and await view.count(user_id="bob") == 1
    assert await view.exists({"orders_id": 12}, user_id="ada") is False
    assert await view.find_one({"orders_id": 12}, user_id="ada") is None
    found = await view.find_one({"orders_id": 11}, user_id="ada")
    assert found is not None and found.total is None
    assert sorted(await view.distinct("orders_id", user_id="ada")) == [10, 11]
    got = await view.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}], user_id="ada")
    assert got == [{"_id": None, "n": 2}]
    whole = await view.aggregate([{"$project": {"all": "$$ROOT"}}], user_id="ada")
    assert len(whole) == 2 and all("total" not in r["all"] for r in whole)
    with pytest.raises(QueryError, match="total"):
        await view.aggregate([{"$group": {"_id": None, "t": {"$sum": "$total"}}}], user_id="ada")
    for probe in (
        lambda: view.list({"total__gt": 6}, user_id="ada"),
        lambda: view.count({"total": 5}, user_id="ada"),
        lambda: view.list(sort=[("total", 1)], user_id="ada"),
        lambda: view.distinct("total", user_id="ada"),
        lambda: view.bulk_update({}, {"total": 1}, user_id="ada"),
    ):
        with pytest.raises(PermissionDenied, match="total"):
            await probe()
    # a role with a row rule of its own and no column rules
    assert sorted(await view.distinct("orders_id", user_id="eve")) == [10, 11, 13]
    assert {m.total for m in await view.list(user_id="eve")} == {4, 5, 7}
    assert (await view.get_statistics(user_id="eve")).total_count == 3
    with pytest.raises(PermissionDenied, match="READ"):
        await view.inspect_schema(user_id="eve")  # LIST only: no READ


async def test_generated_view_read_page_and_writes_under_the_acl() -> None:
    view, _ = await _view(True)
    assert isinstance(view, UserOrderRepo)
    got = await view.read(10, user_id="ada")
    assert got is not None and got.total is None and got.name == "ada"
    assert await view.read(12, user_id="ada") is None  # outside the row scope: absent
    first = await view.page(limit=1, sort=[("orders_id", 1)], user_id="ada")
    assert [m.orders_id for m in first.items] == [10] and first.items[0].total is None
    second = await view.page(
        limit=1, sort=[("orders_id", 1)], after=first.next_cursor, user_id="ada"
    )
    assert [m.orders_id for m in second.items] == [11] and second.next_cursor is None
    assert await view.update(12, {"region": "zz"}, user_id="ada") is None
    changed = await view.update(10, {"region": "zz"}, user_id="ada")
    assert changed is not None and changed.region == "zz" and changed.total is None
    with pytest.raises(PermissionDenied, match="total"):
        await view.update(10, {"total": 1}, user_id="ada")
    with pytest.raises(PermissionDenied, match="name"):  # would move the row out of scope
        await view.update(10, {"name": "bob"}, user_id="ada")
    assert (await view.read(12, user_id="root")) is not None


@pytest.mark.parametrize("generated", [False, True], ids=["factory", "generated"])
async def test_view_acl_and_cache_hold_after_refresh(generated: bool) -> None:
    view, orders = await _view(generated)
    cache = view.cache = MemoryCache()
    assert await view.count(user_id="ada") == 2
    assert await view.count(user_id="ada") == 2 and cache.hits == 1
    await orders.create({"id": 14, "user_id": 1, "team": "x", "total": 8})
    await orders.create({"id": 15, "user_id": 2, "team": "y", "total": 1})
    await view.refresh()
    assert view.acl is not None  # the ACL belongs to the repo, not to the rows
    # the refresh invalidated the cached count (the cache outlives the swapped backend)
    assert await view.count(user_id="ada") == 3
    mine = await view.list(sort=[("orders_id", 1)], user_id="ada")
    assert [m.orders_id for m in mine] == [10, 11, 14] and all(m.total is None for m in mine)
    assert await view.count(user_id="root") == 6
    with pytest.raises(PermissionDenied):
        await view.list(user_id=None)


async def test_hiding_a_required_view_field_is_a_configuration_error() -> None:
    view, _ = await _view(False)
    view.acl = ACL(
        [{"role": "r", "permissions": ["list"], "conditions": {"hidden": ["region"]}}],
        lambda user: ["r"],
    )  # region comes from the kept (left) side: never NULL in the view, so not Optional
    with pytest.raises(ConfigurationError, match=r"region.*must accept None"):
        await view.list(user_id="u")


# -- DictRepo ---------------------------------------------------------------------------------
PEOPLE = [
    {"id": 1, "name": "ada", "team": "x", "salary": 100},
    {"id": 2, "name": "bob", "team": "y", "salary": None},
    {"id": 3, "name": "cy", "team": "x", "salary": 300},
]
PEOPLE_RULES: list[dict[str, Any]] = [
    {
        "role": "member",
        "permissions": ["create", "read", "list", "update"],
        "conditions": {"row": {"team": "x"}, "hidden": ["salary"]},
    },
    {"role": "root", "permissions": ["admin"]},
]


async def _people() -> DictRepo:
    people = await XRepoFactory().create(data=PEOPLE, name="people", auto_generate_model=False)
    assert isinstance(people, DictRepo)
    roles = {"ada": ["member"], "root": ["root"]}
    acl = ACL(PEOPLE_RULES, lambda user: roles.get(user, []))
    people.acl = acl
    assert people.acl is acl and people.repo.acl is acl  # set on the typed repo it wraps
    return people


async def test_dict_repo_hides_fields_and_scopes_rows() -> None:
    people = await _people()
    rows = await people.list(sort=[("id", 1)], user_id="ada")
    assert rows == [{"id": 1, "name": "ada", "team": "x"}, {"id": 3, "name": "cy", "team": "x"}]
    assert await people.read(1, user_id="ada") == {"id": 1, "name": "ada", "team": "x"}
    assert await people.read(2, user_id="ada") is None
    assert await people.find_one({"id": 3}, user_id="ada") == {"id": 3, "name": "cy", "team": "x"}
    made = await people.create({"id": 4, "name": "di", "team": "x"}, user_id="ada")
    assert made == {"id": 4, "name": "di", "team": "x"}
    changed = await people.update(4, {"name": "dee"}, user_id="ada")
    assert changed == {"id": 4, "name": "dee", "team": "x"}
    assert await people.count(user_id="ada") == 3
    assert await people.exists({"id": 2}, user_id="ada") is False
    assert sorted(await people.distinct("name", user_id="ada")) == ["ada", "cy", "dee"]
    whole = await people.aggregate([{"$project": {"all": "$$ROOT"}}], user_id="ada")
    assert whole and all("salary" not in r["all"] for r in whole)
    # the unrestricted principal sees the field, a stored NULL as None
    assert await people.read(2, user_id="root") == {
        "id": 2,
        "name": "bob",
        "team": "y",
        "salary": None,
    }
    assert (await people.read(1, user_id="root") or {})["salary"] == 100


async def test_dict_repo_denials_raise() -> None:
    people = await _people()
    for call in (
        lambda: people.list({"salary__gt": 1}, user_id="ada"),
        lambda: people.distinct("salary", user_id="ada"),
        lambda: people.update(1, {"salary": 1}, user_id="ada"),
        lambda: people.create({"id": 5, "name": "e", "team": "y"}, user_id="ada"),
        lambda: people.delete(1, user_id="ada"),
        lambda: people.bulk_delete({}, user_id="ada"),
        lambda: people.list(user_id=None),
        lambda: people.list(user_id="stranger"),
    ):
        with pytest.raises(PermissionDenied):
            await call()
    assert await people.count(user_id="root") == 3


# -- the describing methods -------------------------------------------------------------------
class Address(BaseModel):
    street: str
    city: str


class Emp(XObjPrototype):
    id: int
    owner: str
    title: str
    salary: int | None = None
    address: Address | None = None


META = RepoMetadata(
    name="emps",
    collection="emps",
    primary_key=("id",),
    indexes=(("owner",), ("salary", "owner")),
    unique=(("owner", "title"),),
    enable_audit=True,
)


class EmpUpdate(XObjPrototype):
    title: str | None = None


class Emps(MaterializedRepo[Emp, Emp, EmpUpdate, dict[str, Any], str]):
    model = Emp
    create_model = Emp
    update_model = EmpUpdate
    metadata = META


EMP_RULES: list[dict[str, Any]] = [
    {
        "role": "owner",
        "permissions": ["read", "list", "update"],
        "conditions": {"row": {"owner": "$user_id"}, "hidden": ["salary", "address"]},
    },
    {"role": "lister", "permissions": ["list"]},
    {"role": "reader", "permissions": ["read"]},
    {"role": "root", "permissions": ["admin"]},
]
EMP_ROLES = {"alice": ["owner"], "lee": ["lister"], "rita": ["reader"], "root": ["root"]}
EMPS = [
    {"id": 1, "owner": "alice", "title": "a", "salary": 1, "address": {"street": "s", "city": "c"}},
    {"id": 2, "owner": "alice", "title": "b", "salary": 2},
    {"id": 3, "owner": "bob", "title": "c", "salary": 3},
]


def _emps() -> Emps:
    repo = Emps(EMPS)
    repo.acl = ACL(EMP_RULES, lambda user: EMP_ROLES.get(user, []))
    return repo


async def test_inspect_schema_needs_read_and_leaves_hidden_fields_out() -> None:
    repo = _emps()
    full = await repo.inspect_schema(user_id="root")
    assert {"salary", "address"} <= set(full["fields"])
    assert {"salary", "address"} <= set(full["json_schema"]["properties"])
    assert "Address" in full["json_schema"]["$defs"]
    mine = await repo.inspect_schema(user_id="alice")
    assert set(mine["fields"]) == {"id", "owner", "title"}
    schema = mine["json_schema"]
    assert set(schema["properties"]) == {"id", "owner", "title"}
    assert "$defs" not in schema  # the hidden field's nested shape goes with it
    assert "salary" not in str(schema) and "street" not in str(schema)
    assert mine["primary_key"] == ["id"]
    assert (await repo.inspect_schema(user_id="rita"))["fields"] == full["fields"]
    for who, principal in (("lee", "'lee'"), (None, "anonymous")):
        with pytest.raises(PermissionDenied) as err:
            await repo.inspect_schema(user_id=who)  # lee may list, but not read
        assert (err.value.operation, err.value.principal) == ("inspect_schema", principal)
        assert "READ" in str(err.value)


async def test_inspect_collection_needs_list_and_is_scoped() -> None:
    repo = _emps()
    full = await repo.inspect_collection(user_id="root")
    assert full["count"] == 3 and full["indexes"] == [["owner"], ["salary", "owner"]]
    mine = await repo.inspect_collection(user_id="alice")
    assert mine["count"] == 2
    assert mine["indexes"] == [["owner"]] and mine["unique"] == [["owner", "title"]]
    assert (await repo.inspect_collection(user_id="lee"))["count"] == 3
    with pytest.raises(PermissionDenied) as err:
        await repo.inspect_collection(user_id="rita")
    assert err.value.operation == "inspect_collection" and "LIST" in str(err.value)


async def test_statistics_need_list_and_describe_only_the_visible() -> None:
    repo = _emps()
    await repo.list(user_id="root")
    full = await repo.get_statistics(user_id="root")
    assert full.total_count == 3 and full.cardinalities["salary"] == 3
    assert full.operations  # unrestricted: every principal's calls
    mine = await repo.get_statistics(user_id="alice")
    assert mine.total_count == 2
    assert mine.cardinalities == {"id": 2, "owner": 1, "title": 2}  # no hidden field
    assert mine.operations == {} and mine.storage_bytes is None and mine.indexes == {}
    with pytest.raises(PermissionDenied) as err:
        await repo.get_statistics(user_id="rita")
    assert err.value.operation == "get_statistics"


async def test_audit_log_is_admin_only_and_checked_before_the_config() -> None:
    repo = _emps()
    await repo.update(1, {"title": "z"}, user_id="alice")
    for who in ("alice", "lee", None):
        with pytest.raises(PermissionDenied) as err:
            await repo.get_audit_log(user_id=who)
        assert err.value.operation == "get_audit_log"
    assert [e.operation for e in await repo.get_audit_log(user_id="root")] == ["update"]

    class Quiet(Emps):
        metadata = META.model_copy(update={"enable_audit": False})

    quiet = Quiet(EMPS)
    quiet.acl = repo.acl
    with pytest.raises(PermissionDenied):  # not "audit is off": that is not alice's to know
        await quiet.get_audit_log(user_id="alice")
    with pytest.raises(ConfigurationError, match="audit is off"):
        await quiet.get_audit_log(user_id="root")


# -- cache and transactions -------------------------------------------------------------------
class Doc(XObjPrototype):
    id: int
    owner: str
    title: str


DOC_META = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


class Docs(ConnectedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = Doc
    create_model = Doc
    update_model = Doc
    metadata = DOC_META


DOC_DDL = "CREATE TABLE docs (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL)"
DOCS = [{"id": i, "owner": "alice" if i < 3 else "bob", "title": f"t{i}"} for i in (1, 2, 3)]


class Boom(Exception):
    pass


async def _rolled_back_reads_are_not_served(repo: Docs, other: Docs) -> None:
    """``repo`` and ``other`` share a backend and a cache; ``repo`` has an ACL."""
    cache = repo.cache
    assert isinstance(cache, MemoryCache)
    assert await repo.count(user_id="alice") == 2  # cached before the block
    with pytest.raises(Boom):
        async with repo.transaction():
            await repo.create({"id": 7, "owner": "alice", "title": "ghost"}, user_id="alice")
            hits, entries = cache.hits, len(cache)
            assert await repo.count(user_id="alice") == 3  # sees its own write
            assert [d.id for d in await repo.list(user_id="alice")] == [1, 2, 7]
            page = await repo.page(limit=5, user_id="alice")
            assert [d.id for d in page.items] == [1, 2, 7]
            assert await other.read(7) is not None  # another repo joining the block
            assert (cache.hits, len(cache)) == (hits, entries)  # neither read nor filled
            raise Boom
    # after the rollback the row never existed, and no cached read says otherwise
    assert await repo.count(user_id="alice") == 2
    assert [d.id for d in await repo.list(user_id="alice")] == [1, 2]
    assert [d.id for d in (await repo.page(limit=5, user_id="alice")).items] == [1, 2]
    assert await other.read(7) is None
    async with repo.transaction():
        await repo.create({"id": 8, "owner": "alice", "title": "real"}, user_id="alice")
        assert await other.count() == 4
    assert await repo.count(user_id="alice") == 3 and await other.count() == 4
    assert await other.count() == 4 and cache.hits > hits  # outside a block: cached again


async def _commit_invalidates_reads_made_elsewhere_meanwhile(repo: Docs, elsewhere: Docs) -> None:
    """``elsewhere`` reads the same table through another connection, sharing the cache: it
    sees the committed rows while the block is open — and must not keep serving them."""
    before = await elsewhere.count()
    async with repo.transaction():
        await repo.create({"id": 9, "owner": "alice", "title": "new"}, user_id="alice")
        # not committed yet: cached under the generation the write bumped
        assert await elsewhere.count() == before
    assert await elsewhere.count() == before + 1  # the block's end invalidated it


def _acl() -> ACL:
    return ACL(
        [
            {
                "role": "owner",
                "permissions": ["create", "read", "list"],
                "conditions": {"row": {"owner": "$user_id"}},
            },
        ],
        lambda user: ["owner"],
    )


@pytest.fixture
async def sqlite_repos(tmp_path: Path) -> AsyncIterator[tuple[Docs, Docs, Docs]]:
    path = tmp_path / "docs.db"
    with sqlite3.connect(path) as db:
        db.execute(DOC_DDL)
        db.executemany("INSERT INTO docs VALUES (:id, :owner, :title)", DOCS)
    cache = MemoryCache()
    async with SQLiteBackend(path) as main, SQLiteBackend(path) as second:
        repo, other, elsewhere = Docs(main), Docs(main), Docs(second)
        repo.acl = _acl()
        for r in (repo, other, elsewhere):
            r.cache = cache
        yield repo, other, elsewhere


async def test_sqlite_reads_in_a_transaction_bypass_the_cache(
    sqlite_repos: tuple[Docs, Docs, Docs],
) -> None:
    repo, other, _ = sqlite_repos
    await _rolled_back_reads_are_not_served(repo, other)


async def test_sqlite_transaction_end_invalidates_written_collections(
    sqlite_repos: tuple[Docs, Docs, Docs],
) -> None:
    repo, _, elsewhere = sqlite_repos
    await _commit_invalidates_reads_made_elsewhere_meanwhile(repo, elsewhere)


async def test_postgres_transactions_and_the_cache(pg_dsn: str) -> None:
    run_sql(pg_dsn, DOC_DDL)
    values = ", ".join(f"({d['id']}, '{d['owner']}', '{d['title']}')" for d in DOCS)
    run_sql(pg_dsn, f"INSERT INTO docs VALUES {values}")
    cache = MemoryCache()
    async with (
        PostgresBackend(pg_dsn, min_size=1, max_size=2) as main,
        PostgresBackend(pg_dsn, min_size=1, max_size=2) as second,
    ):
        repo, other, elsewhere = Docs(main), Docs(main), Docs(second)
        repo.acl = _acl()
        for r in (repo, other, elsewhere):
            r.cache = cache
        await _rolled_back_reads_are_not_served(repo, other)
        await _commit_invalidates_reads_made_elsewhere_meanwhile(repo, elsewhere)


async def test_list_rows_is_scoped_and_uncached(sqlite_repos: tuple[Docs, Docs, Docs]) -> None:
    repo, _, _ = sqlite_repos
    cache = repo.cache
    assert isinstance(cache, MemoryCache)
    rows = await repo.list_rows(user_id="alice")
    assert sorted(r["id"] for r in rows) == [1, 2]
    await repo.list_rows(user_id="alice")
    assert (cache.hits, cache.misses, len(cache)) == (0, 0, 0)
    with pytest.raises(PermissionDenied):
        await repo.list_rows(user_id=None)
