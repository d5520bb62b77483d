"""Helpers for the drift tests: a temporary project, the CLI in it, and the JSON report checked
against docs/drift-report.schema.json every time it is read."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from xrepo.codegen.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "docs" / "drift-report.schema.json"

Change = tuple[str, str | None, str, str]  # (collection, field, severity, kind)


@cache
def report_validator() -> Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema)
    return validator


def run(root: Path, *args: str) -> Result:
    old = Path.cwd()
    os.chdir(root)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def write_config(root: Path, *sources: str) -> None:
    """``sources``: TOML bodies of ``[[sources]]`` tables."""
    text = "".join(f"[[sources]]\n{body.strip()}\n\n" for body in sources)
    (root / "xrepo.toml").write_text(text, encoding="utf-8")


def baseline(root: Path) -> None:
    """inspect → snapshot, generate → committed output: the state a user commits."""
    r = run(root, "inspect")
    assert r.exit_code == 0, r.output
    r = run(root, "generate")
    assert r.exit_code == 0, r.output
    clean, _ = live_check(root)
    assert clean == 0, "a freshly inspected source must not drift"


def report(result: Result) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(result.stdout)
    report_validator().validate(payload)
    return payload


def live_check(root: Path, *extra: str) -> tuple[int, set[Change]]:
    """``xrepo check --live --format json``: exit code and the (collection, field, severity,
    kind) of every change, after validating the output against the published schema."""
    r = run(root, "check", "--live", "--format", "json", *extra)
    assert r.exit_code in (0, 1), r.output
    payload = report(r)
    assert payload["live"] is True and payload["command"] == "check"
    assert payload["failed"] == (r.exit_code == 1)
    found = {
        (c["collection"], c["field"], c["severity"], c["kind"])
        for s in payload["sources"]
        for c in s["changes"]
    }
    return r.exit_code, found


def severities(changes: set[Change]) -> set[str]:
    return {c[2] for c in changes}
