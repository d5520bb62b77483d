"""ACL: permissions, row rules and column rules in every repo method, on memory, SQLite and
PostgreSQL (the rules live in the repo layer, merged into the AST every backend compiles)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pg import run_sql

from xrepo.runtime import (
    ACL,
    ACLRule,
    ConfigurationError,
    ConnectedRepo,
    MaterializedRepo,
    Permission,
    PermissionDenied,
    PostgresBackend,
    QueryError,
    RepoMetadata,
    SQLiteBackend,
    XObjPrototype,
)

P = Permission


class Doc(XObjPrototype):
    id: int
    owner: str
    title: str
    salary: int | None = None
    status: str = "draft"


class DocUpdate(XObjPrototype):
    owner: str | None = None
    title: str | None = None
    salary: int | None = None
    status: str | None = None


META = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


class MemDocs(MaterializedRepo[Doc, Doc, DocUpdate, dict[str, Any], str]):
    model = Doc
    create_model = Doc
    update_model = DocUpdate
    metadata = META


class SqlDocs(ConnectedRepo[Doc, Doc, DocUpdate, dict[str, Any], str]):
    model = Doc
    create_model = Doc
    update_model = DocUpdate
    metadata = META


RULES: list[dict[str, Any]] = [
    {
        "role": "owner",
        "permissions": ["create", "read", "update", "delete", "list"],
        "conditions": {"row": {"owner": "$user_id"}, "hidden": ["salary"], "read_only": ["status"]},
    },
    {"role": "reader", "permissions": ["read"]},
    {"role": "root", "permissions": ["admin"]},
]
ROLES = {"alice": ["owner"], "bob": ["owner"], "root": ["root"], "rita": ["reader"]}
ROWS = [
    {"id": 1, "owner": "alice", "title": "a1", "salary": 100, "status": "draft"},
    {"id": 2, "owner": "alice", "title": "a2", "salary": 200, "status": "final"},
    {"id": 3, "owner": "bob", "title": "b1", "salary": 900, "status": "draft"},
    {"id": 4, "owner": "carol", "title": "c1", "salary": 500, "status": "draft"},
]
DDL = (
    "CREATE TABLE docs (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, "
    "salary INTEGER, status TEXT NOT NULL)"
)


def _acl() -> ACL:
    return ACL(RULES, lambda user: ROLES.get(user, []))


@pytest.fixture(params=["memory", "sqlite"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        mem = MemDocs(ROWS)
        mem.acl = _acl()
        yield mem
        return
    path = tmp_path / "docs.db"
    with sqlite3.connect(path) as db:
        db.execute(DDL)
    async with SQLiteBackend(path) as backend:
        sql = SqlDocs(backend)
        await sql.bulk_create(ROWS)  # before the ACL is attached
        sql.acl = _acl()
        yield sql


# -- denial ------------------------------------------------------------------------------------
CALLS: dict[str, Any] = {
    "create": lambda r, u: r.create({"id": 9, "owner": "x", "title": "t"}, user_id=u),
    "bulk_create": lambda r, u: r.bulk_create([{"id": 9, "owner": "x", "title": "t"}], user_id=u),
    "read": lambda r, u: r.read(1, user_id=u),
    "update": lambda r, u: r.update(1, {"title": "z"}, user_id=u),
    "bulk_update": lambda r, u: r.bulk_update({}, {"title": "z"}, user_id=u),
    "delete": lambda r, u: r.delete(1, user_id=u),
    "bulk_delete": lambda r, u: r.bulk_delete({}, user_id=u),
    "list": lambda r, u: r.list(user_id=u),
    "list_rows": lambda r, u: r.list_rows(user_id=u),
    "page": lambda r, u: r.page(limit=2, user_id=u),
    "find_one": lambda r, u: r.find_one({}, user_id=u),
    "count": lambda r, u: r.count(user_id=u),
    "exists": lambda r, u: r.exists(user_id=u),
    "distinct": lambda r, u: r.distinct("title", user_id=u),
    "aggregate": lambda r, u: r.aggregate([{"$count": "n"}], user_id=u),
}


@pytest.mark.parametrize("op", sorted(CALLS))
async def test_every_method_denies_naming_op_and_principal(repo: Any, op: str) -> None:
    with pytest.raises(PermissionDenied) as err:
        await CALLS[op](repo, "nobody")  # a principal with no roles
    assert err.value.operation == op and err.value.principal == "'nobody'"
    assert op in str(err.value) and "nobody" in str(err.value)
    with pytest.raises(PermissionDenied) as anon:
        await CALLS[op](repo, None)
    assert anon.value.principal == "anonymous" and "anonymous" in str(anon.value)
    assert await repo.count(user_id="root") == 4  # nothing was changed by the denials


async def test_role_grants_only_its_permissions(repo: Any) -> None:
    assert (await repo.read(4, user_id="rita")).salary == 500  # no column rules for readers
    for op in ("list", "count", "create", "update", "delete"):
        with pytest.raises(PermissionDenied, match=op):
            await CALLS[op](repo, "rita")


async def test_admin_grants_everything(repo: Any) -> None:
    assert len(await repo.list(user_id="root")) == 4
    assert (await repo.read(4, user_id="root")).salary == 500
    assert await repo.update(4, {"status": "x"}, user_id="root") is not None
    assert sorted(await repo.distinct("salary", user_id="root")) == [100, 200, 500, 900]


# -- row scope ---------------------------------------------------------------------------------
async def test_row_scope_in_every_read(repo: Any) -> None:
    assert [d.id for d in await repo.list(user_id="alice")] == [1, 2]
    assert [d.id for d in await repo.list({"title": "b1"}, user_id="alice")] == []
    assert await repo.count(user_id="alice") == 2 and await repo.count(user_id="bob") == 1
    assert await repo.exists({"id": 3}, user_id="alice") is False
    assert await repo.exists({"id": 1}, user_id="alice") is True
    assert await repo.find_one({"id": 4}, user_id="alice") is None
    assert await repo.read(3, user_id="alice") is None  # out of scope reads as absent
    assert (await repo.read(1, user_id="alice")).title == "a1"
    assert sorted(await repo.distinct("owner", user_id="alice")) == ["alice"]
    assert sorted(await repo.distinct("title", user_id="bob")) == ["b1"]
    rows = await repo.list_rows(user_id="alice")
    assert [r["id"] for r in rows] == [1, 2] and all("salary" not in r for r in rows)
    first = await repo.page(limit=1, sort=[("id", 1)], user_id="alice")
    assert [d.id for d in first.items] == [1] and first.next_cursor is not None
    second = await repo.page(limit=1, sort=[("id", 1)], after=first.next_cursor, user_id="alice")
    assert [d.id for d in second.items] == [2] and second.next_cursor is None
    after = await repo.list(sort=[("id", 1)], after=first.next_cursor, user_id="alice")
    assert [d.id for d in after] == [2]


async def test_aggregate_row_scope_and_group(repo: Any) -> None:
    out = await repo.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}], user_id="alice")
    assert out == [{"_id": None, "n": 2}]  # $group cannot count out-of-scope rows
    out = await repo.aggregate(
        [{"$match": {"owner": {"$ne": "alice"}}}, {"$count": "n"}], user_id="alice"
    )
    assert out == []
    assert await repo.aggregate([{"$count": "n"}], user_id="root") == [{"n": 4}]


async def test_aggregate_cannot_reveal_hidden_fields(repo: Any) -> None:
    root = await repo.aggregate([{"$project": {"all": "$$ROOT"}}], user_id="alice")
    assert len(root) == 2 and all("salary" not in r["all"] for r in root)
    # after the leading $unset the field does not exist: naming it is a compile-time error
    for stage in (
        {"$project": {"s": "$salary"}},
        {"$group": {"_id": None, "t": {"$sum": "$salary"}}},
        {"$match": {"salary": {"$gt": 150}}},
    ):
        with pytest.raises(QueryError, match="salary"):
            await repo.aggregate([stage], user_id="alice")
    with pytest.raises(PermissionDenied, match=r"aggregate.*\$lookup"):
        await repo.aggregate(
            [{"$lookup": {"from": "docs", "localField": "id", "foreignField": "id", "as": "x"}}],
            user_id="alice",
        )


async def test_writes_only_touch_rows_in_scope(repo: Any) -> None:
    assert await repo.update(3, {"title": "hacked"}, user_id="alice") is None
    assert await repo.delete(3, user_id="alice") is False
    assert await repo.bulk_update({}, {"title": "mine"}, user_id="alice") == 2
    assert await repo.bulk_delete({"title": "mine", "id": 2}, user_id="bob") == 0
    assert (await repo.read(3, user_id="root")).title == "b1"
    assert await repo.bulk_delete({}, user_id="bob") == 1
    assert await repo.count(user_id="root") == 3
    made = await repo.create({"id": 7, "owner": "alice", "title": "n"}, user_id="alice")
    assert made.id == 7 and made.salary is None
    with pytest.raises(PermissionDenied, match="outside the principal's row scope"):
        await repo.create({"id": 8, "owner": "bob", "title": "n"}, user_id="alice")
    with pytest.raises(PermissionDenied, match="bulk_create"):
        await repo.bulk_create(
            [{"id": 8, "owner": "alice", "title": "n"}, {"id": 9, "owner": "x", "title": "n"}],
            user_id="alice",
        )
    assert await repo.count(user_id="root") == 4  # the refused batch wrote nothing
    with pytest.raises(PermissionDenied, match="row-rule field"):  # cannot give rows away
        await repo.update(1, {"owner": "bob"}, user_id="alice")
    with pytest.raises(PermissionDenied, match="row-rule field"):
        await repo.bulk_update({}, {"owner": "bob"}, user_id="alice")


# -- column rules ------------------------------------------------------------------------------
async def test_hidden_fields_absent_from_results(repo: Any) -> None:
    got = await repo.read(1, user_id="alice")
    assert got.salary is None and "salary" not in got.model_dump(exclude_unset=True)
    assert all(d.salary is None for d in await repo.list(user_id="alice"))
    assert (await repo.find_one({"id": 2}, user_id="alice")).salary is None
    page = await repo.page(limit=5, user_id="alice")
    assert [d.salary for d in page.items] == [None, None]
    updated = await repo.update(1, {"title": "t"}, user_id="alice")
    assert updated.salary is None and updated.title == "t"
    assert (await repo.read(1, user_id="root")).salary == 100  # hidden, not erased


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.list({"salary": {"$gt": 150}}, user_id="alice"),
        lambda r: r.count({"salary": 100}, user_id="alice"),
        lambda r: r.exists({"salary": 100}, user_id="alice"),
        lambda r: r.list(sort=[("salary", 1)], user_id="alice"),
        lambda r: r.distinct("salary", user_id="alice"),
        lambda r: r.bulk_update({"salary": 100}, {"title": "x"}, user_id="alice"),
        lambda r: r.bulk_delete({"$or": [{"salary": 100}, {"id": 1}]}, user_id="alice"),
    ],
)
async def test_hidden_fields_cannot_be_probed(repo: Any, call: Any) -> None:
    with pytest.raises(PermissionDenied, match="hidden"):
        await call(repo)


async def test_read_only_and_hidden_fields_rejected_on_writes(repo: Any) -> None:
    with pytest.raises(PermissionDenied, match=r"update.*status"):
        await repo.update(1, {"status": "final"}, user_id="alice")
    with pytest.raises(PermissionDenied, match=r"bulk_update.*status"):
        await repo.bulk_update({}, {"status": "final"}, user_id="alice")
    with pytest.raises(PermissionDenied, match=r"create.*status"):
        await repo.create({"id": 8, "owner": "alice", "title": "n", "status": "x"}, user_id="alice")
    with pytest.raises(PermissionDenied, match=r"update.*salary"):
        await repo.update(1, {"salary": 1}, user_id="alice")
    assert (await repo.read(1, user_id="alice")).status == "draft"  # read_only is readable
    assert (await repo.read(1, user_id="root")).salary == 100


async def test_role_changes_and_new_rules_apply_on_the_next_call() -> None:
    # Scopes are remembered per (operation, principal, roles): the resolver still decides
    # every call, and reassigned rules are never answered from the old ones.
    roles = {"alice": ["owner"]}
    repo = MemDocs(ROWS)
    repo.acl = ACL(RULES, lambda user: roles.get(user, []))
    assert {d.id for d in await repo.list(user_id="alice")} == {1, 2}
    roles["alice"] = ["root"]
    assert {d.id for d in await repo.list(user_id="alice")} == {1, 2, 3, 4}
    roles["alice"] = []
    with pytest.raises(PermissionDenied):
        await repo.list(user_id="alice")
    roles["alice"] = ["owner"]
    assert {d.id for d in await repo.list(user_id="alice")} == {1, 2}
    repo.acl.rules = (ACLRule.model_validate({**RULES[0], "conditions": {}}),)
    assert {d.id for d in await repo.list(user_id="alice")} == {1, 2, 3, 4}


def test_configuration_errors() -> None:
    class Strict(XObjPrototype):
        id: int
        secret: str

    class StrictRepo(MaterializedRepo[Strict, Strict, Strict, dict[str, Any], str]):
        model = Strict
        create_model = Strict
        update_model = Strict
        metadata = RepoMetadata(
            name="strict",
            collection="strict",
            primary_key=("id",),
            acl_rules=({"role": "r", "permissions": ["read"]},),
        )

    repo = StrictRepo([{"id": 1, "secret": "s"}])
    import asyncio

    with pytest.raises(ConfigurationError, match="no role resolver"):
        asyncio.run(repo.read(1, user_id="u"))
    repo.acl = ACL(
        [{"role": "r", "permissions": ["read"], "conditions": {"hidden": ["secret"]}}],
        lambda u: ["r"],
    )
    with pytest.raises(ConfigurationError, match="must accept None"):
        asyncio.run(repo.read(1, user_id="u"))
    repo.acl = ACL.from_metadata(repo.metadata, lambda u: ["r"])
    assert asyncio.run(repo.read(1, user_id="u")) is not None
    assert P.ADMIN.value == "admin"


# -- PostgreSQL --------------------------------------------------------------------------------
async def test_postgres_enforces_the_same_rules(pg_dsn: str) -> None:
    run_sql(pg_dsn, DDL)
    async with PostgresBackend(pg_dsn, min_size=1, max_size=2) as backend:
        repo = SqlDocs(backend)
        await repo.bulk_create(ROWS)
        repo.acl = _acl()
        assert [d.id for d in await repo.list(user_id="alice")] == [1, 2]
        assert all(d.salary is None for d in await repo.list(user_id="alice"))
        assert await repo.count(user_id="bob") == 1
        assert await repo.read(3, user_id="alice") is None
        out = await repo.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}], user_id="alice")
        assert out == [{"_id": None, "n": 2}]
        assert await repo.bulk_update({}, {"title": "m"}, user_id="alice") == 2
        assert await repo.delete(4, user_id="bob") is False
        with pytest.raises(PermissionDenied, match="anonymous"):
            await repo.list()
        assert await repo.count(user_id="root") == 4
