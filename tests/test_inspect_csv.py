"""CSV inspection: the penguins datasets read the way a careful human reads them, plus dialects."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from xrepo.runtime.files import FileSourceError, read_rows
from xrepo.runtime.introspect import csvfile
from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.introspect.csvfile import inspect_csv
from xrepo.runtime.introspect.infer import FieldAccumulator
from xrepo.runtime.schema import CollectionSpec, LogicalType, dumps_snapshot

# ../shared/datasets beside the checkout (XREPO_DATASETS overrides)
DATA = (
    Path(
        os.environ.get(
            "XREPO_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"
        )
    )
    / "csv"
)


def spec_of(path: Path, **kw: object) -> CollectionSpec:
    snap = inspect_csv(path, name="src", **kw)  # type: ignore[arg-type]
    assert snap.source.kind == "csv"
    return snap.collections[0]


def kinds(spec: CollectionSpec) -> dict[str, LogicalType]:
    return {f.name: f.type.kind for f in spec.fields}


@pytest.fixture(scope="module")
def penguins() -> CollectionSpec:
    return spec_of(DATA / "penguins.csv")


@pytest.fixture(scope="module")
def raw() -> CollectionSpec:
    return spec_of(DATA / "penguins-raw.csv")


def test_penguins_types(penguins: CollectionSpec) -> None:
    assert penguins.name == "penguins" and penguins.kind == "file"
    assert penguins.path == str(DATA / "penguins.csv")
    assert kinds(penguins) == {
        "species": LogicalType.ENUM,
        "island": LogicalType.ENUM,
        "bill_length_mm": LogicalType.FLOAT,
        "bill_depth_mm": LogicalType.FLOAT,
        "flipper_length_mm": LogicalType.INT,
        "body_mass_g": LogicalType.INT,
        "sex": LogicalType.ENUM,
        "year": LogicalType.INT,
    }
    assert penguins.field("species").type.enum_values == ("Adelie", "Chinstrap", "Gentoo")
    assert penguins.field("island").type.enum_values == ("Biscoe", "Dream", "Torgersen")
    assert penguins.field("sex").type.enum_values == ("female", "male")
    nullable = {f.name for f in penguins.fields if f.nullable}
    assert nullable == {
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
    }


def test_penguins_format_and_stats(penguins: CollectionSpec) -> None:
    ff = penguins.file_format
    assert ff is not None
    assert (ff.encoding, ff.delimiter, ff.quotechar) == ("utf-8", ",", '"')
    assert "NA" in ff.null_tokens and "NaN" not in ff.null_tokens
    stats = penguins.stats
    assert stats is not None and stats.row_estimate == 344 and stats.sampled == 344
    sex = stats.fields["sex"]
    assert sex.null_ratio == round(11 / 344, 4)
    assert (sex.distinct_estimate, sex.cardinality) == (2, "low")
    assert stats.fields["year"].cardinality == "low"
    assert stats.fields["bill_length_mm"].cardinality == "high"
    cells = [line.split(",")[2] for line in (DATA / "penguins.csv").read_text().splitlines()[1:]]
    expected = {
        "float": sum("." in c for c in cells),
        "int": sum(c.isdigit() for c in cells),
        "null": cells.count("NA"),
    }
    assert (
        stats.fields["bill_length_mm"].type_histogram
        == expected
        == {
            "float": 308,
            "int": 34,
            "null": 2,
        }
    )


def test_penguins_raw_headers_and_types(raw: CollectionSpec) -> None:
    names = [f.name for f in raw.fields]
    assert names[:3] == ["studyName", "Sample Number", "Species"]
    assert "Culmen Length (mm)" in names and "Delta 15 N (o/oo)" in names
    k = kinds(raw)
    assert k["Date Egg"] is LogicalType.DATE
    assert k["Clutch Completion"] is LogicalType.BOOL
    assert k["Sample Number"] is LogicalType.INT
    assert k["Delta 15 N (o/oo)"] is LogicalType.FLOAT  # despite 17-digit float repr noise
    assert k["Individual ID"] is LogicalType.STR
    assert k["Comments"] is LogicalType.STR  # sentences, not labels
    assert raw.field("Stage").type.enum_values == ("Adult, 1 Egg Stage",)  # quoted comma
    assert raw.field("Sex").type.enum_values == ("FEMALE", "MALE")
    assert raw.field("Comments").nullable


def test_read_rows_follows_the_snapshot(raw: CollectionSpec) -> None:
    rows = list(read_rows(DATA / "penguins-raw.csv", raw))
    assert len(rows) == 344
    first = rows[0]
    assert first["Stage"] == "Adult, 1 Egg Stage"
    assert first["Date Egg"] == date(2007, 11, 11)
    assert first["Clutch Completion"] is True
    assert first["Culmen Length (mm)"] == 39.1 and first["Sample Number"] == 1
    assert first["Delta 15 N (o/oo)"] is None
    assert first["Comments"] == "Not enough blood for isotopes."


def test_deterministic(tmp_path: Path) -> None:
    a = dumps_snapshot(inspect_csv(DATA / "penguins-raw.csv", name="p"))
    b = dumps_snapshot(inspect_csv(DATA / "penguins-raw.csv", name="p"))
    assert a == b


# -- synthetic dialects --------------------------------------------------------------------------
ROWS = [["id", "name", "score"], *[[str(i), f"n{i}", f"{i}.5"] for i in range(12)]]


def write(tmp_path: Path, delimiter: str, *, encoding: str = "utf-8", eol: str = "\n") -> Path:
    path = tmp_path / "data.csv"
    text = eol.join(delimiter.join(r) for r in ROWS) + eol
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(tmp_path: Path, delimiter: str) -> None:
    spec = spec_of(write(tmp_path, delimiter))
    assert spec.file_format is not None and spec.file_format.delimiter == delimiter
    assert kinds(spec) == {
        "id": LogicalType.INT,
        "name": LogicalType.STR,
        "score": LogicalType.FLOAT,
    }
    assert len(list(read_rows(tmp_path / "data.csv", spec))) == 12


def test_bom_crlf_and_latin1(tmp_path: Path) -> None:
    spec = spec_of(write(tmp_path, ";", encoding="utf-8-sig", eol="\r\n"))
    assert spec.file_format is not None and spec.file_format.encoding == "utf-8-sig"
    assert spec.fields[0].name == "id"  # the BOM is not part of the first header
    rows = list(read_rows(tmp_path / "data.csv", spec))
    assert rows[-1] == {"id": 11, "name": "n11", "score": 11.5}

    path = tmp_path / "latin.csv"
    path.write_bytes("ville,pop\nZürich,1\nGenève,2\nCôte,3\n".encode("latin-1"))
    spec = spec_of(path)
    assert spec.file_format is not None and spec.file_format.encoding == "latin-1"
    assert [r["ville"] for r in read_rows(path, spec)] == ["Zürich", "Genève", "Côte"]


def test_quoted_delimiters_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n"x, y",1\n"multi\nline",2\n"say ""hi""",3\n', encoding="utf-8")
    spec = spec_of(path)
    assert [r["a"] for r in read_rows(path, spec)] == ["x, y", "multi\nline", 'say "hi"']


