"""The ``xrepo`` command: thin wrappers over codegen.pipeline and friends.

Exit codes: 0 clean, 1 drift found, 2 bad input or unreachable source (one line, no traceback).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, get_args

import click

from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.schema import (
    Snapshot,
    SnapshotError,
    SourceKind,
    snapshot_json_schema,
)

from . import pipeline
from .config import ConfigError, Project, SourceConfig, detect_kind, load_project
from .diff import DEFAULT_STAT_THRESHOLD, FAIL_ON, FailOn
from .inspecting import inspect_source, require_collections, run_inspector
from .live import check_project, diff_files
from .progress import TerminalProgress
from .render import diff_tree, write_tree
from .report import FORMATS, Format, render, render_tree_diff, use_color
from .starter import write_starter

EXPECTED_ERRORS = (ConfigError, InspectError, SnapshotError, OSError)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class XrepoGroup(click.Group):
    """Turns expected failures into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PermissionError as exc:
            where = Path(str(exc.filename or "."))
            if where.name.endswith(".tmp"):  # our staging file: name the folder instead
                where = where.parent
            click.echo(
                f"xrepo: error: {where}: permission denied "
                "(make the folder writable or point schemas_dir/output_dir elsewhere)",
                err=True,
            )
            ctx.exit(2)
        except EXPECTED_ERRORS as exc:
            click.echo(f"xrepo: error: {exc}", err=True)
            ctx.exit(2)


def _project(ctx: click.Context) -> Project:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "project" not in obj:
        cfg = obj.get("config_path")
        obj["project"] = load_project(Path(cfg) if cfg else None)
    project: Project = obj["project"]
    return project


@click.group(cls=XrepoGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="xrepo.toml or pyproject.toml to use (default: found by walking up).",
)
@click.version_option(package_name="xrepo")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """xrepo: snapshot live data sources, generate typed models and repos, check drift."""
    ctx.ensure_object(dict)["config_path"] = config_path


@main.command()
@click.option("--force", is_flag=True, help="Replace an existing [tool.xrepo] table / xrepo.toml.")
def init(force: bool) -> None:
    """Write a starter config (data files found here become sources)."""
    path, sources = write_starter(Path.cwd(), force=force)
    click.echo(f"wrote {path} with {len(sources)} source(s): {', '.join(sources) or 'none yet'}")
    click.echo("next: xrepo inspect && xrepo generate")
    click.echo(
        "hints: add .xrepo-cache/ to .gitignore; type-check your code with the pydantic mypy "
        "plugin (plugins = ['pydantic.mypy'])"
    )


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--url", help="Inspect a source not in the config (URL or file path).")
@click.option("--name", help="Snapshot name for --url (default: derived from the path).")
@click.option(
    "--kind",
    type=click.Choice(list(get_args(SourceKind))),
    help="Source kind for --url when the scheme or extension does not tell.",
)
@click.pass_context
def inspect(
    ctx: click.Context,
    sources: tuple[str, ...],
    url: str | None,
    name: str | None,
    kind: SourceKind | None,
) -> None:
    """Live sources → schemas/<source>.json."""
    project = _project(ctx)
    results: dict[str, Snapshot] = {}
    if url:
        if sources:
            raise click.UsageError("give either SOURCE names or --url, not both")
        source_name = name or _name_from(url)
        if not _NAME.fullmatch(source_name):
            raise ConfigError(
                f"--name {source_name!r}: use letters, digits and _ (not starting with a digit)"
            )
        kind = kind or detect_kind(url)
        source = SourceConfig(name=source_name, kind=kind, path=url)
        progress = TerminalProgress(f"inspecting {source_name}")
        snapshot = run_inspector(kind, url, source, progress)
        results[source_name] = require_collections(snapshot, source, url)
        progress.close()
    else:
        chosen = [project.source(n) for n in sources] or list(project.config.sources)
        if not chosen:
            raise ConfigError(
                f"{project.describe()}: no sources configured "
                "(add a [[tool.xrepo.sources]] entry, or run `xrepo init` beside your data files)"
            )
        for source in chosen:
            progress = TerminalProgress(f"inspecting {source.name}")
            results[source.name] = inspect_source(project, source, progress)
            progress.close()
    results = pipeline.with_views(project, results)
    for path in pipeline.write_snapshots(project, results):
        snap = results[path.stem]
        click.echo(f"{_rel(path, project)}: {len(snap.collections)} collection(s)")
        for warning in snap.warnings:
            click.echo(f"  warning: {warning}", err=True)


