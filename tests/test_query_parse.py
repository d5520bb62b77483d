"""Parsing filter documents into the AST: shapes, coercion, and errors that name the culprit."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
from pydantic import Field

from xrepo.runtime import QueryError, XObjPrototype
from xrepo.runtime.query import (
    And,
    Compare,
    ElemMatch,
    Exists,
    In,
    MatchAll,
    Not,
    Or,
    Regex,
    build_query,
    parse_filter,
    parse_sort,
)


class Address(XObjPrototype):
    city: str | None = None
    zip_code: str | None = Field(default=None, alias="ZIP")


class Order(XObjPrototype):
    order_id: int = Field(alias="OrderId")
    placed: datetime.date
    total: decimal.Decimal
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    address: Address | None = None
    meta: dict[str, Any] | None = None


def test_empty_and_none_match_all() -> None:
    assert parse_filter(Order, None) == MatchAll()
    assert parse_filter(Order, {}) == MatchAll()


def test_python_names_map_to_source_names() -> None:
    node = parse_filter(Order, {"order_id": 5})
    assert isinstance(node, Compare)
    assert node.field.path == ("OrderId",) and node.field.name == "order_id"
    assert node.op == "eq" and node.value == 5


def test_dotted_path_into_nested_model_uses_aliases() -> None:
    node = parse_filter(Order, {"address.zip_code": "123"})
    assert isinstance(node, Compare) and node.field.path == ("address", "ZIP")


def test_values_are_coerced_to_the_field_type() -> None:
    node = parse_filter(Order, {"placed": {"$gte": "2024-01-01"}})
    assert isinstance(node, Compare) and node.value == datetime.date(2024, 1, 1)
    node = parse_filter(Order, {"total": {"$lt": 10}})
    assert isinstance(node, Compare) and node.value == decimal.Decimal(10)
    node = parse_filter(Order, {"total": "1.50"})
    assert isinstance(node, Compare) and node.value == decimal.Decimal("1.50")


def test_suffix_form() -> None:
    node = parse_filter(Order, {"placed__gte": "2024-01-01", "order_id__in": [1, 2]})
    assert isinstance(node, And)
    first, second = node.items
    assert isinstance(first, Compare) and first.op == "gte"
    assert isinstance(second, In) and second.values == (1, 2) and not second.negate
    nested = parse_filter(Order, {"address.city__exists": True})
    assert isinstance(nested, Exists) and nested.field.path == ("address", "city")


def test_logical_operators_and_not() -> None:
    node = parse_filter(
        Order, {"$or": [{"order_id": 1}, {"note": {"$not": {"$regex": "^x"}}}], "tags": "a"}
    )
    assert isinstance(node, And)
    assert isinstance(node.items[0], Or)
    inner = node.items[0].items[1]
    assert isinstance(inner, Not) and isinstance(inner.where, Regex)


def test_elem_match_on_scalars_uses_element_path() -> None:
    node = parse_filter(Order, {"tags": {"$elemMatch": {"$regex": "a"}}})
    assert isinstance(node, ElemMatch) and isinstance(node.where, Regex)
    assert node.where.field.path == ()


def test_untyped_fields_accept_any_subpath() -> None:
    node = parse_filter(Order, {"meta.a.b": 3})
    assert isinstance(node, Compare) and node.field.path == ("meta", "a", "b")
    assert node.field.kind == "any"


@pytest.mark.parametrize(
    ("filters", "needle"),
    [
        ({"nope": 1}, "'nope'"),
        ({"address.nope": 1}, "'nope'"),
        ({"order_id": {"$gtx": 1}}, "'$gtx'"),
        ({"$where": "1"}, "'$where'"),
        ({"order_id": "5"}, "'order_id'"),
        ({"order_id": "5"}, "'5'"),
        ({"order_id": True}, "'order_id'"),
        ({"placed": "not a date"}, "'placed'"),
        ({"order_id": {"$gt": None}}, "null"),
        ({"order_id": {"$in": 3}}, "$in takes a list"),
        ({"order_id": {"$exists": 1}}, "$exists"),
        ({"order_id": {"$regex": "a"}}, "needs a string field"),
        ({"note": {"$regex": "(a+)+"}}, "nested quantifiers"),
        ({"note": {"$regex": "a", "$options": "q"}}, "$options"),
        ({"note": {"$options": "i"}}, "$options needs $regex"),
        ({"order_id": {"$size": 1}}, "needs an array"),
        ({"tags": {"$size": -1}}, "$size"),
        ({"$or": []}, "$or"),
        ({"order_id": {"$eq": 1, "x": 2}}, "mix"),
    ],
)
def test_errors_name_field_and_problem(filters: dict[str, Any], needle: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse_filter(Order, filters)
    assert needle in str(exc.value)


def test_sort_validation_and_tiebreak() -> None:
    keys = parse_sort(Order, [("placed", -1)], tiebreak=("order_id",))
    assert [(k.field.path, k.direction) for k in keys] == [(("placed",), -1), (("OrderId",), 1)]
    with pytest.raises(QueryError, match="direction"):
        parse_sort(Order, [("placed", 2)])
    with pytest.raises(QueryError, match="'bogus'"):
        parse_sort(Order, [("bogus", 1)])
    with pytest.raises(QueryError, match="array"):
        parse_sort(Order, [("tags", 1)])


def test_paging_validation() -> None:
    q = build_query(Order, {"order_id": 1}, skip=2, limit=3)
    assert (q.skip, q.limit) == (2, 3)
    with pytest.raises(QueryError, match="skip"):
        build_query(Order, None, skip=-1)
    with pytest.raises(QueryError, match="limit"):
        build_query(Order, None, limit=-5)


def test_ast_is_immutable() -> None:
    node = parse_filter(Order, {"order_id": 1})
    with pytest.raises(AttributeError):
        node.value = 2  # type: ignore[misc]
