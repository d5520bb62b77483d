"""Scripted drift on PostgreSQL: inspect → snapshot, change the live database, `xrepo check
--live` → the expected classified changes and exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from drift_cli import baseline, live_check, write_config
from pg import run_sql

BASE = """
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE users (
    id serial PRIMARY KEY,
    name text NOT NULL,
    nick text,
    age integer,
    score integer,
    m mood
);
CREATE TABLE posts (id serial PRIMARY KEY, title text);
INSERT INTO users (name, nick, age, score, m) VALUES ('ann', 'a', 31, 5, 'ok');
"""

# (mutation, expected changes as (collection, field, severity, kind), exit code with the
# default --fail-on any, exit code with --fail-on breaking)
SCENARIOS: dict[str, tuple[str, set[tuple[str, str | None, str, str]], int]] = {
    "add nullable column": (
        "ALTER TABLE users ADD COLUMN bio text",
        {("users", "bio", "additive", "field_added")},
        0,
    ),
    "add NOT NULL column without default": (
        "ALTER TABLE posts ADD COLUMN slug text NOT NULL",
        {("posts", "slug", "breaking", "field_added")},
        1,
    ),
    "drop column": (
        "ALTER TABLE users DROP COLUMN age",
        {("users", "age", "breaking", "field_removed")},
        1,
    ),
    "change type incompatibly": (
        "ALTER TABLE users ALTER COLUMN age TYPE text",
        {("users", "age", "breaking", "type"), ("users", "age", "cosmetic", "source_type")},
        1,
    ),
    "widen a type": (
        "ALTER TABLE users ALTER COLUMN score TYPE numeric",
        {("users", "score", "additive", "type"), ("users", "score", "cosmetic", "source_type")},
        0,
    ),
    "add NOT NULL": (
        "ALTER TABLE users ALTER COLUMN nick SET NOT NULL",
        {("users", "nick", "breaking", "nullable"), ("users", "nick", "breaking", "required")},
        1,
    ),
    "drop NOT NULL": (
        # Readers now get `str | None`; writers may leave it out.
        "ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
        {("users", "name", "breaking", "nullable"), ("users", "name", "additive", "required")},
        1,
    ),
    "add an enum value": (
        "ALTER TYPE mood ADD VALUE 'happy'",
        {("users", "m", "additive", "type")},
        0,
    ),
    "drop a table": (
        "DROP TABLE posts",
        {("posts", None, "breaking", "collection_removed")},
        1,
    ),
    "add a table": (
        "CREATE TABLE tags (id serial PRIMARY KEY, label text)",
        {("tags", None, "additive", "collection_added")},
        0,
    ),
    "rename a column": (
        "ALTER TABLE users RENAME COLUMN nick TO handle",
        {
            ("users", "nick", "breaking", "field_removed"),
            ("users", "handle", "additive", "field_added"),
        },
        1,
    ),
    "change the primary key": (
        "ALTER TABLE posts DROP CONSTRAINT posts_pkey;"
        " ALTER TABLE posts ADD PRIMARY KEY (id, title)",
        {
            ("posts", None, "breaking", "primary_key"),
            ("posts", "title", "breaking", "nullable"),
            ("posts", "title", "breaking", "required"),
        },
        1,
    ),
    "add an index": (
        "CREATE INDEX users_name ON users (name)",
        {("users", None, "cosmetic", "indexes")},
        0,
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_postgres_drift(
    scenario: str, pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutation, expected, exit_breaking = SCENARIOS[scenario]
    run_sql(pg_dsn, BASE)
    monkeypatch.setenv("XREPO_DRIFT_PG", pg_dsn)
    write_config(tmp_path, 'name = "app"\nkind = "postgres"\nurl_env = "XREPO_DRIFT_PG"')
    baseline(tmp_path)
    run_sql(pg_dsn, mutation)
    code, changes = live_check(tmp_path)
    assert changes == expected
    assert code == 1  # --fail-on any: every drift fails
    code, _ = live_check(tmp_path, "--fail-on", "breaking")
    assert code == exit_breaking


def test_rows_changing_is_not_drift(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Volatile stats are ignored by default; --stats compares them (past the threshold)."""
    run_sql(pg_dsn, BASE)
    monkeypatch.setenv("XREPO_DRIFT_PG", pg_dsn)
    write_config(tmp_path, 'name = "app"\nkind = "postgres"\nurl_env = "XREPO_DRIFT_PG"')
    baseline(tmp_path)
    run_sql(
        pg_dsn,
        "INSERT INTO users (name) SELECT 'x' || g FROM generate_series(1, 50) g; ANALYZE users",
    )
    assert live_check(tmp_path) == (0, set())
    code, changes = live_check(tmp_path, "--stats")
    assert code == 1
    assert ("users", "nick", "statistical", "null_ratio") in changes
    assert {c[2] for c in changes} == {"statistical"}
