"""The CI integration users copy: the pre-commit hooks and the documented workflow run commands
that exist, and the documented JSON example is valid against the published schema."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml
from drift_cli import report_validator

from xrepo.codegen.cli import main

ROOT = Path(__file__).resolve().parents[1]
CI_DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", CI_DOC, flags=re.DOTALL)


def _accepts(command: str) -> None:
    """The xrepo command line parses (options and choices exist); nothing runs."""
    words = shlex.split(command)
    assert words[0] == "xrepo", command
    parent = click.Context(main, info_name="xrepo")
    sub = main.get_command(parent, words[1])
    assert sub is not None, command
    with sub.make_context(words[1], words[2:], parent=parent):
        pass


def test_pre_commit_hooks() -> None:
    hooks: list[dict[str, Any]] = yaml.safe_load(
        (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    )
    assert {h["id"] for h in hooks} == {"xrepo-check", "xrepo-generate"}
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        _accepts(hook["entry"])
        assert re.search(hook["files"], "schemas/app.json")
        assert not re.search(hook["files"], "src/app/main.py")
    check = next(h for h in hooks if h["id"] == "xrepo-check")
    assert check["entry"] == "xrepo check"  # offline: no database in a commit hook
    assert re.search(check["files"], "generated/app/models.py")


def test_documented_workflow_runs_real_commands() -> None:
    workflows = [yaml.safe_load(b) for b in _blocks("yaml") if "jobs:" in b]
    assert len(workflows) == 1
    jobs = workflows[0]["jobs"]
    runs = [
        line.strip()
        for job in jobs.values()
        for step in job["steps"]
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith("xrepo ")
    ]
    assert "xrepo check --format github" in runs
    assert any(r.startswith("xrepo check --live --format github") for r in runs)
    for command in runs:
        command = command.split(" > ")[0].split(" || ")[0]
        command = command.replace('"$old" "$new"', "old.json new.json")
        _accepts(command)
    assert "services" in jobs["live-services"]
    assert "secrets." in json.dumps(jobs["live-production"]["env"])


def test_documented_json_report_is_valid() -> None:
    (example,) = _blocks("json")
    report_validator().validate(json.loads(example))


def test_click_is_what_parsed_the_commands() -> None:
    # guard for _accepts: a wrong option must be refused
    try:
        _accepts("xrepo check --no-such-option")
    except click.UsageError:
        return
    raise AssertionError("an unknown option was accepted")
