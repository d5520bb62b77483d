"""Human-readable output for drift: tree differences and classified snapshot changes."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .diff import Change
from .render import TreeDiff

_COLORS = {"breaking": "red", "additive": "green", "cosmetic": "blue", "statistical": "yellow"}


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


def render_changes(changes: Sequence[Change], *, color: bool = False) -> str:
    if not changes:
        return "no changes\n"
    lines = []
    for c in changes:
        where = (c.collection or "<snapshot>") + (f".{c.field}" if c.field else "")
        tag = f"{c.severity:<11}"
        if color:
            tag = click.style(tag, fg=_COLORS[c.severity], bold=c.severity == "breaking")
        lines.append(f"{tag} {where}: {c.message}")
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.severity] = counts.get(c.severity, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return "\n".join(lines) + f"\n{len(changes)} change(s): {summary}\n"