def _name_from(url: str) -> str:
    stem = Path(url.split("?", 1)[0].rstrip("/")).name.split(".", 1)[0]
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem).strip("_")
    if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_") or not cleaned.isascii():
        raise ConfigError(f"{url}: cannot derive a snapshot name; pass --name NAME")
    return cleaned


def _rel(path: Path, project: Project) -> str:
    try:
        return path.relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


@main.command()
@click.option(
    "--check", "check_only", is_flag=True, help="Exit 1 on any difference; write nothing."
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep running: regenerate whenever a snapshot, the config or a template changes.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.01, 60),
    default=0.5,
    show_default=True,
    help="--watch: seconds between polls (changes are debounced over one interval).",
)
@click.option(
    "--once-after",
    type=click.IntRange(1),
    help="--watch: stop after this many regenerations (for scripts and tests).",
)
@click.pass_context
def generate(
    ctx: click.Context,
    check_only: bool,
    watch: bool,
    interval: float,
    once_after: int | None,
) -> None:
    """schemas/*.json → generated/ (only changed files are written)."""
    project = _project(ctx)
    if watch:
        if check_only:
            raise click.UsageError("--watch and --check do not go together")
        from .watch import watch_project

        watch_project(project, interval=interval, once_after=once_after, echo=click.echo)
        return
    if once_after is not None:
        raise click.UsageError("--once-after needs --watch")
    files = pipeline.render_project(project)
    if check_only:
        tree = diff_tree(project.output_dir, files)
        click.echo(render_tree_diff(tree, _rel(project.output_dir, project)), nl=False)
        ctx.exit(1 if tree.changed or tree.missing or tree.stale else 0)
    report = write_tree(project.output_dir, files, prune=True)
    click.echo(
        f"{_rel(project.output_dir, project)}: {len(files)} file(s); "
        f"{len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed"
    )


def _drift_options(fn: Any) -> Any:
    """Options shared by `check` and `diff`."""
    fn = click.option(
        "--stat-threshold",
        type=click.FloatRange(0, 1, min_open=True),
        default=DEFAULT_STAT_THRESHOLD,
        show_default=True,
        help="Statistical drift: smallest move of a type share, presence or null ratio.",
    )(fn)
    fn = click.option(
        "--stats", is_flag=True, help="Compare the volatile stats for every source kind too."
    )(fn)
    fn = click.option(
        "--fail-on",
        type=click.Choice(FAIL_ON),
        default="any",
        show_default=True,
        help="Lowest severity that makes the exit code 1.",
    )(fn)
    fn = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="text for people, json (docs/drift-report.schema.json), github annotations.",
    )(fn)
    return fn


@main.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--live", is_flag=True, help="Also re-inspect the sources and compare with their snapshots."
)
@_drift_options
@click.pass_context
def check(
    ctx: click.Context,
    sources: tuple[str, ...],
    live: bool,
    fmt: Format,
    fail_on: FailOn,
    stats: bool,
    stat_threshold: float,
) -> None:
    """generated/ ↔ schemas/ (and with --live, schemas/ ↔ the live sources); exit 1 on drift."""
    project = _project(ctx)
    report = check_project(
        project,
        live=live,
        sources=sources,
        stats=stats,
        stat_threshold=stat_threshold,
        fail_on=fail_on,
        progress=TerminalProgress,
    )
    click.echo(render(report, fmt, color=use_color(sys.stdout)), nl=False)
    ctx.exit(report.exit_code)


@main.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@_drift_options
@click.pass_context
def diff(
    ctx: click.Context,
    old: str,
    new: str,
    fmt: Format,
    fail_on: FailOn,
    stats: bool,
    stat_threshold: float,
) -> None:
    """Classified diff of two snapshots: breaking / additive / statistical / cosmetic."""
    report = diff_files(
        Path(old), Path(new), stats=stats, stat_threshold=stat_threshold, fail_on=fail_on
    )
    click.echo(render(report, fmt, color=use_color(sys.stdout)), nl=False)
    ctx.exit(report.exit_code)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the snapshot format."""
    click.echo(json.dumps(snapshot_json_schema(), indent=2, sort_keys=True))
