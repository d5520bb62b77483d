"""Drift output: the report shared by ``xrepo check`` and ``xrepo diff``, rendered as text (for
people), JSON (for programs: the shape in docs/drift-report.schema.json) or GitHub Actions
workflow commands (annotations on the pull request)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

import click

from .diff import SEVERITIES, Change, FailOn, Severity, counts, fails
from .writer import TreeDiff

#: Version of the JSON report shape; bumped only with an incompatible change.
REPORT_VERSION = 1
Format = Literal["text", "json", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "github")

_COLORS = {"breaking": "red", "additive": "green", "cosmetic": "blue", "statistical": "yellow"}
_LEVELS: dict[Severity, str] = {
    "breaking": "error",
    "additive": "warning",
    "statistical": "warning",
    "cosmetic": "notice",
}


@dataclass(frozen=True)
class SourceDrift:
    """One source's classified changes from ``old`` (a snapshot file) to ``new`` (a snapshot
    file, or ``"live"``: the source as it is now)."""

    name: str
    kind: str
    old: str
    new: str
    changes: tuple[Change, ...]
    #: The file GitHub annotations point at, and its text (to find line numbers).
    annotate: str = ""
    annotate_text: str = ""


@dataclass(frozen=True)
class DriftReport:
    command: Literal["check", "diff"]
    fail_on: FailOn
    sources: tuple[SourceDrift, ...] = ()
    live: bool = False
    #: The offline check (``check`` only): generated/ against what the snapshots produce.
    tree: TreeDiff | None = None
    missing_snapshots: tuple[str, ...] = ()
    #: The output directory as shown to the user (paths in ``tree`` are relative to it).
    out_dir: str = "generated"

    @property
    def changes(self) -> list[Change]:
        return [c for s in self.sources for c in s.changes]

    @property
    def tree_drift(self) -> bool:
        return bool(self.missing_snapshots) or (self.tree is not None and not self.tree.clean)

    @property
    def clean(self) -> bool:
        return not self.tree_drift and not self.changes

    @property
    def failed(self) -> bool:
        """Exit 1: generated files out of date, or a change at or above ``fail_on``."""
        return self.tree_drift or fails(self.changes, self.fail_on)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


# -- text ---------------------------------------------------------------------------------


def render_tree_diff(tree: TreeDiff, out_dir: str) -> str:
    if not (tree.changed or tree.missing or tree.stale):
        return f"{out_dir}: up to date\n"
    lines: list[str] = []
    for path in sorted(tree.missing):
        lines.append(f"missing: {out_dir}/{path} (run `xrepo generate`)")
    for path in sorted(tree.stale):
        lines.append(
            f"stale:   {out_dir}/{path} (no snapshot produces it; `xrepo generate` removes it)"
        )
    for path in sorted(tree.changed):
        lines.append(f"changed: {out_dir}/{path} (edited by hand or out of date)")
    for path in sorted(tree.changed):
        lines.append(tree.changed[path].rstrip("\n"))
    return "\n".join(lines) + "\n"


def _where(c: Change) -> str:
    return (c.collection or "<snapshot>") + (f".{c.field}" if c.field else "")


def _summary(changes: Sequence[Change]) -> str:
    by = counts(list(changes))
    shown = ", ".join(f"{n} {s}" for s, n in by.items() if n)
    return f"{len(changes)} change(s): {shown}"


def render_changes(changes: Sequence[Change], *, color: bool = False) -> str:
    if not changes:
        return "no changes\n"
    lines = []
    for c in changes:
        tag = f"{c.severity:<11}"
        if color:
            tag = click.style(tag, fg=_COLORS[c.severity], bold=c.severity == "breaking")
        lines.append(f"{tag} {_where(c)}: {c.message}")
    return "\n".join(lines) + f"\n{_summary(changes)}\n"


def render_text(report: DriftReport, *, color: bool = False) -> str:
    parts: list[str] = []
    if report.command == "check":
        for name in report.missing_snapshots:
            parts.append(f"missing snapshot: source {name!r} (run `xrepo inspect {name}`)\n")
        if report.tree is not None:
            parts.append(render_tree_diff(report.tree, report.out_dir))
    for s in report.sources:
        if report.command == "diff":
            parts.append(render_changes(s.changes, color=color))
        elif not s.changes:
            parts.append(f"{s.old}: matches the live source {s.name!r}\n")
        else:
            head = f"{s.old} → live source {s.name!r}:"
            parts.append((click.style(head, bold=True) if color else head) + "\n")
            parts.append(render_changes(s.changes, color=color))
            parts.append(f"  (refresh with `xrepo inspect {s.name} && xrepo generate`)\n")
    if report.live and report.changes and report.failed:
        parts.append(f"drift at or above --fail-on {report.fail_on}\n")
    return "".join(parts)


# -- JSON ---------------------------------------------------------------------------------


def report_payload(report: DriftReport) -> dict[str, Any]:
    """The documented shape (docs/drift-report.schema.json); keys only ever get added."""
    payload: dict[str, Any] = {
        "version": REPORT_VERSION,
        "command": report.command,
        "live": report.live,
        "clean": report.clean,
        "failed": report.failed,
        "fail_on": report.fail_on,
        "summary": counts(report.changes),
        "sources": [
            {
                "name": s.name,
                "kind": s.kind,
                "old": s.old,
                "new": s.new,
                "changes": [c.as_dict() for c in s.changes],
            }
            for s in report.sources
        ],
    }
    if report.command == "check":
        tree = report.tree or TreeDiff()
        payload["missing_snapshots"] = list(report.missing_snapshots)
        payload["changed"] = sorted(tree.changed)
        payload["missing"] = sorted(tree.missing)
        payload["stale"] = sorted(tree.stale)
    return payload


def render_json(report: DriftReport) -> str:
    return json.dumps(report_payload(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- GitHub Actions -----------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, message: str, **props: str | int | None) -> str:
    shown = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{level}{' ' + shown if shown else ''}::{_escape_data(message)}"


def _line_of(text: str, change: Change) -> int | None:
    """Where the collection (or its top-level field) is spelt in a snapshot file.

    Snapshots are written with ``indent=2, sort_keys=True``: a collection's ``"name"`` sits at
    6 spaces, after its fields (at 10 spaces). Good enough to place an annotation; None when
    the name is not in this file (e.g. a collection that exists only on the other side).
    """
    if not text or not change.collection:
        return None
    lines = text.splitlines()
    pattern = re.compile(r'^ {6}"name": ' + re.escape(json.dumps(change.collection)) + ",?$")
    end = next((i for i, ln in enumerate(lines) if pattern.match(ln)), None)
    if end is None:
        return None
    if change.field:
        start = next((i for i in range(end, -1, -1) if lines[i] == "    {"), 0)
        top = json.dumps(change.field.split(".")[0])
        wanted = re.compile(r'^ {10}"name": ' + re.escape(top) + ",?$")
        hit = next((i for i in range(start, end) if wanted.match(lines[i])), None)
        if hit is not None:
            return hit + 1
    return end + 1


def _github_lines(report: DriftReport) -> Iterator[str]:
    for name in report.missing_snapshots:
        yield _command(
            "error",
            f"source {name!r} has no snapshot: run `xrepo inspect {name}` and commit it",
            title="xrepo: missing snapshot",
        )
    tree = report.tree or TreeDiff()
    for label, paths, fix in (
        ("missing", tree.missing, "run `xrepo generate` and commit the result"),
        ("stale", tree.stale, "no snapshot produces it; `xrepo generate` removes it"),
        ("changed", tree.changed, "edited by hand or out of date; run `xrepo generate`"),
    ):
        for path in sorted(paths):
            yield _command(
                "error",
                f"generated file {label}: {fix}",
                file=f"{report.out_dir}/{path}",
                title=f"xrepo: generated file {label}",
            )
    for s in report.sources:
        for c in s.changes:
            against = "the live source" if s.new == "live" else s.new
            yield _command(
                _LEVELS[c.severity],
                f"{_where(c)}: {c.message} ({s.old} → {against})",
                file=s.annotate or None,
                line=_line_of(s.annotate_text, c),
                title=f"xrepo {c.severity} drift ({c.kind}) in {s.name}",
            )


def render_github(report: DriftReport) -> str:
    lines = list(_github_lines(report))
    by = counts(report.changes)
    shown = ", ".join(f"{by[s]} {s}" for s in SEVERITIES if by[s])
    state = "failed" if report.failed else "passed"
    lines.append(
        f"xrepo {report.command}: {state} (--fail-on {report.fail_on}); "
        f"{len(report.changes)} change(s){': ' + shown if shown else ''}"
    )
    return "\n".join(lines) + "\n"


def render(report: DriftReport, fmt: Format, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "github":
        return render_github(report)
    return render_text(report, color=color)


__all__ = [
    "FORMATS",
    "REPORT_VERSION",
    "DriftReport",
    "Format",
    "SourceDrift",
    "render",
    "render_changes",
    "render_github",
    "render_json",
    "render_text",
    "render_tree_diff",
    "report_payload",
    "use_color",
]
