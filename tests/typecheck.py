"""``mypy --strict`` with the project's config (pydantic plugin) in a subprocess: the generated
packages and the typed-usage programs are checked exactly as a user's CI would check them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mypy_strict(
    *targets: str,
    cwd: Path,
    cache_dir: Path,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(cache_dir),
        "--no-error-summary",
        *extra,
        *targets,
    ]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )


def assert_mypy_strict(package: str, root: Path) -> None:
    """``package`` (importable from ``root``) passes ``mypy --strict``."""
    done = mypy_strict(package, cwd=root, cache_dir=root / ".mypy_cache")
    assert done.returncode == 0, done.stdout + done.stderr
