"""The compiled Python predicate: MongoDB semantics for nulls, arrays, negations and regexes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field

from xrepo.runtime import QueryError, XObjPrototype
from xrepo.runtime.query import compile_predicate, parse_filter


class Item(XObjPrototype):
    sku: str
    qty: int


class Address(XObjPrototype):
    city: str | None = None


class Doc(XObjPrototype):
    id: int
    name: str | None = None
    age: int | None = None
    tags: list[str] | None = None
    scores: list[int] = Field(default_factory=list)
    address: Address | None = None
    items: list[Item] = Field(default_factory=list)
    meta: dict[str, Any] | None = None


ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "ann", "age": 30, "tags": ["a", "b"], "scores": [80, 95],
     "address": {"city": "Oslo"}, "items": [{"sku": "x", "qty": 1}], "meta": {"k": 1}},
    {"id": 2, "name": None, "age": None, "tags": [], "scores": [],
     "address": {"city": None}, "items": [], "meta": {"k": "1"}},
    {"id": 3, "tags": None, "address": None,
     "items": [{"sku": "y", "qty": 5}, {"sku": "x", "qty": 9}]},
    {"id": 4, "name": "Bob", "age": 41, "tags": ["b", None], "scores": [50],
     "meta": {"k": [1, 2]}},
]  # fmt: skip


def ids(filters: dict[str, Any]) -> list[int]:
    pred = compile_predicate(parse_filter(Doc, filters))
    return [r["id"] for r in ROWS if pred(r)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [1, 2, 3, 4]),
        ({"name": None}, [2, 3]),  # null and missing
        ({"name": {"$ne": None}}, [1, 4]),
        ({"age": {"$ne": 30}}, [2, 3, 4]),  # $ne matches null and missing
        ({"age": {"$gt": 29}}, [1, 4]),  # null never compares
        ({"age": {"$lte": 30}}, [1]),
        ({"age": {"$in": [30, None]}}, [1, 2, 3]),
        ({"age": {"$nin": [30, None]}}, [4]),
        ({"name": {"$exists": False}}, [3]),
        ({"name": {"$exists": True}}, [1, 2, 4]),
        ({"tags": "b"}, [1, 4]),  # array membership
        ({"tags": None}, [3, 4]),  # null field, or array holding null
        ({"tags": {"$ne": "b"}}, [2, 3]),
        ({"tags": {"$nin": ["a", "b"]}}, [2, 3]),
        ({"tags": ["a", "b"]}, [1]),  # whole-array equality
        ({"tags": {"$all": ["a", "b"]}}, [1]),
        ({"tags": {"$all": []}}, []),
        ({"tags": {"$size": 0}}, [2]),
        ({"scores": {"$gt": 90}}, [1]),
        ({"scores": {"$elemMatch": {"$gte": 80, "$lt": 90}}}, [1]),
        ({"items.sku": "x"}, [1, 3]),  # path through an array of objects
        ({"items": {"$elemMatch": {"sku": "x", "qty": {"$gt": 5}}}}, [3]),
        ({"items.qty": {"$gt": 5}}, [3]),
        ({"address.city": None}, [2, 3, 4]),
        ({"address.city": {"$exists": True}}, [1, 2]),
        ({"address.city": "Oslo"}, [1]),
        ({"name": {"$regex": "^b", "$options": "i"}}, [4]),
        ({"name": {"$regex": "^b"}}, []),
        ({"name": {"$not": {"$regex": "^a"}}}, [2, 3, 4]),
        ({"tags": {"$regex": "^a$"}}, [1]),
        ({"age": {"$not": {"$gt": 35}}}, [1, 2, 3]),
        ({"$nor": [{"age": 30}, {"name": None}]}, [4]),
        ({"$or": [{"age": 30}, {"id": 3}]}, [1, 3]),
        ({"$and": [{"age": {"$gte": 30}}, {"age": {"$lt": 40}}]}, [1]),
        ({"meta.k": 1}, [1, 4]),  # untyped: no 1 == "1", array membership applies
        ({"meta.k": "1"}, [2]),
        ({"meta.k": {"$gt": 0}}, [1, 4]),  # mismatched types never match, never raise
        ({"meta.k": {"$lt": "2"}}, [2]),
        ({"meta.k": True}, []),  # True is not 1
    ],
)
def test_semantics(filters: dict[str, Any], expected: list[int]) -> None:
    assert ids(filters) == expected


def test_regex_guard_rejects_catastrophic_patterns() -> None:
    for pattern in ["(a+)+$", "(a|aa)*b", r"(\w+\s?)*$", r"(x)\1"]:
        with pytest.raises(QueryError):
            parse_filter(Doc, {"name": {"$regex": pattern}})
    with pytest.raises(QueryError, match="longer than"):
        parse_filter(Doc, {"name": {"$regex": "a" * 5000}})


def test_predicate_is_compiled_not_interpreted() -> None:
    pred = compile_predicate(parse_filter(Doc, {"age": {"$gt": 1}, "name": "ann"}))
    assert callable(pred)
    assert pred({"id": 9, "age": 2, "name": "ann"})
    assert not pred({"id": 9, "age": "2", "name": "ann"})


def test_all_on_a_scalar_field_is_equality() -> None:
    # MongoDB: {f: {$all: [x]}} is {f: x}; an untyped scalar False matches $all [False]
    from pydantic import BaseModel as _BM

    class Doc(_BM):
        extra: Any = None

    pred = compile_predicate(parse_filter(Doc, {"extra": {"$all": [False]}}))
    assert pred({"extra": False})
    assert not pred({"extra": 0}) and not pred({"extra": True})
    assert pred({"extra": [True, False]})
    assert not compile_predicate(parse_filter(Doc, {"extra": {"$all": []}}))({"extra": []})
