"""`xrepo generate --watch`: regenerates when a snapshot, the config or a template changes;
debounced; survives a broken snapshot; `--once-after N` lets a test stop it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from drift_cli import run, write_config

from xrepo.codegen import watch
from xrepo.codegen.config import load_project

INTERVAL = 0.1


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text("id,name\n1,ann\n2,bob\n", encoding="utf-8")
    write_config(tmp_path, 'name = "people"\npath = "people.csv"')
    assert run(tmp_path, "inspect").exit_code == 0
    return tmp_path


def _add_field(project: Path, name: str) -> None:
    path = project / "schemas" / "people.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["collections"][0]["fields"].append({"name": name, "type": {"kind": "str"}})
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _wait_for(pred: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Watcher:
    def __init__(self, project: Path, once_after: int | None) -> None:
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.result: list[int] = []
        proj = load_project(project / "xrepo.toml")

        def target() -> None:
            self.result.append(
                watch.watch_project(
                    proj,
                    interval=INTERVAL,
                    once_after=once_after,
                    stop=self.stop,
                    echo=self.lines.append,
                )
            )

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        _wait_for(lambda: any(ln.startswith("watching") for ln in self.lines))

    def regenerations(self) -> list[str]:
        return [ln for ln in self.lines if "regenerated" in ln and ln.startswith("[")]

    def finish(self) -> int:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.result[0]


@pytest.fixture()
def watcher(project: Path) -> Iterator[Callable[[int | None], Watcher]]:
    started: list[Watcher] = []

    def start(once_after: int | None = None) -> Watcher:
        w = Watcher(project, once_after)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop.set()
        w.thread.join(15)


def test_a_snapshot_change_regenerates(
    project: Path, watcher: Callable[[int | None], Watcher]
) -> None:
    w = watcher(1)
    models = project / "generated" / "people" / "models.py"
    assert models.is_file() and "email" not in models.read_text()  # first generation
    _add_field(project, "email")
    w.thread.join(15)
    assert not w.thread.is_alive(), "--once-after 1 stops after one regeneration"
    assert w.result == [1]
    assert "email" in models.read_text()
    (line,) = w.regenerations()
    assert "people/models.py" in line
    assert run(project, "check").exit_code == 0


def test_a_burst_of_writes_regenerates_once(
    project: Path, watcher: Callable[[int | None], Watcher]
) -> None:
    w = watcher(None)
    for name in ("a", "b", "c"):
        _add_field(project, name)
    _wait_for(lambda: bool(w.regenerations()))
    time.sleep(INTERVAL * 6)
    assert w.finish() == 1
    assert len(w.regenerations()) == 1
    assert '"c"' in (project / "generated" / "people" / "models.py").read_text()


def test_a_broken_snapshot_is_reported_and_watching_goes_on(
    project: Path, watcher: Callable[[int | None], Watcher]
) -> None:
    w = watcher(2)
    snapshot = project / "schemas" / "people.json"
    good = snapshot.read_text(encoding="utf-8")
    snapshot.write_text("{ not json", encoding="utf-8")
    _wait_for(lambda: any("still watching" in ln for ln in w.lines))
    snapshot.write_text(good, encoding="utf-8")
    _add_field(project, "fixed")
    w.thread.join(15)
    assert w.result == [2]
    assert "fixed" in (project / "generated" / "people" / "models.py").read_text()


def test_a_template_change_regenerates(
    project: Path,
    watcher: Callable[[int | None], Watcher],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stand-in template folder: the real templates are shared by everyone's tests.
    folder = tmp_path_factory.mktemp("templates")
    template = folder / "models_chunk.py.jinja"
    template.write_text("{# v1 #}\n", encoding="utf-8")
    monkeypatch.setattr(watch, "template_dir", lambda: folder)
    assert template in watch.watched_files(load_project(project / "xrepo.toml"))
    w = watcher(1)
    template.write_text("{# v2, longer #}\n", encoding="utf-8")
    w.thread.join(15)
    assert w.result == [1]
    assert "regenerated: 0 added, 0 changed, 0 removed" in w.regenerations()[0]


def test_cli_watch_in_a_subprocess(project: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from xrepo.codegen.cli import main; main()",
            "generate",
            "--watch",
            "--interval",
            "0.05",
            "--once-after",
            "1",
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("watching"):
                break
        assert seen and seen[-1].startswith("watching"), seen
        _add_field(project, "email")
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, [*seen, rest]
    assert "] regenerated: 0 added," in rest and "people/models.py" in rest, rest
    assert "email" in (project / "generated" / "people" / "models.py").read_text()


def test_watch_and_check_do_not_combine(project: Path) -> None:
    assert run(project, "generate", "--watch", "--check").exit_code == 2
    assert run(project, "generate", "--once-after", "1").exit_code == 2
