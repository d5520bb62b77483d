"""SQL compilation: bound parameters only, quoted identifiers, NULL semantics like the predicate."""

from __future__ import annotations

import decimal
import sqlite3
from typing import Any

import pytest
from pydantic import Field

from xrepo.runtime import UnsupportedQueryError, XObjPrototype
from xrepo.runtime.query import build_query, parse_filter
from xrepo.runtime.sql import Dialect, SQLiteDialect, count, select, update


class Weird(XObjPrototype):
    id: int
    weird: str | None = Field(default=None, alias='we"ird')
    price: decimal.Decimal | None = None
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] | None = None


D = SQLiteDialect()


def where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    return select(D, D.quote("t"), build_query(Weird, filters))


def test_identifiers_are_quoted_and_values_bound() -> None:
    sql, params = where({"weird": "x"})
    assert sql == 'SELECT * FROM "t" WHERE "we""ird" = ?'
    assert params == ["x"]


def test_ne_matches_null_like_mongodb() -> None:
    sql, params = where({"id": {"$ne": 5}})
    assert sql.endswith('WHERE ("id" IS NULL OR "id" <> ?)') and params == [5]
    assert where({"weird": None})[0].endswith('"we""ird" IS NULL')


def test_in_with_null_and_nin_negation() -> None:
    sql, params = where({"id": {"$in": [1, None, 2]}})
    assert sql.endswith('WHERE ("id" IS NULL OR "id" IN (?, ?))') and params == [1, 2]
    sql, _ = where({"id": {"$nin": [1]}})
    assert 'NOT COALESCE(("id" IN (?)), 0)' in sql


def test_decimal_compares_numerically() -> None:
    sql, params = where({"price": {"$gt": "2.5"}})
    assert 'CAST("price" AS NUMERIC) > CAST(? AS NUMERIC)' in sql and params == ["2.5"]


def test_arrays_and_regex_and_paging() -> None:
    q = build_query(Weird, {"tags": {"$regex": "^a", "$options": "i"}}, skip=5, limit=10)
    sql, params = select(D, '"t"', q)
    assert 'EXISTS (SELECT 1 FROM json_each("tags") AS _e1 WHERE (_e1.value REGEXP ?))' in sql
    assert sql.endswith("LIMIT ? OFFSET ?") and params == ["(?i)^a", 10, 5]


def test_json_paths_are_parameters() -> None:
    sql, params = count(D, '"t"', parse_filter(Weird, {"meta.k": None}))
    assert sql == (
        'SELECT COUNT(*) FROM "t" WHERE (json_extract("meta", ?) IS NULL OR '
        '(json_type("meta", ?) = \'array\' AND EXISTS (SELECT 1 FROM json_each("meta", ?) '
        "AS _e1 WHERE _e1.type = 'null')))"
    )
    assert params == ['$."k"'] * 3


def test_untyped_comparisons_are_refused_clearly() -> None:
    with pytest.raises(UnsupportedQueryError, match=r"'meta\.k'"):
        where({"meta.k": {"$gt": 1}})


def test_placeholder_style_comes_from_the_dialect() -> None:
    class Dollar(Dialect):
        def numeric(self, expr: str) -> str:
            return f"({expr})::numeric"

    sql, params = update(Dollar(), '"t"', {"id": 2}, parse_filter(Weird, {"id": {"$gte": 1}}))
    assert sql == 'UPDATE "t" SET "id" = $1 WHERE "id" >= $2' and params == [2, 1]


def test_hostile_value_travels_as_a_parameter() -> None:
    hostile = "'; DROP TABLE t; --"
    sql, params = where({"weird": hostile})
    assert hostile not in sql and params == [hostile]
    db = sqlite3.connect(":memory:")
    db.execute(
        'CREATE TABLE t (id INTEGER PRIMARY KEY, "we""ird" TEXT, price TEXT, tags TEXT, meta TEXT)'
    )
    db.execute('INSERT INTO t (id, "we""ird") VALUES (1, ?)', (hostile,))
    assert db.execute(sql, params).fetchall() == [(1, hostile, None, None, None)]
    assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)


def test_identifier_with_nul_is_refused() -> None:
    with pytest.raises(ValueError):
        D.quote("a\x00b")
