"""Scripted drift on file sources (SQLite, CSV, JSON), the minimal regeneration after drift, and
an unreachable source."""

from __future__ import annotations

import difflib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from drift_cli import baseline, live_check, run, write_config

Expected = set[tuple[str, str | None, str, str]]


def _sqlite(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as con:
        con.executescript(sql)


SQLITE_BASE = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER);
CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, user_id INTEGER REFERENCES users(id));
INSERT INTO users VALUES (1, 'ann', 31);
INSERT INTO posts VALUES (1, 'hello', 1);
"""

SQLITE: dict[str, tuple[str, Expected, int]] = {
    "add a nullable column": (
        "ALTER TABLE users ADD COLUMN bio TEXT",
        {("users", "bio", "additive", "field_added")},
        0,
    ),
    "add a NOT NULL column with a default": (
        "ALTER TABLE users ADD COLUMN tier TEXT NOT NULL DEFAULT 'free'",
        {("users", "tier", "additive", "field_added")},
        0,
    ),
    "drop a column": (
        "ALTER TABLE users DROP COLUMN age",
        {("users", "age", "breaking", "field_removed")},
        1,
    ),
    "drop a table": (
        "DROP TABLE posts",
        {("posts", None, "breaking", "collection_removed")},
        1,
    ),
    "add an index": (
        "CREATE INDEX users_name ON users (name)",
        {("users", None, "cosmetic", "indexes")},
        0,
    ),
}


@pytest.mark.parametrize("scenario", sorted(SQLITE))
def test_sqlite_drift(scenario: str, tmp_path: Path) -> None:
    mutation, expected, exit_breaking = SQLITE[scenario]
    _sqlite(tmp_path / "app.db", SQLITE_BASE)
    write_config(tmp_path, 'name = "app"\npath = "app.db"')
    baseline(tmp_path)
    _sqlite(tmp_path / "app.db", mutation)
    assert live_check(tmp_path) == (1, expected)
    assert live_check(tmp_path, "--fail-on", "breaking") == (exit_breaking, expected)


def _csv(rows: list[list[object]]) -> str:
    return "".join(",".join(str(v) for v in row) + "\n" for row in rows)


CSV_BASE = _csv([["id", "name", "score"], *([i, f"n{i}", i * 2] for i in range(30))])
CSV: dict[str, tuple[str, Expected]] = {
    # Some rows leave it empty: nullable, so writers need not give it.
    "a column is added (with gaps)": (
        _csv(
            [
                ["id", "name", "score", "note"],
                *([i, f"n{i}", i * 2, "x" if i % 2 else ""] for i in range(30)),
            ]
        ),
        {("people", "note", "additive", "field_added")},
    ),
    # Every row has a value: the create model requires it, so writers break.
    "a column is added (always filled)": (
        _csv([["id", "name", "score", "rank"], *([i, f"n{i}", i * 2, i] for i in range(30))]),
        {("people", "rank", "breaking", "field_added")},
    ),
    "a column is removed": (
        _csv([["id", "name"], *([i, f"n{i}"] for i in range(30))]),
        {("people", "score", "breaking", "field_removed")},
    ),
    "a column's values change type": (
        _csv([["id", "name", "score"], *([i, f"n{i}", f"s{i}"] for i in range(30))]),
        {("people", "score", "breaking", "type")},
    ),
    "a column's values widen": (
        _csv([["id", "name", "score"], *([i, f"n{i}", i * 2.5] for i in range(30))]),
        {("people", "score", "additive", "type")},
    ),
}


@pytest.mark.parametrize("scenario", sorted(CSV))
def test_csv_drift(scenario: str, tmp_path: Path) -> None:
    text, expected = CSV[scenario]
    (tmp_path / "people.csv").write_text(CSV_BASE, encoding="utf-8")
    write_config(tmp_path, 'name = "people"\npath = "people.csv"')
    baseline(tmp_path)
    (tmp_path / "people.csv").write_text(text, encoding="utf-8")
    assert live_check(tmp_path) == (1, expected)


def test_json_file_statistical_drift(tmp_path: Path) -> None:
    """JSON files are schemaless: a field's presence moving past the threshold is drift."""
    docs = [{"id": i, "name": f"n{i}", "email": "e@x.org"} for i in range(20)]
    data = tmp_path / "people.json"
    data.write_text(json.dumps(docs), encoding="utf-8")
    write_config(tmp_path, 'name = "people"\npath = "people.json"')
    baseline(tmp_path)
    for d in docs[:6]:
        del d["email"]
    data.write_text(json.dumps(docs), encoding="utf-8")
    code, changes = live_check(tmp_path)
    assert code == 1
    assert ("people", "email", "statistical", "presence") in changes
    assert ("people", "email", "breaking", "may_be_missing") in changes


