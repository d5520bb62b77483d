"""The steps the CLI strings together, kept free of click so tests and scripts can call them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from xrepo.runtime.schema import Snapshot, SnapshotError, dumps_snapshot, load_snapshot

from .config import ConfigError, Project
from .render import GenerateOptions, render_all
from .views import view_snapshots


@dataclass(frozen=True)
class LoadedSnapshot:
    snapshot: Snapshot
    #: Path relative to the project root, posix: what generated headers name.
    rel_path: str
    text: str


def snapshot_path(project: Project, name: str) -> Path:
    return project.schemas_dir / f"{name}.json"


def load_snapshots(project: Project) -> list[LoadedSnapshot]:
    """Every snapshot in the schemas directory, sorted by file name.

    A snapshot without collections is refused (as ``xrepo inspect`` refuses to write one): it
    would generate an empty package that hides a wrong source configuration.
    """
    folder = project.schemas_dir
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no snapshots directory (run `xrepo inspect` first)")
    out = []
    for path in sorted(folder.glob("*.json")):
        snap = load_snapshot(path)
        if not snap.collections:
            raise SnapshotError(
                path,
                "$.collections",
                "no collections: check the source's configuration and re-run `xrepo inspect`,"
                " or remove this file",
            )
        rel = path.relative_to(project.root).as_posix()
        out.append(LoadedSnapshot(snap, rel, path.read_text(encoding="utf-8")))
    return out


def missing_snapshots(project: Project) -> list[str]:
    """Configured sources that have no snapshot yet."""
    return [s.name for s in project.config.sources if not snapshot_path(project, s.name).is_file()]


def generate_options(project: Project) -> GenerateOptions:
    g = project.config.generate
    return GenerateOptions(
        # Per-collection chunks cached by content: an incremental run re-renders what changed.
        cache_dir=project.root / ".xrepo-cache",
        soft_delete_field=g.soft_delete_field,
        created_field=g.created_field,
        updated_field=g.updated_field,
    )


def render_project(project: Project) -> dict[str, str]:
    loaded = load_snapshots(project)
    return render_all(
        [(s.snapshot, s.rel_path, s.text) for s in loaded],
        package=project.config.package,
        options=generate_options(project),
    )


def with_views(project: Project, snapshots: Mapping[str, Snapshot]) -> dict[str, Snapshot]:
    """The snapshots plus those of the configured views joining one of them."""
    return {**snapshots, **view_snapshots(project, snapshots)}


def write_snapshots(project: Project, snapshots: Mapping[str, Snapshot]) -> list[Path]:
    """Write every snapshot atomically, after all were inspected: nothing half-written."""
    folder = project.schemas_dir
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, snap in sorted(snapshots.items()):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            staged.append((name, Path(tmp_name)))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(dumps_snapshot(snap))
    except BaseException:
        for _, staged_path in staged:
            staged_path.unlink(missing_ok=True)
        raise
    written = []
    for name, staged_path in staged:
        target = snapshot_path(project, name)
        os.replace(staged_path, target)
        written.append(target)
    return written
