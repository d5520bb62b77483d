"""``xrepo check [--live]`` and ``xrepo diff``: build the drift report the CLI renders.

The offline part compares generated/ with what the committed snapshots produce. The live part
re-inspects each configured source (nothing is written) and classifies the differences from
its committed snapshot with :func:`xrepo.codegen.diff.diff_snapshots`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from xrepo.runtime.introspect.base import InspectError, Progress
from xrepo.runtime.schema import load_snapshot

from . import pipeline
from .config import ConfigError, Project, SourceConfig
from .diff import DEFAULT_STAT_THRESHOLD, FailOn, diff_snapshots
from .inspecting import inspect_source
from .render import diff_tree
from .report import DriftReport, SourceDrift

ProgressFactory = Callable[[str], Progress | None]


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def live_drift(
    project: Project,
    source: SourceConfig,
    *,
    stats: bool = False,
    stat_threshold: float = DEFAULT_STAT_THRESHOLD,
    progress: Progress | None = None,
) -> SourceDrift:
    """Re-inspect one source and classify how it moved away from its committed snapshot.

    An unreachable or unreadable source raises :class:`InspectError` naming the source.
    """
    path = pipeline.snapshot_path(project, source.name)
    text = path.read_text(encoding="utf-8")
    committed = load_snapshot(path)
    try:
        live = inspect_source(project, source, progress)
    except InspectError as exc:
        message = str(exc).removeprefix(f"source {source.name!r}: ")
        raise InspectError(f"live check of source {source.name!r} failed: {message}") from None
    changes = diff_snapshots(committed, live, stats=stats, stat_threshold=stat_threshold)
    rel = _rel(path, project.root)
    return SourceDrift(
        name=source.name,
        kind=live.source.kind,
        old=rel,
        new="live",
        changes=tuple(changes),
        annotate=rel,
        annotate_text=text,
    )


def check_project(
    project: Project,
    *,
    live: bool = False,
    sources: Sequence[str] = (),
    stats: bool = False,
    stat_threshold: float = DEFAULT_STAT_THRESHOLD,
    fail_on: FailOn = "any",
    progress: ProgressFactory | None = None,
) -> DriftReport:
    """The offline check, and with ``live`` the live check of ``sources`` (default: all).

    Sources without a snapshot are reported as missing and not inspected.
    """
    missing = pipeline.missing_snapshots(project)
    tree = diff_tree(project.output_dir, pipeline.render_project(project))
    drifts: list[SourceDrift] = []
    if live:
        chosen = [project.source(n) for n in sources] or list(project.config.sources)
        if not chosen:
            raise ConfigError(
                f"{project.describe()}: no sources configured, nothing to check live "
                "(add a [[tool.xrepo.sources]] entry)"
            )
        for source in chosen:
            if source.name in missing:
                continue
            bar = progress(f"checking {source.name}") if progress else None
            try:
                drifts.append(
                    live_drift(
                        project,
                        source,
                        stats=stats,
                        stat_threshold=stat_threshold,
                        progress=bar,
                    )
                )
            finally:
                close = getattr(bar, "close", None)
                if callable(close):
                    close()
    elif sources:
        raise ConfigError("naming sources needs --live (the offline check covers them all)")
    return DriftReport(
        command="check",
        fail_on=fail_on,
        sources=tuple(drifts),
        live=live,
        tree=tree,
        missing_snapshots=tuple(missing),
        out_dir=_rel(project.output_dir, project.root),
    )


def diff_files(
    old: Path,
    new: Path,
    *,
    stats: bool = False,
    stat_threshold: float = DEFAULT_STAT_THRESHOLD,
    fail_on: FailOn = "any",
) -> DriftReport:
    """``xrepo diff OLD NEW``: annotations point at NEW (the file a pull request changes)."""
    before, after = load_snapshot(old), load_snapshot(new)
    changes = diff_snapshots(before, after, stats=stats, stat_threshold=stat_threshold)
    drift = SourceDrift(
        name=after.source.name,
        kind=after.source.kind,
        old=str(old),
        new=str(new),
        changes=tuple(changes),
        annotate=str(new),
        annotate_text=new.read_text(encoding="utf-8"),
    )
    return DriftReport(command="diff", fail_on=fail_on, sources=(drift,))