# -- after drift, `inspect && generate` touches only what drifted ----------------------------

_TOP = re.compile(r"^(?:class (\w+)|(\w+) = )")


def _owners(text: str, changed: set[int]) -> set[str]:
    """The top-level class / assignment each changed line (1-based) belongs to."""
    owner, out = "<module>", set()
    for no, line in enumerate(text.splitlines(), 1):
        m = _TOP.match(line)
        if m:
            owner = m.group(1) or m.group(2)
        if no in changed:
            out.add(owner)
    return out


def _changed_lines(before: str, after: str) -> set[int]:
    """1-based line numbers of ``after`` that are new or replaced (header lines excluded)."""
    out: set[int] = set()
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            out |= set(range(j1 + 1, j2 + 1))
    return {n for n in out if n > 2}  # line 1 is the header naming the snapshot's hash


def test_regenerating_after_drift_changes_only_the_drifted_collection(tmp_path: Path) -> None:
    _sqlite(tmp_path / "app.db", SQLITE_BASE)
    (tmp_path / "people.csv").write_text(CSV_BASE, encoding="utf-8")
    write_config(tmp_path, 'name = "app"\npath = "app.db"', 'name = "people"\npath = "people.csv"')
    baseline(tmp_path)
    out = tmp_path / "generated"
    before = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.py")}

    _sqlite(tmp_path / "app.db", "ALTER TABLE users ADD COLUMN bio TEXT")
    assert live_check(tmp_path)[0] == 1
    assert run(tmp_path, "inspect").exit_code == 0
    assert run(tmp_path, "generate").exit_code == 0
    after = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.py")}

    assert before.keys() == after.keys()
    changed = {rel for rel in before if before[rel] != after[rel]}
    # the other source is untouched; in the drifted source only the header hash moves...
    assert not any(rel.startswith("people/") for rel in changed)
    bodies = {rel for rel in changed if _changed_lines(before[rel], after[rel])}
    # ...except in models.py, where only the users collection's classes change
    assert bodies == {"app/models.py"}
    lines = _changed_lines(before["app/models.py"], after["app/models.py"])
    owners = _owners(after["app/models.py"], lines)
    assert owners == {"User", "UserCreate", "UserUpdate", "UserFilter", "UserField"}
    added = [
        ln
        for ln in difflib.unified_diff(
            before["app/models.py"].splitlines(), after["app/models.py"].splitlines(), n=0
        )
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    assert all("bio" in ln or ln.startswith("+# Generated by xrepo") for ln in added)
    # and the project is consistent again
    assert live_check(tmp_path) == (0, set())
    assert run(tmp_path, "check").exit_code == 0


# -- unreachable and unreadable sources ------------------------------------------------------


def _one_line(result_stderr: str) -> str:
    lines = [ln for ln in result_stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result_stderr
    assert "Traceback" not in result_stderr
    return lines[0]


def test_live_check_on_a_missing_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(CSV_BASE, encoding="utf-8")
    write_config(tmp_path, 'name = "people"\npath = "people.csv"')
    baseline(tmp_path)
    (tmp_path / "people.csv").unlink()
    r = run(tmp_path, "check", "--live")
    assert r.exit_code == 2
    line = _one_line(r.stderr)
    assert line.startswith("xrepo: error:") and "people.csv" in line and "no such file" in line
    assert r.stdout == ""
    # the offline check does not touch the source
    assert run(tmp_path, "check").exit_code == 0


@pytest.mark.parametrize(
    ("kind", "url", "words"),
    [
        ("postgres", "postgresql://xrepo@127.0.0.1:1/nowhere", "cannot connect"),
        ("redis", "redis://127.0.0.1:1/0", "127.0.0.1:1"),
    ],
)
def test_live_check_on_an_unreachable_server_exits_2_with_one_line(
    kind: str, url: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A committed snapshot from earlier (any valid one of this source) and generated code.
    snapshot = {
        "format": 1,
        "source": {"name": "remote", "kind": kind},
        "collections": [
            {
                "name": "t",
                "kind": "table" if kind == "postgres" else "key_pattern",
                "fields": [{"name": "id", "type": {"kind": "int"}, "nullable": False}],
            }
        ],
    }
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "remote.json").write_text(json.dumps(snapshot), encoding="utf-8")
    monkeypatch.setenv("XREPO_DRIFT_URL", url)
    write_config(tmp_path, f'name = "remote"\nkind = "{kind}"\nurl_env = "XREPO_DRIFT_URL"')
    assert run(tmp_path, "generate").exit_code == 0
    r = run(tmp_path, "check", "--live", "--format", "json")
    assert r.exit_code == 2
    line = _one_line(r.stderr)
    assert line.startswith("xrepo: error:") and "remote" in line and words in line, line
    assert r.stdout == ""