def test_custom_null_tokens(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("a,b\n1,-\n2,x\n-,y\n", encoding="utf-8")
    default = spec_of(path)
    assert default.field("a").type.kind is LogicalType.STR and not default.field("a").nullable
    custom = spec_of(path, null_tokens=["-"])
    assert custom.field("a").type.kind is LogicalType.INT and custom.field("a").nullable
    assert [r["a"] for r in read_rows(path, custom)] == [1, 2, None]


def test_nan_is_a_float_not_a_null(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("x\n1\nNaN\n2.5\n", encoding="utf-8")
    field = spec_of(path).field("x")
    assert field.type.kind is LogicalType.FLOAT and not field.nullable


def test_empty_and_duplicate_headers(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,,a,b\n1,2,3,4\n", encoding="utf-8")
    spec = spec_of(path)
    assert [f.name for f in spec.fields] == ["a", "column_2", "a_2", "b"]
    assert list(read_rows(path, spec)) == [{"a": 1, "column_2": 2, "a_2": 3, "b": 4}]


def test_semantic_types_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    lines = ["email,site,uid,host,mixed"]
    for i in range(5):
        mixed = "not-an-email" if i == 4 else f"m{i}@x.org"
        uid = f"{i:08x}-0000-4000-8000-000000000000"
        lines.append(f"u{i}@example.com,https://e{i}.example/p,{uid},10.0.0.{i},{mixed}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = spec_of(path)
    semantic = {f.name: f.type.semantic for f in spec.fields}
    assert semantic == {
        "email": "email",
        "site": "url",
        "uid": "uuid",
        "host": "ipv4",
        "mixed": None,
    }


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match=re.escape("missing.csv")):
        inspect_csv(tmp_path / "missing.csv", name="x")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InspectError, match=re.escape("empty.csv")):
        inspect_csv(empty, name="x")
    path = tmp_path / "later.csv"
    path.write_text("a\n1\n2\n", encoding="utf-8")
    spec = spec_of(path)
    path.write_text("a\n1\noops\n", encoding="utf-8")
    with pytest.raises(FileSourceError, match=re.escape("later.csv:3")):
        list(read_rows(path, spec))


def test_bounded_memory_on_a_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,label\n")
        handle.writelines(f"{i},v{i % 7}\n" for i in range(200_000))
    made: list[FieldAccumulator] = []

    class Spy(FieldAccumulator):
        def __init__(self, **kw: object) -> None:
            super().__init__(**kw)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(csvfile, "FieldAccumulator", Spy)
    spec = spec_of(path, sample_rows=5_000)
    assert spec.stats is not None
    assert spec.stats.row_estimate == 200_000 and spec.stats.sampled == 5_000
    assert all(acc.count == 5_000 for acc in made)
    assert made[0].distinct.tracked <= 1024 and made[0].distinct.overflowed
    assert made[1].distinct.tracked == 7
    assert spec.field("label").type.kind is LogicalType.ENUM


def test_ragged_rows_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(InspectError, match=r"ragged\.csv:3: 3 cells but 2 header columns"):
        inspect_csv(path, name="r")


def test_binary_file_is_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00binary,stuff\n")
    with pytest.raises(InspectError, match="binary file, not a CSV"):
        inspect_csv(path, name="b")
