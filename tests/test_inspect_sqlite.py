"""The SQLite inspector against databases built here, one feature per test."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.introspect.sqlite import inspect_sqlite, sqlite_path
from xrepo.runtime.introspect.sqlite_sql import (
    parse_create_index,
    parse_create_table,
    parse_in_list,
    quote_ident,
    tokenize,
)
from xrepo.runtime.introspect.sqlite_types import map_declared_type
from xrepo.runtime.schema import (
    CheckSpec,
    CollectionSpec,
    ForeignKeySpec,
    IndexSpec,
    LogicalType,
    Snapshot,
    TypeSpec,
    dumps_snapshot,
)

SCHEMA = """
CREATE TABLE author (
    id INTEGER PRIMARY KEY,
    email VARCHAR(120) NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT 'anon',
    mentor_id INTEGER REFERENCES author(id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired', 'it''s')),
    level INT CHECK ("level" IN (1, 2, 3)),
    born DATE,
    seen DATETIME,
    at TIME,
    score REAL,
    price DECIMAL(10, 2),
    flag BOOLEAN,
    photo BLOB,
    meta JSON,
    token UUID,
    anything,
    money MONEY,
    CHECK (length(name) > 0),
    CONSTRAINT positive_score CHECK (score >= 0)
);
CREATE TABLE book (
    isbn TEXT,
    edition INT,
    title TEXT NOT NULL,
    kind TEXT CHECK ([kind] IN ('paper', 'ebook')),
    shelf TEXT CHECK (`shelf` IN ('a', 'b')),
    author_id INTEGER NOT NULL,
    PRIMARY KEY (edition, isbn),
    CONSTRAINT fk_author FOREIGN KEY (author_id) REFERENCES author (id) ON UPDATE CASCADE
) WITHOUT ROWID;
CREATE TABLE review (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    book_isbn TEXT NOT NULL,
    book_edition INT NOT NULL,
    stars INT NOT NULL,
    body TEXT,
    body_len INT GENERATED ALWAYS AS (length(body)) STORED,
    stars2 AS (stars * 2),
    FOREIGN KEY (book_edition, book_isbn) REFERENCES book (edition, isbn) ON DELETE CASCADE,
    UNIQUE (book_isbn, book_edition, stars)
);
CREATE INDEX review_stars ON review (stars DESC);
CREATE INDEX review_good ON review (book_isbn) WHERE stars >= 4;
CREATE UNIQUE INDEX review_lower_body ON review (lower(body) COLLATE NOCASE, stars);
CREATE TABLE log (message TEXT, level INT);
CREATE TABLE tag (name INT PRIMARY KEY, note TEXT);
CREATE VIEW good_review AS SELECT id, stars, body, stars + 1 AS bumped FROM review WHERE stars >= 4;
"""

HOSTILE = """
CREATE TABLE "select" (
    "class" TEXT PRIMARY KEY,
    "my col" INT NOT NULL DEFAULT 0,
    "we""ird" TEXT CHECK ("we""ird" IN ('x', 'y')),
    "1st" REAL,
    "naïve" TEXT,
    "drop;table" TEXT,
    "group" INT REFERENCES "select"("my col")
);
CREATE INDEX "idx ""odd"" name" ON "select" ("drop;table", "naïve");
CREATE VIEW "view; DROP TABLE x" AS SELECT "class", "we""ird" FROM "select";
"""


def _build(path: Path, script: str, rows: Sequence[tuple[str, tuple[object, ...]]] = ()) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    for sql, params in rows:
        conn.execute(sql, params)
    conn.commit()
    conn.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "library.db"
    rows: list[tuple[str, tuple[object, ...]]] = []
    for i in range(1, 13):
        rows.append(
            (
                "INSERT INTO author (email, name, status, level, score, anything, token) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    f"user{i}@example.com",
                    f"name {i}",
                    "active" if i % 3 else "retired",
                    1 + i % 3,
                    i / 2,
                    i if i % 2 else float(i) + 0.5,
                    f"00000000-0000-4000-8000-{i:012d}",
                ),
            )
        )
    rows.append(("INSERT INTO book VALUES ('978-1', 1, 'T', 'paper', 'a', 1)", ()))
    rows.append(("INSERT INTO review (book_isbn, book_edition, stars, body) VALUES (?, ?, ?, ?)",
                 ("978-1", 1, 5, "great")))  # fmt: skip
    return _build(path, SCHEMA, rows)


@pytest.fixture(scope="module")
def snap(db: Path) -> Snapshot:
    return inspect_sqlite(db, name="library")


def _field_type(c: CollectionSpec, name: str) -> TypeSpec:
    return c.field(name).type


# -- structure ---------------------------------------------------------------------------------


def test_tables_and_views_sorted_without_internal_tables(snap: Snapshot) -> None:
    names = [c.name for c in snap.collections]
    assert names == ["author", "book", "good_review", "log", "review", "tag"]
    assert "sqlite_sequence" not in names  # created by AUTOINCREMENT
    assert snap.collection("good_review").kind == "view"
    assert snap.collection("author").kind == "table"
    assert snap.source.kind == "sqlite" and snap.source.name == "library"


def test_columns_in_ordinal_order(snap: Snapshot) -> None:
    author = snap.collection("author")
    assert [f.name for f in author.fields][:5] == ["id", "email", "name", "mentor_id", "status"]
    assert [f.name for f in snap.collection("book").fields] == [
        "isbn", "edition", "title", "kind", "shelf", "author_id",
    ]  # fmt: skip


def test_declared_types_map_to_logical_types(snap: Snapshot) -> None:
    author = snap.collection("author")
    expect = {
        "id": TypeSpec(kind=LogicalType.INT),
        "email": TypeSpec(kind=LogicalType.STR, max_length=120, semantic="email"),
        "name": TypeSpec(kind=LogicalType.STR),
        "born": TypeSpec(kind=LogicalType.DATE),
        "seen": TypeSpec(kind=LogicalType.DATETIME, tz_aware=False),
        "at": TypeSpec(kind=LogicalType.TIME, tz_aware=False),
        "score": TypeSpec(kind=LogicalType.FLOAT),
        "price": TypeSpec(kind=LogicalType.DECIMAL, precision=10, scale=2),
        "flag": TypeSpec(kind=LogicalType.BOOL),
        "photo": TypeSpec(kind=LogicalType.BYTES),
        "meta": TypeSpec(kind=LogicalType.JSON),
        "token": TypeSpec(kind=LogicalType.UUID),
    }
    for name, spec in expect.items():
        assert _field_type(author, name) == spec, name
    assert author.field("price").source_type == "DECIMAL(10, 2)"
    assert author.field("email").source_type == "VARCHAR(120)"


def test_untyped_column_inferred_from_values_or_unknown_with_warning(snap: Snapshot) -> None:
    author = snap.collection("author")
    # int and float values mixed in a column with no declared type: widened to float
    assert _field_type(author, "anything") == TypeSpec(kind=LogicalType.FLOAT)
    assert author.field("anything").source_type is None
    assert author.stats is not None
    assert author.stats.fields["anything"].type_histogram == {"float": 6, "int": 6}
    # MONEY reaches only SQLite's catch-all affinity and the column is all NULL
    assert _field_type(author, "money").kind == LogicalType.UNKNOWN
    assert any("author.money" in w and "MONEY" in w for w in snap.warnings)
    # a view's expression column has no declared type either
    view = snap.collection("good_review")
    assert _field_type(view, "bumped") == TypeSpec(kind=LogicalType.INT)


def test_not_null_defaults_and_required(snap: Snapshot) -> None:
    author = snap.collection("author")
    email, name, mentor = author.field("email"), author.field("name"), author.field("mentor_id")
    assert (email.nullable, email.required, email.default) == (False, True, None)
    assert (name.nullable, name.required, name.default) == (False, False, "'anon'")
    assert (mentor.nullable, mentor.required) == (True, False)
    assert author.field("status").default == "'active'"


def test_rowid_alias_is_generated_and_not_required(snap: Snapshot) -> None:
    author_id = snap.collection("author").field("id")
    assert author_id.generated == "rowid"
    assert (author_id.nullable, author_id.required) == (False, False)
    assert snap.collection("author").primary_key == ("id",)


def test_autoincrement(snap: Snapshot) -> None:
    review_id = snap.collection("review").field("id")
    assert review_id.generated == "autoincrement"
    assert review_id.required is False


def test_composite_primary_key_in_key_order_without_rowid(snap: Snapshot) -> None:
    book = snap.collection("book")
    assert book.primary_key == ("edition", "isbn")  # key order, not column order
    for name in ("edition", "isbn"):
        assert book.field(name).nullable is False
        assert book.field(name).required is True
        assert book.field(name).generated is None


def test_integer_key_of_without_rowid_table_is_not_a_rowid_alias(tmp_path: Path) -> None:
    path = _build(
        tmp_path / "wr.db",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;"
        "CREATE TABLE d (id INTEGER PRIMARY KEY DESC, v TEXT);"
        "CREATE TABLE b (id BIGINT PRIMARY KEY, v TEXT);",
    )
    snap = inspect_sqlite(path, name="wr")
    for table in ("t", "d", "b"):
        key = snap.collection(table).field("id")
        assert key.generated is None, table
        assert key.required is True, table


def test_table_without_primary_key(snap: Snapshot) -> None:
    log = snap.collection("log")
    assert log.primary_key == ()
    assert [f.name for f in log.fields] == ["message", "level"]  # no synthetic rowid field


def test_non_integer_single_primary_key(snap: Snapshot) -> None:
    tag = snap.collection("tag")
    assert tag.primary_key == ("name",)
    assert tag.field("name").generated is None  # INT is not INTEGER: not a rowid alias
    assert tag.field("name").required is True


def test_generated_columns(snap: Snapshot) -> None:
    review = snap.collection("review")
    assert review.field("body_len").generated == "computed"
    assert review.field("stars2").generated == "computed"
    assert review.field("body_len").required is False
    assert [f.name for f in review.fields][-2:] == ["body_len", "stars2"]


def test_foreign_keys(snap: Snapshot) -> None:
    assert snap.collection("author").foreign_keys == (
        ForeignKeySpec(
            fields=("mentor_id",),
            ref_collection="author",
            ref_fields=("id",),
            on_delete="SET NULL",
            on_update="NO ACTION",
        ),
    )
    assert snap.collection("book").foreign_keys == (
        ForeignKeySpec(
            name="fk_author",
            fields=("author_id",),
            ref_collection="author",
            ref_fields=("id",),
            on_delete="NO ACTION",
            on_update="CASCADE",
        ),
    )
    (composite,) = snap.collection("review").foreign_keys
    assert composite.fields == ("book_edition", "book_isbn")
    assert composite.ref_collection == "book"
    assert composite.ref_fields == ("edition", "isbn")
    assert composite.on_delete == "CASCADE"


def test_foreign_key_to_implicit_primary_key_and_declaration_order(tmp_path: Path) -> None:
    path = _build(
        tmp_path / "fk.db",
        "CREATE TABLE p (a INT, b INT, PRIMARY KEY (b, a));"
        "CREATE TABLE c (id INTEGER PRIMARY KEY, x INT, y INT, parent INT REFERENCES c, "
        "FOREIGN KEY (x, y) REFERENCES p, FOREIGN KEY (y) REFERENCES p (a));",
    )
    snap = inspect_sqlite(path, name="fk")
    keys = snap.collection("c").foreign_keys
    assert [(k.fields, k.ref_collection, k.ref_fields) for k in keys] == [
        (("parent",), "c", ("id",)),  # self reference to the implicit primary key
        (("x", "y"), "p", ("b", "a")),  # the parent's primary key, in key order
        (("y",), "p", ("a",)),
    ]
    assert snap.warnings == ()


def test_foreign_key_to_a_table_without_key_warns(tmp_path: Path) -> None:
    path = _build(
        tmp_path / "fk.db", "CREATE TABLE p (a INT); CREATE TABLE c (x INT REFERENCES p);"
    )
    snap = inspect_sqlite(path, name="fk")
    assert snap.collection("c").foreign_keys[0].ref_collection == "p"
    assert any("c: foreign key" in w for w in snap.warnings)


def test_indexes(snap: Snapshot) -> None:
    review = {i.name: i for i in snap.collection("review").indexes}
    assert review["review_stars"] == IndexSpec(name="review_stars", fields=("stars",))
    assert review["review_good"] == IndexSpec(
        name="review_good", fields=("book_isbn",), partial="stars >= 4"
    )
    assert review["review_lower_body"] == IndexSpec(
        name="review_lower_body", fields=("lower(body)", "stars"), unique=True, expression=True
    )
    # the UNIQUE constraint's auto-index is kept, as a unique index
    auto = [i for i in review.values() if i.name.startswith("sqlite_autoindex")]
    assert [(i.fields, i.unique) for i in auto] == [(("book_isbn", "book_edition", "stars"), True)]
    assert list(review) == sorted(review)
    # column-level UNIQUE, and no index for the WITHOUT ROWID table's primary key
    author = snap.collection("author").indexes
    assert [(i.fields, i.unique) for i in author] == [(("email",), True)]
    assert snap.collection("book").indexes == ()
    assert snap.collection("good_review").indexes == ()


def test_check_in_becomes_enum_in_every_quoting_style(snap: Snapshot) -> None:
    author, book = snap.collection("author"), snap.collection("book")
    assert _field_type(author, "status") == TypeSpec(
        kind=LogicalType.ENUM, enum_values=("active", "retired", "it's")
    )
    assert _field_type(author, "level") == TypeSpec(kind=LogicalType.ENUM, enum_values=(1, 2, 3))
    assert _field_type(book, "kind").enum_values == ("paper", "ebook")
    assert _field_type(book, "shelf").enum_values == ("a", "b")
    assert author.field("status").source_type == "TEXT"


def test_other_checks_kept_verbatim(snap: Snapshot) -> None:
    assert snap.collection("author").checks == (
        CheckSpec(expression="length(name) > 0"),
        CheckSpec(name="positive_score", expression="score >= 0"),
    )
    assert snap.collection("book").checks == ()


def test_stats(snap: Snapshot) -> None:
    author = snap.collection("author")
    assert author.stats is not None
    assert author.stats.row_estimate == 12
    assert author.stats.sampled == 12
    status = author.stats.fields["status"]
    assert status.null_ratio == 0.0
    assert status.distinct_estimate == 2
    assert status.cardinality == "low"
    assert author.stats.fields["born"].null_ratio == 1.0
    assert author.stats.fields["email"].cardinality == "high"
    assert author.stats.fields["email"].type_histogram is None  # declared: no histogram
    # semantic types only when every sampled value agrees
    assert _field_type(author, "name").semantic is None


def test_semantic_types_from_text_values(tmp_path: Path) -> None:
    rows = [
        (
            "INSERT INTO s VALUES (?, ?, ?, ?)",
            (f"a{i}@x.org", f"https://x.org/{i}", f"10.0.0.{i}", f"0000000{i}-0000-4000-8000-0"),
        )
        for i in range(5)
    ]
    path = _build(tmp_path / "s.db", "CREATE TABLE s (e TEXT, u TEXT, ip TEXT, n TEXT);", rows)
    s = inspect_sqlite(path, name="s").collection("s")
    assert [s.field(n).type.semantic for n in ("e", "u", "ip", "n")] == [
        "email", "url", "ipv4", None,
    ]  # fmt: skip


def test_sampling_is_bounded(snap: Snapshot, db: Path) -> None:
    small = inspect_sqlite(db, name="library", sample_rows=5).collection("author")
    assert small.stats is not None
    assert (small.stats.row_estimate, small.stats.sampled) == (12, 5)
    # all five sampled emails differ: the estimate extrapolates to the table
    assert small.stats.fields["email"].distinct_estimate == 12
    none = inspect_sqlite(db, name="library", sample_rows=0).collection("author")
    assert none.stats is not None and none.stats.fields == {}


def test_include_exclude_and_progress(db: Path) -> None:
    calls: list[tuple[int, int | None]] = []

    class Recorder:
        def update(self, done: int, total: int | None) -> None:
            calls.append((done, total))

    snap = inspect_sqlite(
        db, name="l", include=("a*", "b*", "r*"), exclude=("book",), progress=Recorder()
    )
    assert [c.name for c in snap.collections] == ["author", "review"]
    assert calls == [(0, 2), (1, 2), (2, 2)]


# -- hostile names -----------------------------------------------------------------------------


def test_hostile_identifiers(tmp_path: Path) -> None:
    path = _build(
        tmp_path / "hostile.db",
        HOSTILE,
        [
            (
                'INSERT INTO "select" VALUES (?, ?, ?, ?, ?, ?, ?)',
                ("k", 1, "x", 1.5, "é", "a;b", None),
            )
        ],
    )
    snap = inspect_sqlite(path, name="hostile")
    table = snap.collection("select")
    assert [f.name for f in table.fields] == [
        "class", "my col", 'we"ird', "1st", "naïve", "drop;table", "group",
    ]  # fmt: skip
    assert table.primary_key == ("class",)
    assert table.field("my col").default == "0"
    assert table.field('we"ird').type.enum_values == ("x", "y")
    assert table.indexes == (IndexSpec(name='idx "odd" name', fields=("drop;table", "naïve")),)
    assert table.foreign_keys[0].ref_fields == ("my col",)
    assert table.stats is not None and table.stats.row_estimate == 1
    assert table.stats.fields["naïve"].null_ratio == 0.0
    view = snap.collection("view; DROP TABLE x")
    assert [f.name for f in view.fields] == ["class", 'we"ird']
    assert view.stats is not None and view.stats.row_estimate == 1


def test_quote_ident() -> None:
    assert quote_ident("plain") == '"plain"'
    assert quote_ident('we"ird') == '"we""ird"'
    conn = sqlite3.connect(":memory:")
    for name in ['we"ird', "drop;table", "select", "naïve", "1st", 'a""b', "x' OR '1"]:
        conn.execute(f"CREATE TABLE {quote_ident(name)} ({quote_ident(name)} INT)")
        conn.execute(f"INSERT INTO {quote_ident(name)} VALUES (1)")
        cols = conn.execute("SELECT name FROM pragma_table_info(?)", (name,)).fetchall()
        assert cols == [(name,)]


# -- safety and errors -------------------------------------------------------------------------


def test_read_only_file_untouched(db: Path) -> None:
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    siblings = sorted(p.name for p in db.parent.iterdir())
    inspect_sqlite(db, name="library")
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in db.parent.iterdir()) == siblings


def test_missing_file_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(InspectError, match=r"nope\.db.*does not exist"):
        inspect_sqlite(missing, name="x")
    with pytest.raises(InspectError, match="nope"):
        inspect_sqlite(f"sqlite:///{missing}", name="x")
    assert not missing.exists()


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite, just text that is long enough to have a header" * 20)
    with pytest.raises(InspectError, match=r"junk\.db"):
        inspect_sqlite(junk, name="x")
    with pytest.raises(InspectError, match="not a file"):
        inspect_sqlite(tmp_path, name="x")


def test_url_forms(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_path("sqlite:////abs/path.db") == Path("/abs/path.db")
    assert sqlite_path("sqlite:///rel/path.db") == Path("rel/path.db")
    assert sqlite_path("sqlite:///my%20file.db") == Path("my file.db")
    assert sqlite_path("plain.db") == Path("plain.db")
    with pytest.raises(InspectError, match="sqlite:///"):
        sqlite_path("sqlite://host/x.db")
    absolute = inspect_sqlite(f"sqlite:///{db}", name="library")  # sqlite:////abs
    monkeypatch.chdir(db.parent)
    relative = inspect_sqlite(f"sqlite:///{db.name}", name="library")
    assert dumps_snapshot(absolute) == dumps_snapshot(relative)


def test_odd_file_names_are_uri_escaped(tmp_path: Path) -> None:
    path = _build(tmp_path / "we?ird #name%20.db", "CREATE TABLE t (a INT);")
    assert [c.name for c in inspect_sqlite(path, name="x").collections] == ["t"]


def test_deterministic(db: Path) -> None:
    first = dumps_snapshot(inspect_sqlite(db, name="library"))
    second = dumps_snapshot(inspect_sqlite(str(db), name="library"))
    assert first == second


# -- the DDL reader ----------------------------------------------------------------------------


def test_tokenizer_keeps_quoted_text_whole() -> None:
    sql = "CREATE TABLE \"a,(b\" ([c)], 'd'')', `e``f` -- x, (\n /* ) */ 1.5e-3)"
    tokens = tokenize(sql)
    assert [t.kind for t in tokens] == [
        "word", "word", "ident", "punct", "ident", "punct", "string", "punct", "ident",
        "number", "punct",
    ]  # fmt: skip
    assert tokens[-2].text == "1.5e-3"


def test_parse_create_table() -> None:
    parsed = parse_create_table(
        'CREATE TABLE IF NOT EXISTS "t" ('
        "  id INTEGER CONSTRAINT pk PRIMARY KEY DESC AUTOINCREMENT,"
        "  v TEXT DEFAULT (lower('CHECK (x)')) CHECK (v <> ','),"
        "  CONSTRAINT c1 CHECK (id > 0), CHECK ((v IN ('a', 'b')))"
        ") WITHOUT ROWID, STRICT"
    )
    assert parsed.without_rowid
    assert parsed.columns["id"].autoincrement and parsed.columns["id"].pk_desc
    assert [(c.name, c.expression, c.column) for c in parsed.checks] == [
        (None, "v <> ','", "v"),
        ("c1", "id > 0", None),
        (None, "(v IN ('a', 'b'))", None),
    ]
    assert parse_create_table("CREATE TABLE t AS SELECT 1 AS x").checks == []


def test_parse_create_index() -> None:
    parsed = parse_create_index(
        'CREATE UNIQUE INDEX i ON "t" (lower("a, b") COLLATE NOCASE DESC, c) WHERE c IS NOT NULL;'
    )
    assert parsed.terms == ('lower("a, b")', "c")
    assert parsed.where == "c IS NOT NULL"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("s IN ('a','b')", ("s", ("a", "b"))),
        ("\"my col\" IN ('x')", ("my col", ("x",))),
        ("[s] in ('a', 'it''s')", ("s", ("a", "it's"))),
        ("`s` IN (3, -1, 2)", ("s", (3, -1, 2))),
        ("((s IN ('a')))", ("s", ("a",))),
        ("s IN ('a', 1)", None),
        ("s IN (1.5)", None),
        ("s NOT IN ('a')", None),
        ("s IN ('a') OR s IS NULL", None),
        ("lower(s) IN ('a')", None),
        ("s IN (SELECT x FROM y)", None),
    ],
)
def test_parse_in_list(expression: str, expected: object) -> None:
    assert parse_in_list(expression) == expected


@pytest.mark.parametrize(
    ("declared", "kind", "extra"),
    [
        ("INTEGER", LogicalType.INT, {}),
        ("unsigned big int", LogicalType.INT, {}),
        ("POINT", LogicalType.INT, {}),  # SQLite's affinity rule 1: contains INT
        ("NVARCHAR(30)", LogicalType.STR, {"max_length": 30}),
        ("CHARACTER VARYING(8)", LogicalType.STR, {"max_length": 8}),
        ("CLOB", LogicalType.STR, {}),
        ("DOUBLE PRECISION", LogicalType.FLOAT, {}),
        ("FLOATING", LogicalType.FLOAT, {}),
        ("NUMERIC", LogicalType.DECIMAL, {}),
        ("decimal(5)", LogicalType.DECIMAL, {"precision": 5}),
        ("TIMESTAMP", LogicalType.DATETIME, {"tz_aware": False}),
        ("TIMESTAMP WITH TIME ZONE", LogicalType.DATETIME, {"tz_aware": True}),
        ("bool", LogicalType.BOOL, {}),
        ("jsonb", LogicalType.JSON, {}),
        ("blob", LogicalType.BYTES, {}),
    ],
)
def test_map_declared_type(declared: str, kind: LogicalType, extra: dict[str, object]) -> None:
    assert map_declared_type(declared) == TypeSpec(kind=kind, **extra)


def test_unmappable_declared_types_defer_to_values() -> None:
    assert map_declared_type("") is None
    assert map_declared_type("MONEY") is None
    assert map_declared_type("GEOMETRY") is None


def test_wide_numeric_columns_warn_about_sqlite_precision(tmp_path: Path) -> None:
    path = tmp_path / "money.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, small NUMERIC(10,2), big NUMERIC(30,10))")
    con.close()
    snap = inspect_sqlite(path, name="money")
    assert [w for w in snap.warnings if "t.big" in w and "REAL" in w]
    assert not [w for w in snap.warnings if "t.small" in w]
