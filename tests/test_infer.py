"""Value inference, semantic types, cardinality, the extended-JSON decoder and the JSON streamer."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from bson import json_util
from hypothesis import given, settings
from hypothesis import strategies as st

from xrepo.runtime.files import (
    ObjectIdText,
    decode_extjson,
    header_names,
    iter_json_array,
    parse_text,
)
from xrepo.runtime.introspect.infer import DistinctCounter, FieldAccumulator, kind_of
from xrepo.runtime.introspect.memory import inspect_records
from xrepo.runtime.introspect.semantic import cardinality_class, detect_semantic
from xrepo.runtime.schema import LogicalType, dumps_snapshot


def text_type(values: Sequence[str | None], **kw: int) -> tuple[LogicalType, FieldAccumulator]:
    acc = FieldAccumulator(text=True, **kw)
    for v in values:
        acc.add_text(v)
    return acc.to_type().kind, acc


# -- semantic types ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a@example.com", "b.c@mail.example.org", "x+y@z.io"], "email"),
        (["http://a.example/x", "https://b.example", "https://c.example/p?q=1"], "url"),
        ([str(uuid.UUID(int=i)) for i in range(1, 5)], "uuid"),
        (["10.0.0.1", "192.168.1.20", "8.8.8.8"], "ipv4"),
        (["::1", "fe80::1", "2001:db8::2"], "ipv6"),
        (["10.0.0.1", "::1", "8.8.8.8"], "ip"),
        (["a@example.com", "b@example.com", "not an email"], None),
        (["a@example.com", "b@example.com"], None),  # too few to claim
        (["ftp://a.example/x", "https://b.example", "https://c.example"], None),
        (["1.2", "3.4", "5.6"], None),
        (["a@example.com", "", "b@example.com", "c@example.com"], "email"),  # empties ignored
    ],
)
def test_detect_semantic_only_when_all_agree(values: list[str], expected: str | None) -> None:
    assert detect_semantic(values) == expected


def test_cardinality_class_rule() -> None:
    assert cardinality_class(3, 344) == "low"
    assert cardinality_class(160, 344) == "high"
    assert cardinality_class(50, 100_000) == "low"
    assert cardinality_class(51, 100_000) == "high"
    assert cardinality_class(3, 3) == "high"  # nothing repeats: no evidence of a small domain
    assert cardinality_class(2, 5) == "low"


# -- text (CSV) inference ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1", "2", "-3"], LogicalType.INT),
        (["0", "1", "1", "0"], LogicalType.INT),  # 0/1 is int, not bool
        (["1", "2.5", None], LogicalType.FLOAT),  # widening, not a union
        (["1e5", "2.5", "NaN"], LogicalType.FLOAT),
        (["yes", "No", "Y", "n"], LogicalType.BOOL),
        (["true", "false", "1"], LogicalType.STR),
        (["007", "012", "123"], LogicalType.STR),  # leading zeros are data
        (["1_000", "2"], LogicalType.STR),
        (["2020-01-02", "1999-12-31"], LogicalType.DATE),
        (["2020-02-30", "2020-01-01"], LogicalType.STR),
        (["2020-01-02", "2020-01-02T10:00:00"], LogicalType.DATETIME),
        (["10:00:00", "23:59:59.5"], LogicalType.TIME),
        (["12.50", "3.10", "7.25"], LogicalType.DECIMAL),  # money-like fixed scale
        (["12.5", "3.1", "7.25"], LogicalType.FLOAT),
        (["8.94956", "8.36820", "9.1"], LogicalType.FLOAT),
        (["1.12345678901234567890"], LogicalType.DECIMAL),  # more digits than a float holds
        (["8.3945900000000009", "1.5"], LogicalType.FLOAT),  # float repr noise
        ([None, None], LogicalType.STR),
        (["a", "1"], LogicalType.STR),
    ],
)
def test_text_kinds(values: Sequence[str | None], kind: LogicalType) -> None:
    assert text_type(values)[0] is kind


def test_decimal_keeps_its_fixed_scale() -> None:
    _, acc = text_type(["12.50", "3.10", "7"])
    assert acc.to_type().scale == 2


def test_datetime_awareness() -> None:
    _, aware = text_type(["2020-01-02T10:00:00Z", "2020-01-02 10:00+02:00"])
    _, naive = text_type(["2020-01-02T10:00:00", "2020-01-02 10:00"])
    _, mixed = text_type(["2020-01-02T10:00:00Z", "2020-01-02 10:00"])
    assert aware.to_type().tz_aware is True
    assert naive.to_type().tz_aware is False
    assert mixed.to_type().tz_aware is None


def test_enum_needs_repeated_label_like_values() -> None:
    labels = ["red", "green", "blue"] * 5
    assert text_type(labels, enum_max=20)[1].to_type().enum_values == ("blue", "green", "red")
    assert text_type(labels, enum_max=0)[0] is LogicalType.STR  # enums off
    assert text_type(labels, enum_max=2)[0] is LogicalType.STR  # too many values
    assert text_type(labels[:6], enum_max=20)[0] is LogicalType.STR  # sample too small
    sentences = ["Not enough blood.", "Nest never observed."] * 10
    assert text_type(sentences, enum_max=20)[0] is LogicalType.STR
    unique = [f"id{i}" for i in range(15)]
    assert text_type(unique, enum_max=20)[0] is LogicalType.STR


def test_field_spec_nullable_and_stats() -> None:
    _, acc = text_type(["1", None, "2", "2"])
    field = acc.to_field("n")
    assert field.nullable and field.required
    stats = acc.to_stats()
    assert stats.null_ratio == 0.25
    assert stats.distinct_estimate == 2
    assert stats.type_histogram == {"int": 3, "null": 1}


# -- python values -------------------------------------------------------------------------------
def test_kind_of_python_values() -> None:
    cases = [
        (None, "null"), (True, "bool"), (1, "int"), (1.5, "float"), ("s", "str"),
        (Decimal("1"), "decimal"), (datetime(2020, 1, 1), "datetime"), (date(2020, 1, 1), "date"),
        (timedelta(1), "timedelta"), (uuid.UUID(int=1), "uuid"), (b"x", "bytes"),
        (ObjectIdText("a" * 24), "object_id"),
    ]  # fmt: skip
    for value, kind in cases:
        assert kind_of(value) == kind
    assert kind_of({"a": 1}) == "object"
    assert kind_of([1]) == "array"


def test_value_union_and_widening() -> None:
    acc = FieldAccumulator()
    for v in [1, 2.5, "x", None]:
        acc.add(v)
    t = acc.to_type()
    assert t.kind is LogicalType.UNION
    assert [v.kind for v in t.variants or ()] == [LogicalType.STR, LogicalType.FLOAT]
    assert acc.to_field("f", total=8).nullable
    assert not acc.to_field("f", total=8).required
    assert acc.to_stats(total=8).presence_ratio == 0.5


def test_distinct_set_is_capped() -> None:
    counter = DistinctCounter(cap=64)
    for i in range(20_000):
        counter.add(str(i))
    assert counter.tracked == 64
    assert 10_000 < counter.estimate() < 40_000  # KMV estimate, deterministic hash
    exact = DistinctCounter(cap=64)
    for i in range(50):
        exact.add(str(i % 10))
    assert exact.estimate() == 10


def test_inspect_records_nested() -> None:
    snap = inspect_records(
        [
            {"_id": 1, "tags": ["a"], "addr": {"city": "X", "zip": "1"}},
            {"_id": 2, "tags": [], "addr": {"city": "Y"}, "extra": None},
        ],
        name="mem",
        collection="people",
    )
    spec = snap.collection("people")
    assert [f.name for f in spec.fields] == ["_id", "addr", "extra", "tags"]
    assert spec.primary_key == ("_id",)
    addr = spec.field("addr").type
    assert addr.kind is LogicalType.OBJECT
    assert [(f.name, f.required) for f in addr.fields or ()] == [("city", True), ("zip", False)]
    extra = spec.field("extra")
    assert extra.type.kind is LogicalType.UNKNOWN and extra.nullable and not extra.required
    assert spec.stats is not None and spec.stats.fields["addr.zip"].presence_ratio == 0.5
    assert spec.stats.fields["tags[]"].type_histogram == {"str": 1}
    assert dumps_snapshot(snap).endswith("\n")


# -- runtime helpers -----------------------------------------------------------------------------
def test_header_names_distinct_and_meaningful() -> None:
    assert header_names(["a", "", "a", "a_2", "b c"]) == ["a", "column_2", "a_3", "a_2", "b c"]
    assert header_names(["", ""]) == ["column_1", "column_2"]


def test_parse_text_matches_inference() -> None:
    assert parse_text(LogicalType.BOOL, "Yes") is True
    assert parse_text(LogicalType.DECIMAL, "12.50") == Decimal("12.50")
    assert parse_text(LogicalType.DATETIME, "2020-01-02T10:00:00Z").tzinfo is not None
    with pytest.raises(ValueError):
        parse_text(LogicalType.BOOL, "maybe")


EXTJSON = (
    '{"_id": {"$oid": "50b59cd75bed76f46522c34e"}, "d": {"$date": "2009-04-01T00:00:00.000-0700"},'
    ' "d2": {"$date": {"$numberLong": "1356351330000"}}, "l": {"$numberLong": "9007199254740993"},'
    ' "i": {"$numberInt": "7"}, "f": {"$numberDouble": "1.5"}, "m": {"$numberDecimal": "1.10"},'
    ' "b": {"$binary": {"base64": "AQID", "subType": "00"}},'
    ' "u": {"$binary": {"base64": "ASNFZ4mrze8BI0VniavN7w==", "subType": "04"}},'
    ' "u2": {"$uuid": "01234567-89ab-cdef-0123-456789abcdef"},'
    ' "n": [{"x": {"$numberLong": "1"}}]}'
)


def test_decode_extjson_matches_pymongo() -> None:
    mine = decode_extjson(json.loads(EXTJSON))
    theirs = json_util.loads(EXTJSON, json_options=json_util.JSONOptions(tz_aware=True))
    assert mine["_id"] == str(theirs["_id"])
    assert mine["d"] == theirs["d"] == datetime(2009, 4, 1, 7, tzinfo=UTC)
    assert mine["d2"] == theirs["d2"]
    assert mine["l"] == theirs["l"] == 9007199254740993
    assert (mine["i"], mine["f"]) == (7, 1.5)
    assert mine["m"] == Decimal("1.10") == theirs["m"].to_decimal()
    assert mine["b"] == bytes(theirs["b"]) == b"\x01\x02\x03"
    assert mine["u"] == mine["u2"] == uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
    assert mine["n"] == [{"x": 1}]
    not_a_wrapper = {"$oid": 1, "other": 2}
    assert decode_extjson({"plain": not_a_wrapper}) == {"plain": not_a_wrapper}
    assert isinstance(decode_extjson({"$oid": "ab"}, object_id=ObjectIdText), ObjectIdText)
    naive = decode_extjson({"$date": "2020-01-01T00:00:00"})
    assert naive.tzinfo == UTC


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=8,
    ),
    st.integers(min_value=1, max_value=9),
)
def test_iter_json_array_roundtrip(items: list[object], chunk: int) -> None:
    text = json.dumps(items, indent=1)
    assert list(iter_json_array(io.StringIO(text), chunk_size=chunk)) == items


def test_iter_json_array_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        list(iter_json_array(io.StringIO('{"a": 1}')))
    with pytest.raises(ValueError):
        list(iter_json_array(io.StringIO("[1 2]")))
