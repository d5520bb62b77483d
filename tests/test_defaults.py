"""Literal column defaults carried into create models; expressions left to the database."""

from __future__ import annotations

import pytest

from xrepo.codegen.defaults import literal_default
from xrepo.runtime.schema import FieldSpec, LogicalType, TypeSpec


def field(kind: LogicalType, default: str | None, **type_kw: object) -> FieldSpec:
    return FieldSpec(name="f", type=TypeSpec(kind=kind, **type_kw), default=default)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "default", "expected", "type_kw"),
    [
        (LogicalType.STR, "'free'", '"free"', {}),
        (LogicalType.STR, "('it''s')", '"it\'s"', {}),
        (LogicalType.STR, '"json"', '"json"', {}),
        (LogicalType.ENUM, "'pro'", '"pro"', {"enum_values": ("free", "pro")}),
        (LogicalType.ENUM, "2", "2", {"enum_values": (1, 2)}),
        (LogicalType.BOOL, "1", "True", {}),
        (LogicalType.BOOL, "FALSE", "False", {}),
        (LogicalType.INT, "-3", "-3", {}),
        (LogicalType.FLOAT, "0.5", "0.5", {}),
        (LogicalType.DECIMAL, "9.90", 'decimal.Decimal("9.90")', {}),
    ],
)
def test_plain_literals_become_python_defaults(
    kind: LogicalType, default: str, expected: str, type_kw: dict[str, object]
) -> None:
    got = literal_default(field(kind, default, **type_kw))
    assert got is not None and got[0] == expected


@pytest.mark.parametrize(
    ("kind", "default", "type_kw"),
    [
        (LogicalType.DATETIME, "CURRENT_TIMESTAMP", {}),
        (LogicalType.INT, "nextval('seq'::regclass)", {}),
        (LogicalType.STR, "'a' || 'b'", {}),
        (LogicalType.ENUM, "'gone'", {"enum_values": ("free",)}),
        (LogicalType.STR, "'toolong'", {"max_length": 3}),
        (LogicalType.BOOL, "2", {}),
        (LogicalType.INT, "'7'", {}),
        (LogicalType.STR, None, {}),
    ],
)
def test_expressions_and_mismatches_stay_with_the_database(
    kind: LogicalType, default: str | None, type_kw: dict[str, object]
) -> None:
    assert literal_default(field(kind, default, **type_kw)) is None
