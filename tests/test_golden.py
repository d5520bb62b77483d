"""Golden cases: snapshots → generated tree, byte for byte; output type-checks, is black-stable.

Regenerate with ``pytest tests/test_golden.py --regen-golden`` (or ``XREPO_REGEN_GOLDEN=1``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xrepo.codegen.render import diff_tree, format_code, render_all, write_tree
from xrepo.runtime.schema import load_snapshot

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "snapshots").is_dir())


def render_case(case: str) -> dict[str, str]:
    folder = GOLDEN / case
    items = [
        (load_snapshot(p), p.relative_to(folder).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted((folder / "snapshots").glob("*.json"))
    ]
    return render_all(items, package="expected")


def test_cases_present() -> None:
    assert {"sqlite_shop", "documents", "csv_file", "hostile_names"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_golden_output(case: str, regen_golden: bool) -> None:
    files = render_case(case)
    expected = GOLDEN / case / "expected"
    if regen_golden:
        write_tree(expected, files, prune=True)
    tree = diff_tree(expected, files)
    report = "\n".join([*tree.missing, *tree.stale, *tree.changed.values()])
    assert tree.clean, f"golden {case} differs (run pytest --regen-golden):\n{report}"


@pytest.mark.parametrize("case", CASES)
def test_golden_output_is_black_stable(case: str) -> None:
    for path in sorted((GOLDEN / case / "expected").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert format_code(text) == text, f"black would reformat {path}"


def test_golden_output_passes_mypy_strict(tmp_path: Path) -> None:
    # Every case's tree is called "expected"; copy them under distinct package names and check
    # them all in one mypy run (mypy's start-up dominates).
    targets = []
    for case in CASES:
        dest = tmp_path / f"golden_{case}"
        shutil.copytree(GOLDEN / case / "expected", dest)
        targets.append(str(dest))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "golden"),
            *targets,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
