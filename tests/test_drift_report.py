"""The drift report's three renderings: JSON (validated against docs/drift-report.schema.json),
GitHub workflow commands, and text (colour only when asked); --fail-on and exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from drift_cli import SCHEMA_FILE, baseline, report, report_validator, run, write_config
from jsonschema.exceptions import ValidationError

from xrepo.codegen.diff import Change
from xrepo.codegen.report import DriftReport, SourceDrift, render_github, render_text
from xrepo.codegen.writer import TreeDiff


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "app.db") as con:
        con.executescript(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER);"
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);"
        )
    write_config(tmp_path, 'name = "app"\npath = "app.db"')
    baseline(tmp_path)
    return tmp_path


def _drift(project: Path) -> None:
    """One breaking (age dropped), one additive (bio), one cosmetic (an index)."""
    with sqlite3.connect(project / "app.db") as con:
        con.executescript(
            "ALTER TABLE users DROP COLUMN age; ALTER TABLE users ADD COLUMN bio TEXT;"
            "CREATE INDEX posts_title ON posts (title);"
        )


def test_offline_check_json_is_valid_clean_and_dirty(project: Path) -> None:
    payload = report(run(project, "check", "--format", "json"))
    assert payload["clean"] and not payload["failed"] and not payload["live"]
    assert payload["sources"] == [] and payload["changed"] == []
    (project / "generated" / "app" / "repos.py").unlink()
    r = run(project, "check", "--format", "json")
    assert r.exit_code == 1
    payload = report(r)
    assert payload["missing"] == ["app/repos.py"] and payload["failed"]


def test_live_check_json_is_valid_and_counts(project: Path) -> None:
    _drift(project)
    r = run(project, "check", "--live", "--format", "json")
    assert r.exit_code == 1
    payload = report(r)
    assert payload["summary"] == {"breaking": 1, "additive": 1, "statistical": 0, "cosmetic": 1}
    (source,) = payload["sources"]
    assert source["old"] == "schemas/app.json" and source["new"] == "live"
    assert source["kind"] == "sqlite"
    assert [c["severity"] for c in source["changes"]] == ["cosmetic", "breaking", "additive"]


def test_diff_json_is_valid(project: Path) -> None:
    old = project / "schemas" / "app.json"
    _drift(project)
    run(project, "inspect")
    new = project / "new.json"
    new.write_bytes(old.read_bytes())
    r = run(project, "diff", str(old), str(old), "--format", "json")
    assert r.exit_code == 0 and report(r)["clean"]
    payload = report(run(project, "diff", str(old), str(new), "--format", "json"))
    assert payload["command"] == "diff" and "changed" not in payload


def test_the_schema_rejects_what_it_does_not_describe() -> None:
    validator = report_validator()
    good: dict[str, Any] = {
        "version": 1,
        "command": "diff",
        "live": False,
        "clean": True,
        "failed": False,
        "fail_on": "any",
        "summary": {"breaking": 0, "additive": 0, "statistical": 0, "cosmetic": 0},
        "sources": [],
    }
    validator.validate(good)
    for bad in (
        {**good, "version": 2},
        {**good, "extra": 1},
        {**good, "command": "check"},  # check requires the generated-file lists
        {k: v for k, v in good.items() if k != "summary"},
        {
            **good,
            "sources": [
                {
                    "name": "a",
                    "kind": "sqlite",
                    "old": "a",
                    "new": "b",
                    "changes": [
                        {
                            "collection": "t",
                            "field": None,
                            "severity": "fatal",
                            "kind": "x",
                            "message": "m",
                        }
                    ],
                }
            ],
        },
    ):
        with pytest.raises(ValidationError):
            validator.validate(bad)
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["properties"]["version"] == {
        "const": 1
    }


@pytest.mark.parametrize(("fail_on", "code"), [("any", 1), ("additive", 1), ("breaking", 0)])
def test_fail_on_thresholds(project: Path, fail_on: str, code: int) -> None:
    with sqlite3.connect(project / "app.db") as con:
        con.executescript("ALTER TABLE users ADD COLUMN bio TEXT")  # additive only
    assert run(project, "check", "--live", "--fail-on", fail_on).exit_code == code


def test_cosmetic_only_fails_only_on_any(project: Path) -> None:
    with sqlite3.connect(project / "app.db") as con:
        con.executescript("CREATE INDEX users_name ON users (name)")
    assert run(project, "check", "--live").exit_code == 1
    assert run(project, "check", "--live", "--fail-on", "additive").exit_code == 0


def test_github_annotations(project: Path) -> None:
    _drift(project)
    (project / "generated" / "app" / "repos.py").unlink()
    r = run(project, "check", "--live", "--format", "github")
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert lines[0].startswith("::error file=generated/app/repos.py,title=xrepo%3A generated")
    snapshot = (project / "schemas" / "app.json").read_text(encoding="utf-8").splitlines()
    age = next(ln for ln in lines if "users.age" in ln)
    assert age.startswith("::error file=schemas/app.json,line=")
    line_no = int(age.split("line=")[1].split(",")[0])
    assert snapshot[line_no - 1].strip() == '"name": "age",'
    bio = next(ln for ln in lines if "users.bio" in ln)
    assert bio.startswith("::warning file=schemas/app.json,line=")
    assert "::users.bio: optional field added" in bio
    index = next(ln for ln in lines if ln.startswith("::notice"))
    line_no = int(index.split("line=")[1].split(",")[0])
    assert snapshot[line_no - 1].strip() == '"name": "posts",'
    assert lines[-1] == (
        "xrepo check: failed (--fail-on any); 3 change(s): 1 breaking, 1 additive, 1 cosmetic"
    )


def test_github_commands_escape_their_data() -> None:
    change = Change("t,1", "a:b", "breaking", "type", "100% wrong\nsecond line")
    drift = SourceDrift("s", "csv", "old.json", "new.json", (change,), "new.json", "")
    out = render_github(DriftReport(command="diff", fail_on="any", sources=(drift,)))
    first = out.splitlines()[0]
    assert first.startswith("::error file=new.json,title=xrepo breaking drift (type) in s::")
    assert first.endswith("t,1.a:b: 100%25 wrong%0Asecond line (old.json → new.json)")


def test_text_is_colored_only_when_asked(project: Path) -> None:
    _drift(project)
    r = run(project, "check", "--live")  # CliRunner's stdout is not a terminal
    assert "\x1b[" not in r.output
    assert "breaking    users.age: field removed" in r.output
    assert "schemas/app.json → live source 'app':" in r.output
    assert "xrepo inspect app && xrepo generate" in r.output
    change = Change("users", "age", "breaking", "field_removed", "field removed")
    drift = SourceDrift("app", "sqlite", "schemas/app.json", "live", (change,))
    colored = render_text(
        DriftReport(command="check", fail_on="any", sources=(drift,), live=True, tree=TreeDiff()),
        color=True,
    )
    assert "\x1b[31m" in colored  # red for breaking


def test_no_drift_text(project: Path) -> None:
    r = run(project, "check", "--live")
    assert r.exit_code == 0
    assert r.output == "generated: up to date\nschemas/app.json: matches the live source 'app'\n"


def test_naming_a_source_without_live_is_an_error(project: Path) -> None:
    r = run(project, "check", "app")
    assert r.exit_code == 2 and "--live" in r.stderr
    r = run(project, "check", "--live", "nope")
    assert r.exit_code == 2 and "no source named 'nope'" in r.stderr
    assert run(project, "check", "--live", "app").exit_code == 0


def test_live_check_skips_sources_without_a_snapshot(project: Path) -> None:
    (project / "schemas" / "app.json").unlink()
    r = run(project, "check", "--live", "--format", "json")
    assert r.exit_code == 1
    payload = report(r)
    assert payload["missing_snapshots"] == ["app"] and payload["sources"] == []


def test_stat_threshold_is_validated(project: Path) -> None:
    r = run(project, "check", "--live", "--stat-threshold", "0")
    assert r.exit_code == 2
    r = run(project, "check", "--live", "--stat-threshold", "1.5")
    assert r.exit_code == 2
