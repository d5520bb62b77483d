"""JSON / NDJSON / extended-JSON inspection on the Mongo datasets, and the in-memory inspector."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from xrepo.runtime.files import read_rows
from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.introspect.jsonfile import inspect_json
from xrepo.runtime.introspect.memory import inspect_records
from xrepo.runtime.schema import CollectionSpec, LogicalType, TypeSpec, dumps_snapshot

# ../shared/datasets beside the checkout (XREPO_DATASETS overrides)
DATA = (
    Path(
        os.environ.get(
            "XREPO_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"
        )
    )
    / "mongo"
)


def spec_of(path: Path) -> CollectionSpec:
    snap = inspect_json(path, name="mongo")
    assert snap.source.kind == "json"
    return snap.collections[0]


def variant_kinds(t: TypeSpec) -> list[LogicalType]:
    assert t.kind is LogicalType.UNION and t.variants is not None
    return [v.kind for v in t.variants]


def nested(t: TypeSpec) -> dict[str, LogicalType]:
    return {f.name: f.type.kind for f in t.fields or ()}


@pytest.fixture(scope="module")
def books() -> CollectionSpec:
    return spec_of(DATA / "books.json")


def test_books(books: CollectionSpec) -> None:
    assert books.file_format is not None and books.file_format.layout == "extjson"
    names = [f.name for f in books.fields]
    assert names[0] == "_id" and names[1:] == sorted(names[1:])
    assert books.primary_key == ("_id",)
    assert variant_kinds(books.field("_id").type) == [LogicalType.INT, LogicalType.OBJECT_ID]
    stats = books.stats
    assert stats is not None and stats.row_estimate == 431
    assert stats.fields["_id"].type_histogram == {"int": 399, "object_id": 32}
    published = books.field("publishedDate")
    assert published.type.kind is LogicalType.DATETIME and published.type.tz_aware is True
    assert not published.required and not published.nullable
    assert stats.fields["publishedDate"].presence_ratio == round((431 - 78) / 431, 4)
    authors = books.field("authors")
    assert authors.type.kind is LogicalType.ARRAY and authors.required
    assert authors.type.items == TypeSpec(kind=LogicalType.STR)
    assert books.field("pageCount").type.kind is LogicalType.INT
    assert books.field("thumbnailUrl").type.semantic == "url"
    assert books.field("title").required


def test_restaurant_rating_and_spaced_name() -> None:
    spec = spec_of(DATA / "restaurant.json")
    assert "address line 2" in [f.name for f in spec.fields]
    assert spec.field("_id").type.kind is LogicalType.OBJECT_ID
    # int and float widen to float; the "Not yet rated" strings make it a union
    assert variant_kinds(spec.field("rating").type) == [LogicalType.STR, LogicalType.FLOAT]
    assert spec.stats is not None
    histogram = spec.stats.fields["rating"].type_histogram
    assert histogram is not None and sum(histogram.values()) == 2548
    assert set(histogram) == {"int", "float", "str"}
    lines = (DATA / "restaurant.json").read_text().splitlines()
    assert histogram["str"] == sum('"rating":"Not yet rated"' in line for line in lines)
    assert spec.field("URL").type.semantic == "url"


def test_grades_array_of_subdocuments() -> None:
    spec = spec_of(DATA / "grades.json")
    scores = spec.field("scores").type
    assert scores.kind is LogicalType.ARRAY and scores.items is not None
    assert scores.items.kind is LogicalType.OBJECT
    assert nested(scores.items) == {"score": LogicalType.FLOAT, "type": LogicalType.STR}
    assert all(f.required and not f.nullable for f in scores.items.fields or ())
    assert spec.stats is not None
    text = (DATA / "grades.json").read_text()
    score_count = len(re.findall(r'"score"\s*:', text))
    assert spec.stats.fields["scores[].score"].type_histogram == {"float": score_count}
    assert spec.field("student_id").type.kind is LogicalType.INT


def test_products_polymorphism() -> None:
    spec = spec_of(DATA / "products.json")
    assert variant_kinds(spec.field("_id").type) == [LogicalType.STR, LogicalType.OBJECT_ID]
    type_field = spec.field("type")
    assert variant_kinds(type_field.type) == [LogicalType.STR, LogicalType.ARRAY]
    assert type_field.required
    assert spec.field("price").type.kind is LogicalType.FLOAT  # ints and floats: widened
    assert not spec.field("brand").required
    limits = spec.field("limits").type
    assert limits.kind is LogicalType.OBJECT and "data" in nested(limits)
    assert spec.stats is not None and "limits.data.n" in spec.stats.fields


def test_deterministic_and_read_back() -> None:
    path = DATA / "books.json"
    assert dumps_snapshot(inspect_json(path, name="m")) == dumps_snapshot(
        inspect_json(path, name="m")
    )
    spec = spec_of(path)
    rows = list(read_rows(path, spec))
    assert len(rows) == 431
    assert rows[0]["_id"] == 1 and isinstance(rows[0]["publishedDate"], datetime)
    assert rows[0]["publishedDate"].tzinfo is not None
    oid_rows = [r for r in rows if isinstance(r["_id"], str)]
    assert len(oid_rows) == 32 and all(len(r["_id"]) == 24 for r in oid_rows)


def test_array_layout_and_plain_ndjson(tmp_path: Path) -> None:
    docs: list[dict[str, Any]] = [{"a": 1, "b": {"c": [1, 2.5]}}, {"a": None, "d": "x y"}]
    array = tmp_path / "docs.json"
    array.write_text(json.dumps(docs, indent=2), encoding="utf-8")
    ndjson = tmp_path / "docs.ndjson"
    ndjson.write_text("\n".join(json.dumps(d) for d in docs) + "\n\n", encoding="utf-8")
    a, n = spec_of(array), spec_of(ndjson)
    assert a.file_format is not None and a.file_format.layout == "array"
    assert n.file_format is not None and n.file_format.layout == "ndjson"
    assert a.fields == n.fields
    assert a.field("a").nullable and a.field("a").type.kind is LogicalType.INT
    c = a.field("b").type.fields
    assert c is not None and c[0].type.items == TypeSpec(kind=LogicalType.FLOAT)
    assert list(read_rows(array, a)) == docs == list(read_rows(ndjson, n))
    # the same documents in memory give the same fields
    mem = inspect_records(docs, name="mem", collection="docs").collection("docs")
    assert mem.fields == a.fields and mem.kind == "memory"


def test_extjson_array_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        '[{"_id": {"$oid": "507d95d5719dbef170f15bf9"}, "n": {"$numberLong": "5"},'
        ' "p": {"$numberDecimal": "9.99"}, "u": {"$uuid": "01234567-89ab-cdef-0123-456789abcdef"},'
        ' "b": {"$binary": {"base64": "AQID", "subType": "00"}}}]',
        encoding="utf-8",
    )
    spec = spec_of(path)
    assert spec.file_format is not None and spec.file_format.layout == "extjson-array"
    got = {f.name: f.type.kind for f in spec.fields}
    assert got == {
        "_id": LogicalType.OBJECT_ID,
        "b": LogicalType.BYTES,
        "n": LogicalType.INT,
        "p": LogicalType.DECIMAL,
        "u": LogicalType.UUID,
    }
    (row,) = read_rows(path, spec)
    assert row["_id"] == "507d95d5719dbef170f15bf9" and row["p"] == Decimal("9.99")


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(InspectError, match=re.escape("bad.ndjson:2")):
        inspect_json(path, name="x")
    scalar = tmp_path / "scalars.json"
    scalar.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InspectError, match="not an object"):
        inspect_json(scalar, name="x")
    with pytest.raises(InspectError, match="no such JSON file"):
        inspect_json(tmp_path / "nope.json", name="x")
    with pytest.raises(InspectError, match="not a mapping"):
        inspect_records([{"a": 1}, 3], name="m", collection="c")  # type: ignore[list-item]


def test_sample_cap_still_counts_everything(tmp_path: Path) -> None:
    path = tmp_path / "many.ndjson"
    path.write_text("".join(f'{{"i": {i}}}\n' for i in range(500)), encoding="utf-8")
    spec = inspect_json(path, name="m", sample_docs=50).collections[0]
    assert spec.stats is not None
    assert (spec.stats.sampled, spec.stats.row_estimate) == (50, 500)
