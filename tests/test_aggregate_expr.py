"""Aggregation expression operators, truthiness and MongoDB's cross-type order."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest

from xrepo.runtime import QueryError
from xrepo.runtime.aggregate.expr import OPERATORS, Scope, compile_expr
from xrepo.runtime.aggregate.order import null_key, order_key, truthy
from xrepo.runtime.query.values import MISSING

DOC = {
    "a": 6,
    "b": 4,
    "f": 2.5,
    "d": decimal.Decimal("1.50"),
    "s": "Hello",
    "n": None,
    "arr": [3, 1, 2],
    "items": [{"sku": "x", "q": 1}, {"sku": "y", "q": 2}, {"q": 3}],
    "when": datetime.datetime(2024, 1, 1, 12, 0),
    "o": {"p": {"q": 7}},
}


def ev(spec: Any, doc: dict[str, Any] | None = None, known: frozenset[str] | None = None) -> Any:
    return compile_expr(spec, Scope("test", known))(DOC if doc is None else doc)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"$add": ["$a", "$b", 1]}, 11),
        ({"$add": ["$a", "$f"]}, 8.5),
        ({"$add": ["$a", "$n"]}, None),
        ({"$add": ["$a", "$missing"]}, None),
        ({"$add": ["$d", 1]}, decimal.Decimal("2.50")),
        ({"$add": ["$d", 0.5]}, decimal.Decimal("2.00")),
        ({"$add": ["$when", 1000]}, datetime.datetime(2024, 1, 1, 12, 0, 1)),
        ({"$subtract": ["$a", "$b"]}, 2),
        ({"$subtract": ["$when", datetime.datetime(2024, 1, 1)]}, 12 * 3600 * 1000),
        ({"$multiply": ["$a", "$b", 0.5]}, 12.0),
        ({"$divide": ["$a", "$b"]}, 1.5),
        ({"$divide": ["$a", 3]}, 2.0),
        ({"$mod": ["$a", "$b"]}, 2),
        ({"$mod": [-7, 3]}, -1),
        ({"$concat": ["$s", " ", "world"]}, "Hello world"),
        ({"$concat": ["$s", "$n"]}, None),
        ({"$toLower": "$s"}, "hello"),
        ({"$toUpper": ["$s"]}, "HELLO"),
        ({"$toUpper": "$missing"}, ""),
        ({"$cond": [{"$gt": ["$a", 5]}, "big", "small"]}, "big"),
        ({"$cond": {"if": "$n", "then": 1, "else": 2}}, 2),
        ({"$ifNull": ["$n", "$missing", "dflt"]}, "dflt"),
        ({"$ifNull": ["$a", "dflt"]}, 6),
        ({"$eq": ["$a", 6.0]}, True),
        ({"$eq": ["$missing", None]}, False),
        ({"$eq": ["$n", None]}, True),
        ({"$ne": [1, True]}, True),
        ({"$gt": ["$s", 100]}, True),  # strings sort after numbers
        ({"$lt": ["$n", 0]}, True),  # null before numbers
        ({"$gte": [[1, 2], {"x": 1}]}, True),  # arrays after objects
        ({"$lte": [True, datetime.datetime(2000, 1, 1)]}, True),  # bool before dates
        ({"$and": [1, "$s", {"$gt": ["$a", 1]}]}, True),
        ({"$and": [1, 0]}, False),
        ({"$or": ["$n", "$missing", 0]}, False),
        ({"$or": [[], False]}, True),  # an empty array is true
        ({"$not": ["$n"]}, True),
        ({"$in": ["$b", "$arr"]}, False),
        ({"$in": [2.0, "$arr"]}, True),
        ({"$size": "$arr"}, 3),
        ({"$arrayElemAt": ["$arr", -1]}, 2),
        ({"$arrayElemAt": ["$arr", 0]}, 3),
        ({"$first": "$arr"}, 3),
        ({"$last": "$arr"}, 2),
        ({"$first": "$n"}, None),
        ({"$literal": "$a"}, "$a"),
        ({"$literal": {"$add": 1}}, {"$add": 1}),
        ("$items.sku", ["x", "y"]),
        ("$o.p.q", 7),
        ("$$ROOT.o.p.q", 7),
        ("$$CURRENT.a", 6),
        ({"x": "$a", "y": "$missing", "z": {"$add": ["$a", 1]}}, {"x": 6, "z": 7}),
        (["$a", "$missing"], [6, None]),
        ("plain string", "plain string"),
    ],
)
def test_operators(spec: Any, expected: Any) -> None:
    got = ev(spec)
    assert got == expected
    assert type(got) is type(expected)


def test_missing_values() -> None:
    assert ev("$missing") is MISSING
    assert ev({"$arrayElemAt": ["$arr", 5]}) is MISSING
    assert ev({"$first": [[]]}) is MISSING
    assert ev("$$ROOT") is DOC


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"$median": "$a"}, "unsupported expression operator '$median'"),
        ({"$add": 1, "$sub": 2}, "exactly one operator"),
        ({"$subtract": [1]}, "$subtract takes 2 argument(s), got 1"),
        ("$$NOW", "unsupported variable '$$NOW'"),
        ("$a..b", "invalid field path"),
        ({"$cond": {"if": 1, "then": 2}}, "$cond takes {if, then, else}"),
    ],
)
def test_compile_errors(spec: Any, message: str) -> None:
    with pytest.raises(QueryError, match=r"^test: ") as info:
        compile_expr(spec, Scope("test"))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"$add": ["$a", "$s"]}, "$add needs numbers, got 'Hello'"),
        ({"$divide": ["$a", 0]}, "$divide by zero"),
        ({"$mod": ["$a", 0]}, "$mod by zero"),
        ({"$concat": ["$s", 1]}, "$concat needs strings"),
        ({"$size": "$s"}, "$size needs an array, got 'Hello'"),
        ({"$size": "$missing"}, "$size needs an array, got missing"),
        ({"$in": [1, "$a"]}, "$in needs an array"),
        ({"$arrayElemAt": ["$arr", 0.5]}, "integer index"),
    ],
)
def test_runtime_errors(spec: Any, message: str) -> None:
    with pytest.raises(QueryError) as info:
        ev(spec)
    assert message in str(info.value)


def test_unknown_field_is_named_when_the_shape_is_known() -> None:
    with pytest.raises(
        QueryError, match="unknown field 'qty' in '\\$qty' \\(known fields: a, b\\)"
    ):
        compile_expr({"$add": ["$a", "$qty"]}, Scope("test", frozenset({"a", "b"})))
    assert ev("$a", known=frozenset({"a"})) == 6


def test_every_documented_operator_is_registered() -> None:
    wanted = "$add $subtract $multiply $divide $mod $concat $toLower $toUpper $cond $ifNull "
    wanted += "$eq $ne $gt $gte $lt $lte $and $or $not $in $size $arrayElemAt $first $last $literal"
    assert set(wanted.split()) <= set(OPERATORS)


def test_cross_type_order() -> None:
    values = [
        datetime.date(2024, 1, 2),
        True,
        [1],
        {"a": 1},
        "a",
        decimal.Decimal("2.5"),
        1,
        None,
        MISSING,
        datetime.datetime(2024, 1, 1, 23, 0, tzinfo=datetime.UTC),
        b"x",
    ]
    ordered = sorted(values, key=order_key)
    assert ordered == [
        MISSING, None, 1, decimal.Decimal("2.5"), "a", {"a": 1}, [1], b"x", True,
        datetime.datetime(2024, 1, 1, 23, 0, tzinfo=datetime.UTC), datetime.date(2024, 1, 2),
    ]  # fmt: skip
    assert null_key(MISSING) == null_key(None)
    assert order_key(1) == order_key(1.0) == order_key(decimal.Decimal("1"))
    assert order_key(True) != order_key(1)
    assert order_key({"a": 1, "b": 2}) != order_key({"b": 2, "a": 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (MISSING, False), (False, False), (0, False), (0.0, False),
     (decimal.Decimal(0), False), ("", True), ([], True), ({}, True), (1, True), (True, True)],
)  # fmt: skip
def test_truthiness(value: Any, expected: bool) -> None:
    assert truthy(value) is expected
