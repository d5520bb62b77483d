"""Regressions of three SQL-layer bugs the reference differential found (now fixed): untyped
scalars stored as JSON in SQLite, ``{f: None}`` matching an array holding null on an untyped
field, and a pushed pipeline whose dropped ORDER BY left an unused parameter."""

from __future__ import annotations

from typing import Any

from xrepo.runtime import ConnectedRepo, RepoMetadata, SQLiteBackend, XObjPrototype


class City(XObjPrototype):
    name: str | None = None


class Doc(XObjPrototype):
    id: int
    x: float | None = None
    city: City | None = None
    extra: Any = None


class Docs(ConnectedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = create_model = update_model = Doc
    metadata = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


async def _repo(rows: list[dict[str, Any]]) -> tuple[Docs, SQLiteBackend]:
    backend = SQLiteBackend(":memory:")
    await backend.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, x REAL, city TEXT, extra)")
    repo = Docs(backend)
    await repo.bulk_create([{"id": i + 1, **r} for i, r in enumerate(rows)])
    return repo, backend


async def test_untyped_scalars_round_trip_with_their_types() -> None:
    values: list[Any] = ["1", False, "a", 2, 1.5, None, [None, "x"], {"k": "1"}]
    repo, backend = await _repo([{"extra": v} for v in values])
    try:
        got = [d.extra for d in await repo.list(sort=[("id", 1)])]
        assert got == values and [type(v) for v in got] == [type(v) for v in values]
        # Every stored value is JSON: json_extract works on each of them.
        assert await repo.count({"extra.k": None}) == len(values) - 1
        await repo.update(1, {"id": 1, "extra": "2"})
        assert (await repo.read(1)).extra == "2"  # type: ignore[union-attr]
        stored = await backend.execute("SELECT extra FROM docs WHERE id = 1")
        assert stored[0][0] == '"2"'
    finally:
        await backend.close()


async def test_null_test_on_untyped_field_matches_array_holding_null() -> None:
    repo, backend = await _repo(
        [{"extra": [None, 1]}, {"extra": [1]}, {}, {"extra": {"k": [None]}}, {"extra": "x"}]
    )
    try:
        assert [d.id for d in await repo.list({"extra": None})] == [1, 3]
        assert [d.id for d in await repo.list({"extra": {"$ne": None}})] == [2, 4, 5]
        assert [d.id for d in await repo.list({"extra.k": None})] == [1, 2, 3, 4, 5]
        assert [d.id for d in await repo.list({"extra.k": {"$ne": None}})] == []
    finally:
        await backend.close()


async def test_sort_on_nested_path_then_group_binds_no_stray_parameter() -> None:
    repo, backend = await _repo([{"x": 1.0}])
    try:
        for tail in ([{"$skip": 0}], [], [{"$skip": 0}, {"$skip": 0}]):
            for last in (
                {"$group": {"_id": None, "av": {"$avg": "$x"}}},
                {"$count": "n"},
                {"$sortByCount": "$x"},
            ):
                pipe = [{"$sort": {"city.name": 1, "id": 1}}, *tail, last]
                plan = repo.explain_aggregate(pipe)
                assert plan["memory_stages"] == [], pipe
                assert plan["params"] == [] or last.get("$sortByCount"), (pipe, plan)
                assert len(await repo.aggregate(pipe)) == 1
    finally:
        await backend.close()
