"""Put a rendered tree on disk atomically, or describe how the disk differs from it.

Every file is first written to a temporary name in its own directory; only when all of them are
staged are they moved into place with ``os.replace``. A failure while staging leaves the old tree
untouched and no temporary file behind. Only files whose bytes change are touched, and pruning
removes only files that carry the generator's header — never a hand-written file — and then the
directories those files leave empty (a ``__pycache__`` holding only bytecode counts as empty).
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .plan import HEADER_PREFIX

_SKIP_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".git"})


class OutputPathError(ValueError):
    """A rendered path that would escape the output directory."""


@dataclass(frozen=True)
class WriteReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreeDiff:
    """Relative path → unified diff (on disk → rendered) for each kind of difference."""

    changed: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    stale: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.stale)


def _target(out_dir: Path, rel: str) -> Path:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or ".." in p.parts or "\\" in rel:
        raise OutputPathError(
            f"{rel!r}: generated paths must be relative and stay inside {out_dir}"
        )
    return out_dir.joinpath(*p.parts)


def is_generated(path: Path) -> bool:
    """True when the file starts with our header (so pruning may remove it)."""
    try:
        with path.open("rb") as fh:
            first = fh.read(len(HEADER_PREFIX))
    except OSError:
        return False
    return first == HEADER_PREFIX.encode()


def _generated_files(out_dir: Path) -> Iterator[str]:
    if not out_dir.is_dir():
        return
    for root, dirs, files in os.walk(out_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(root) / name
                if is_generated(path):
                    yield path.relative_to(out_dir).as_posix()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_tree(out_dir: Path, files: Mapping[str, str], *, prune: bool) -> WriteReport:
    """Write ``files`` (relative path → text) under ``out_dir``; see the module docstring."""
    out_dir = Path(out_dir)
    added: list[str] = []
    changed: list[str] = []
    unchanged: list[str] = []
    staged: list[tuple[str, Path]] = []
    try:
        for rel in sorted(files):
            target = _target(out_dir, rel)
            data = files[rel].encode("utf-8")
            old = _read(target)
            if old == data:
                unchanged.append(rel)
                continue
            (added if old is None else changed).append(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
            staged.append((rel, Path(tmp_name)))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for _, staged_path in staged:
            staged_path.unlink(missing_ok=True)
        raise
    for rel, staged_path in staged:
        os.replace(staged_path, _target(out_dir, rel))
    removed: list[str] = []
    if prune:
        for rel in list(_generated_files(out_dir)):
            if rel not in files:
                _target(out_dir, rel).unlink()
                removed.append(rel)
        _remove_emptied_dirs(out_dir, removed)
    return WriteReport(tuple(added), tuple(changed), tuple(removed), tuple(unchanged))


def _only_bytecode(folder: Path) -> bool:
    return all(p.is_file() and p.suffix == ".pyc" for p in folder.iterdir())


def _remove_emptied_dirs(out_dir: Path, removed: list[str]) -> None:
    """Remove the directories that held pruned files once nothing else is left in them, then
    their parents in turn (never ``out_dir`` itself, never a directory with anything else)."""
    folders = {PurePosixPath(rel).parent for rel in removed}
    candidates: set[PurePosixPath] = set()
    for folder in folders:
        while folder.parts:
            candidates.add(folder)
            folder = folder.parent
    # Deepest first, so a parent is looked at after its emptied children are gone.
    for rel_dir in sorted(candidates, key=lambda p: (-len(p.parts), p.as_posix())):
        path = out_dir.joinpath(*rel_dir.parts)
        if not path.is_dir() or path.is_symlink():
            continue
        entries = list(path.iterdir())
        cache = path / "__pycache__"
        if entries == [cache] and cache.is_dir() and not cache.is_symlink():
            if not _only_bytecode(cache):
                continue
            for pyc in cache.iterdir():
                pyc.unlink()
            cache.rmdir()
        elif entries:
            continue
        path.rmdir()


def _diff(old: str, new: str, rel: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{rel}" if old else "/dev/null",
            tofile=f"b/{rel}" if new else "/dev/null",
        )
    )


def diff_tree(out_dir: Path, files: Mapping[str, str]) -> TreeDiff:
    """How ``out_dir`` differs from ``files``: changed, missing and stale (generated, unwanted)."""
    out_dir = Path(out_dir)
    result = TreeDiff()
    for rel in sorted(files):
        raw = _read(_target(out_dir, rel))
        if raw is None:
            result.missing[rel] = _diff("", files[rel], rel)
        elif raw != files[rel].encode("utf-8"):
            result.changed[rel] = _diff(raw.decode("utf-8", "replace"), files[rel], rel)
    for rel in _generated_files(out_dir):
        if rel not in files:
            old = _target(out_dir, rel).read_text(encoding="utf-8", errors="replace")
            result.stale[rel] = _diff(old, "", rel)
    return result
