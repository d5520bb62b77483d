"""The `xrepo` command end to end in temporary projects: exit codes, one-line errors,
nothing half-written, init → inspect → generate → check."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from xrepo.codegen.cli import main
from xrepo.runtime.schema import snapshot_json_schema

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(tmp: Path, *args: str) -> Result:
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(tmp)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "shop.db", tmp_path / "shop.db")
    shutil.copy(EXAMPLES / "penguins.csv", tmp_path / "penguins.csv")
    shutil.copy(EXAMPLES / "catalog.json", tmp_path / "catalog.json")
    return tmp_path


def test_init_inspect_generate_check_roundtrip(project: Path) -> None:
    r = run(project, "init")
    assert r.exit_code == 0, r.output
    assert "3 source(s)" in r.output
    r = run(project, "inspect")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (project / "schemas").iterdir()) == [
        "catalog.json",
        "penguins.json",
        "shop.json",
    ]
    r = run(project, "generate")
    assert r.exit_code == 0, r.output
    assert (project / "generated" / "shop" / "models.py").is_file()
    assert run(project, "check").exit_code == 0
    assert run(project, "generate", "--check").exit_code == 0
    # a second generate changes nothing
    before = {p: p.read_bytes() for p in (project / "generated").rglob("*.py")}
    assert run(project, "generate").exit_code == 0
    assert before == {p: p.read_bytes() for p in (project / "generated").rglob("*.py")}


def test_check_reports_edited_missing_and_stale_files(project: Path) -> None:
    run(project, "init")
    run(project, "inspect")
    run(project, "generate")
    models = project / "generated" / "shop" / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    (project / "generated" / "penguins" / "repos.py").unlink()
    r = run(project, "check")
    assert r.exit_code == 1
    assert "changed: generated/shop/models.py" in r.output
    assert "+# hand edit" not in r.output or "-# hand edit" in r.output
    assert "missing: generated/penguins/repos.py" in r.output
    r = run(project, "check", "--format", "json")
    payload = json.loads(r.output)
    assert payload["clean"] is False
    assert payload["missing"] == ["penguins/repos.py"]
    # --check writes nothing
    r = run(project, "generate", "--check")
    assert r.exit_code == 1
    assert not (project / "generated" / "penguins" / "repos.py").exists()
    # generate repairs; snapshot removal makes its modules stale, then pruned
    assert run(project, "generate").exit_code == 0
    assert run(project, "check").exit_code == 0
    (project / "schemas" / "catalog.json").unlink()
    r = run(project, "check")
    assert r.exit_code == 1 and "missing snapshot: source 'catalog'" in r.output


def test_inspect_failure_writes_nothing(project: Path) -> None:
    run(project, "init")
    run(project, "inspect")
    before = (project / "schemas" / "shop.json").read_bytes()
    (project / "penguins.csv").unlink()
    (project / "shop.db").unlink()
    shutil.copy(EXAMPLES / "catalog.json", project / "shop.db")  # not a database any more
    r = run(project, "inspect")
    line = one_line_error(r)
    assert "shop" in line or "penguins" in line
    assert (project / "schemas" / "shop.json").read_bytes() == before
    assert not [p for p in (project / "schemas").iterdir() if p.name.endswith(".tmp")]


def test_inspect_url_detects_kind(project: Path) -> None:
    r = run(project, "inspect", "--url", "penguins.csv", "--name", "birds")
    assert r.exit_code == 0, r.output
    snap = json.loads((project / "schemas" / "birds.json").read_text(encoding="utf-8"))
    assert snap["source"]["kind"] == "csv"
    r = run(project, "inspect", "--url", "sqlite:///shop.db", "--name", "shop2")
    assert r.exit_code == 0, r.output
    assert (
        json.loads((project / "schemas" / "shop2.json").read_text())["source"]["kind"] == "sqlite"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("inspect", "--url", "notes.txt"), "cannot tell the source kind"),
        (("inspect", "--url", "missing.csv", "--name", "m"), "missing.csv"),
        (
            ("inspect", "--url", "postgresql://u:s3cret@127.0.0.1:1/x", "--name", "pg"),
            "127.0.0.1:1",
        ),
        (("inspect", "--url", "mongodb://u:s3cret@127.0.0.1:1/x", "--name", "m"), "not reachable"),
        (
            ("inspect", "--url", "redis://:s3cret@127.0.0.1:1/0", "--name", "r"),
            "cannot reach Redis",
        ),
        (("inspect", "nosuch"), "no source named 'nosuch'"),
        (("generate",), "run `xrepo inspect` first"),
    ],
)
def test_bad_input_exits_2_with_one_line(project: Path, args: tuple[str, ...], needle: str) -> None:
    if args[0] == "inspect" and args[1] == "nosuch":
        run(project, "init")
    line = one_line_error(run(project, *args))
    assert needle in line
    assert "s3cret" not in line  # credentials never reach the terminal


def test_unknown_snapshot_format_is_named(project: Path) -> None:
    run(project, "init")
    run(project, "inspect")
    path = project / "schemas" / "shop.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["format"] = 99
    path.write_text(json.dumps(data), encoding="utf-8")
    line = one_line_error(run(project, "generate"))
    assert "schemas/shop.json" in line and "$.format" in line and "99" in line
    data["format"] = 1
    data["collections"][0]["fields"][0]["type"]["kind"] = "varchar"
    path.write_text(json.dumps(data), encoding="utf-8")
    line = one_line_error(run(project, "generate"))
    assert "$.collections[0].fields[0].type.kind" in line


def test_bad_config_exits_2(tmp_path: Path) -> None:
    (tmp_path / "xrepo.toml").write_text("[[sources]]\nname = 1\n", encoding="utf-8")
    line = one_line_error(run(tmp_path, "inspect"))
    assert "xrepo.toml" in line and "sources[0].name" in line


def test_diff_command_classifies_and_sets_exit_code(project: Path) -> None:
    run(project, "init")
    run(project, "inspect")
    old = project / "schemas" / "shop.json"
    data = json.loads(old.read_text(encoding="utf-8"))
    coll = next(c for c in data["collections"] if c["name"] == "customers")
    coll["fields"] = [f for f in coll["fields"] if f["name"] != "website"]
    new = project / "new.json"
    new.write_text(json.dumps(data), encoding="utf-8")
    r = run(project, "diff", str(old), str(new))
    assert r.exit_code == 1
    assert "breaking" in r.output and "customers.website: field removed" in r.output
    r = run(project, "diff", str(old), str(new), "--format", "json")
    assert json.loads(r.output)["sources"][0]["changes"][0]["severity"] == "breaking"
    assert run(project, "diff", str(old), str(old)).exit_code == 0
    r = run(project, "diff", str(new), str(old), "--fail-on", "breaking")
    assert r.exit_code == 0 and "additive" in r.output


def test_schema_command_matches_published_schema(tmp_path: Path) -> None:
    r = run(tmp_path, "schema")
    assert r.exit_code == 0
    published = (ROOT / "docs" / "snapshot-v1.schema.json").read_text(encoding="utf-8")
    assert json.loads(r.output) == snapshot_json_schema() == json.loads(published)
    assert r.output == published


def test_source_without_collections_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("[]", encoding="utf-8")
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()
    line = one_line_error(run(tmp_path, "inspect", "--url", "empty.db", "--name", "e"))
    assert "found no collections" in line
    (tmp_path / "xrepo.toml").write_text(
        '[[sources]]\nname = "shop"\npath = "shop.db"\ninclude = ["nothing*"]\n', encoding="utf-8"
    )
    shutil.copy(EXAMPLES / "shop.db", tmp_path / "shop.db")
    line = one_line_error(run(tmp_path, "inspect"))
    assert "found no collections" in line and "include" in line
    assert not (tmp_path / "schemas" / "shop.json").exists()


def test_inspect_url_name_and_kind_options(project: Path) -> None:
    line = one_line_error(run(project, "inspect", "--url", "shop.db", "--name", "bad-name"))
    assert "--name 'bad-name'" in line
    shutil.copy(project / "penguins.csv", project / "birds.txt")
    r = run(project, "inspect", "--url", "birds.txt", "--name", "birds", "--kind", "csv")
    assert r.exit_code == 0, r.output
    assert (project / "schemas" / "birds.json").is_file()


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.pop("format"), "$.format: missing"),
        (
            lambda d: d["collections"][0].update(primary_key=["nope"]),
            "primary_key names unknown ['nope']",
        ),
        (
            lambda d: d["collections"][0]["fields"].append(d["collections"][0]["fields"][0]),
            "listed twice",
        ),
        (lambda d: d["collections"].append(d["collections"][0]), "collection(s) listed twice"),
    ],
)
def test_inconsistent_snapshot_is_named(project: Path, mutate: Any, needle: str) -> None:
    run(project, "init")
    run(project, "inspect")
    path = project / "schemas" / "shop.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    line = one_line_error(run(project, "generate"))
    assert "schemas/shop.json" in line and needle in line


def test_non_utf8_snapshot_is_named(project: Path) -> None:
    run(project, "init")
    run(project, "inspect")
    (project / "schemas" / "shop.json").write_bytes(b"\xff\xfe{}")
    line = one_line_error(run(project, "generate"))
    assert "schemas/shop.json" in line and "not UTF-8" in line
