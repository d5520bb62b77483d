"""``xrepo generate --watch``: regenerate when a snapshot, the config or a template changes.

Polling file fingerprints (mtime in ns and size) needs no dependency and behaves the same on
every platform and file system. A burst of changes (an ``xrepo inspect`` rewriting several
snapshots, an editor's save-as-rename) is debounced: generation waits until one full interval
passes with nothing new. A failing generation (a snapshot being edited by hand) prints its one
line and the watch goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.schema import SnapshotError

from . import pipeline
from .config import ConfigError, Project, load_project
from .render import write_tree

Fingerprint = dict[str, tuple[int, int]]
Echo = Callable[[str], None]


def template_dir() -> Path:
    import xrepo.templates

    return Path(xrepo.templates.__file__).resolve().parent


def watched_files(project: Project) -> list[Path]:
    """Snapshots, the config file and the generator's templates."""
    files: list[Path] = []
    if project.schemas_dir.is_dir():
        files += sorted(project.schemas_dir.glob("*.json"))
    if project.file is not None:
        files.append(project.file)
    files += sorted(template_dir().glob("*.jinja"))
    return files


def fingerprint(project: Project) -> Fingerprint:
    out: Fingerprint = {}
    for path in watched_files(project):
        try:
            st = path.stat()
        except FileNotFoundError:  # removed between the listing and the stat
            continue
        out[str(path)] = (st.st_mtime_ns, st.st_size)
    return out


def regenerate(project: Project) -> str:
    """One generation; returns the line to show."""
    files = pipeline.render_project(project)
    report = write_tree(project.output_dir, files, prune=True)
    touched = [*report.added, *report.changed, *report.removed]
    shown = ", ".join(touched[:5]) + (f" (+{len(touched) - 5} more)" if len(touched) > 5 else "")
    return (
        f"regenerated: {len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed" + (f" ({shown})" if touched else "")
    )


def _reload(project: Project) -> Project:
    """Pick up config edits; keep the old project when the new config does not parse."""
    if project.file is None:
        return project
    return load_project(project.file)


def watch_project(
    project: Project,
    *,
    interval: float = 0.5,
    once_after: int | None = None,
    stop: threading.Event | None = None,
    echo: Echo = print,
) -> int:
    """Generate once, then regenerate on every settled change until ``stop`` is set, Ctrl-C,
    or ``once_after`` regenerations. Returns the number of regenerations after the first."""
    stop = stop or threading.Event()
    errors = (ConfigError, SnapshotError, InspectError, OSError, ValueError)

    def attempt(label: str) -> None:
        try:
            echo(f"{label}{regenerate(project)}")
        except errors as exc:
            echo(f"xrepo: error: {exc} (still watching)")

    seen = fingerprint(project)
    attempt("")
    echo(f"watching {len(seen)} file(s) every {interval:g}s (Ctrl-C to stop)")
    done = 0
    try:
        while not stop.is_set() and (once_after is None or done < once_after):
            if stop.wait(interval):
                break
            now = fingerprint(project)
            if now == seen:
                continue
            # Debounce: wait until the files hold still for one interval.
            while not stop.wait(interval):
                settled = fingerprint(project)
                if settled == now:
                    break
                now = settled
            if stop.is_set():
                break
            seen = now
            try:
                project = _reload(project)
            except ConfigError as exc:
                echo(f"xrepo: error: {exc} (still watching)")
                continue
            attempt(f"[{time.strftime('%H:%M:%S')}] ")
            done += 1
    except KeyboardInterrupt:
        echo("stopped")
    return done
