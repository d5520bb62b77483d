"""Join semantics of views: SQL's, checked against a nested-loop reference and by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrepo.runtime import (
    ConfigurationError,
    JoinSizeError,
    XRepoFactory,
)
from xrepo.runtime.views import (
    JOIN_TYPES,
    JoinType,
    hash_join,
    key_fn,
    reference_join,
)


def _combine(lrow: Mapping[str, Any] | None, rrow: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"l": None if lrow is None else lrow["i"], "r": None if rrow is None else rrow["i"]}


def _rows(keys: list[Any], field: str = "k") -> list[dict[str, Any]]:
    return [{"i": i, field: k} for i, k in enumerate(keys)]


KEYS = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["a", "b"]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(KEYS, max_size=8),
    st.lists(KEYS, max_size=8),
    st.sampled_from(JOIN_TYPES),
)
def test_hash_join_matches_nested_loop_reference(
    left: list[Any], right: list[Any], how: JoinType
) -> None:
    lrows, rrows = _rows(left), _rows(right, "fk")
    got = hash_join(lrows, rrows, key_fn(["k"]), key_fn(["fk"]), how, _combine)
    want = reference_join(lrows, rrows, key_fn(["k"]), key_fn(["fk"]), how, _combine)
    assert got == want  # same rows, same order, whichever side was built


def test_null_keys_never_match_and_duplicates_multiply() -> None:
    left = _rows([1, 1, None, 2])
    right = _rows([1, 1, None, 3], "fk")
    pairs = lambda how: [  # noqa: E731
        (r["l"], r["r"])
        for r in hash_join(left, right, key_fn(["k"]), key_fn(["fk"]), how, _combine)
    ]
    assert pairs("inner") == [(0, 0), (0, 1), (1, 0), (1, 1)]  # 2 x 2 for key 1; NULL ≠ NULL
    assert pairs("left") == [(0, 0), (0, 1), (1, 0), (1, 1), (2, None), (3, None)]
    assert pairs("right") == [(0, 0), (0, 1), (1, 0), (1, 1), (None, 2), (None, 3)]
    assert pairs("full") == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, None), (3, None), (None, 2), (None, 3),
    ]  # fmt: skip


def test_composite_keys_need_every_component() -> None:
    left = [{"i": 0, "a": 1, "b": "x"}, {"i": 1, "a": 1, "b": None}, {"i": 2, "a": 2, "b": "y"}]
    right = [{"i": 0, "c": 1, "d": "x"}, {"i": 1, "c": 1, "d": None}, {"i": 2, "c": 2, "d": "z"}]
    got = hash_join(left, right, key_fn(["a", "b"]), key_fn(["c", "d"]), "full", _combine)
    assert [(r["l"], r["r"]) for r in got] == [(0, 0), (1, None), (2, None), (None, 1), (None, 2)]


def test_max_rows_stops_a_cartesian_explosion() -> None:
    left, right = _rows([1] * 50), _rows([1] * 50, "fk")
    with pytest.raises(JoinSizeError, match="max_rows=100"):
        hash_join(left, right, key_fn(["k"]), key_fn(["fk"]), "inner", _combine, max_rows=100)
    assert len(hash_join(left, right, key_fn(["k"]), key_fn(["fk"]), "inner", _combine)) == 2500


def test_unknown_join_type() -> None:
    with pytest.raises(ConfigurationError, match="unknown join type 'outer'"):
        hash_join([], [], key_fn(["k"]), key_fn(["k"]), "outer", _combine)  # type: ignore[arg-type]


# -- views made by the factory ------------------------------------------------------------

USERS = [
    {"id": 1, "name": "ada", "team": "x", "region": "eu"},
    {"id": 2, "name": "bob", "team": "y", "region": "us"},
    {"id": 3, "name": "cy", "team": None, "region": "eu"},
    {"id": 4, "name": "di", "team": "x", "region": "us"},
]
ORDERS = [
    {"id": 10, "user_id": 1, "team": "x", "total": 5},
    {"id": 11, "user_id": 1, "team": "x", "total": 7},
    {"id": 12, "user_id": 2, "team": "y", "total": 9},
    {"id": 13, "user_id": None, "team": None, "total": 1},
    {"id": 14, "user_id": 9, "team": "z", "total": 2},
]


async def _sources(f: XRepoFactory) -> tuple[Any, Any]:
    users = await f.create(data=USERS, name="users")
    orders = await f.create(data=ORDERS, name="orders")
    return users, orders


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("inner", [(1, 10), (1, 11), (2, 12)]),
        ("left", [(1, 10), (1, 11), (2, 12), (3, None), (4, None)]),
        ("right", [(1, 10), (1, 11), (2, 12), (None, 13), (None, 14)]),
        ("full", [(1, 10), (1, 11), (2, 12), (3, None), (4, None), (None, 13), (None, 14)]),
    ],
)
async def test_view_join_types(how: str, expected: list[tuple[Any, Any]]) -> None:
    f = XRepoFactory()
    users, orders = await _sources(f)
    view = await f.create_view_from_resources(
        f"uo_{how}",
        {"users": users, "orders": orders},
        {"type": how, "on": {"users": "id", "orders": "user_id"}},
    )
    rows = await view.list()
    assert [(r.users_id, r.orders_id) for r in rows] == expected
    # colliding names are prefixed with their source; the others keep their names
    fields = [fl.name for fl in view.collection_spec.fields]
    assert fields == [
        "users_id", "name", "region", "users_team", "orders_id", "orders_team", "total", "user_id",
    ]  # fmt: skip
    assert view.collection_spec.kind == "view"
    nullable = {fl.name: fl.nullable for fl in view.collection_spec.fields}
    if how in ("left", "full"):
        assert nullable["total"]
    if how == "inner":
        assert not nullable["total"] and not nullable["users_id"]


async def test_prefix_always_and_composite_keys() -> None:
    f = XRepoFactory()
    users, orders = await _sources(f)
    view = await f.create_view_from_resources(
        "uo",
        {"users": users, "orders": orders},
        {"on": {"users": ["id", "team"], "orders": ["user_id", "team"]}, "prefix": "always"},
    )
    rows = await view.list()
    # user 3 has team NULL: never matches; order 13 NULL too
    assert [(r.users_id, r.orders_id) for r in rows] == [(1, 10), (1, 11), (2, 12)]
    assert all(fl.name.startswith(("users_", "orders_")) for fl in view.collection_spec.fields)


async def test_per_source_filters_are_pushed_down() -> None:
    f = XRepoFactory()
    users, orders = await _sources(f)
    view = await f.create_view_from_resources(
        "eu_big",
        {"users": users, "orders": orders},
        {
            "type": "left",
            "on": [("id", "user_id")],
            "user_filters": {"region": "eu"},
        },
        order_filters={"total__gte": 6},
    )
    fresh = view.freshness
    # each source returned only its filtered rows — the filter ran at the source
    assert fresh.source_rows == {"users": 2, "orders": 2}
    assert [(r.users_id, r.orders_id) for r in await view.list()] == [(1, 11), (3, None)]
    with pytest.raises(ConfigurationError, match="names no source"):
        await f.create_view_from_resources(
            "bad", {"users": users, "orders": orders}, {"on": "id", "item_filters": {}}
        )
    with pytest.raises(Exception, match="unknown field 'nope'"):
        await f.create_view_from_resources(
            "bad", {"users": users, "orders": orders}, {"on": "id", "users_filters": {"nope": 1}}
        )


async def test_refresh_and_freshness() -> None:
    f = XRepoFactory()
    users, orders = await _sources(f)
    view = await f.create_view_from_resources(
        "uo", {"users": users, "orders": orders}, {"on": {"users": "id", "orders": "user_id"}}
    )
    first = view.freshness
    assert first.refresh_count == 1 and first.rows == 3 and not first.stale
    assert first.age is not None and first.age.total_seconds() >= 0
    await orders.create({"id": 15, "user_id": 4, "team": "x", "total": 3})
    assert await view.count() == 3  # materialized: unchanged until refreshed
    again = await view.refresh()
    assert again.refresh_count == 2 and again.rows == 4
    assert again.refreshed_at is not None and first.refreshed_at is not None
    assert again.refreshed_at >= first.refreshed_at
    assert await view.count({"user_id": 4}) == 1
    stale = await f.create_view_from_resources(
        "uo2",
        {"users": users, "orders": orders},
        {"on": {"users": "id", "orders": "user_id"}},
        stale_after=0.0,
    )
    assert stale.freshness.stale or stale.freshness.age_seconds == 0
    assert (await stale.ensure_fresh()).refresh_count >= 1


async def test_view_max_rows_bounds_sources_and_output() -> None:
    f = XRepoFactory()
    users, orders = await _sources(f)
    with pytest.raises(JoinSizeError, match="source 'orders'"):
        await f.create_view_from_resources(
            "uo", {"users": users, "orders": orders}, {"on": "id"}, max_rows=4
        )


async def test_three_sources_chain_on_coalesced_keys() -> None:
    f = XRepoFactory()
    a = await f.create(data=[{"k": 1, "a": "a1"}, {"k": 2, "a": "a2"}], name="a")
    b = await f.create(data=[{"k": 2, "b": "b2"}, {"k": 3, "b": "b3"}], name="b")
    c = await f.create(data=[{"k": 3, "c": "c3"}, {"k": 1, "c": "c1"}], name="c")
    view = await f.create_view_from_resources(
        "abc", {"a": a, "b": b, "c": c}, {"type": "full", "on": "k"}
    )
    got = Counter((r.a_k, r.b_k, r.c_k, r.a, r.b, r.c) for r in await view.list())
    assert got == Counter(
        [
            (1, None, 1, "a1", None, "c1"),
            (2, 2, None, "a2", "b2", None),
            (None, 3, 3, None, "b3", "c3"),
        ]
    )


async def test_bad_join_configs_name_the_problem() -> None:
    f = XRepoFactory()
    users, orders = await _sources(f)
    both = {"users": users, "orders": orders}
    with pytest.raises(ConfigurationError, match="needs 'on'"):
        await f.create_view_from_resources("v", both, {})
    with pytest.raises(ConfigurationError, match="join type 'outer'"):
        await f.create_view_from_resources("v", both, {"type": "outer", "on": "id"})
    with pytest.raises(ConfigurationError, match="missing \\['orders'\\]"):
        await f.create_view_from_resources("v", both, {"on": {"users": "id"}})
    with pytest.raises(ConfigurationError, match="same length"):
        await f.create_view_from_resources(
            "v", both, {"on": {"users": ["id", "team"], "orders": "user_id"}}
        )
    with pytest.raises(ConfigurationError, match="at least two"):
        await f.create_view_from_resources("v", {"users": users}, {"on": "id"})
