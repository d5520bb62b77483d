"""``xrepo init``: a starter configuration, with data files found in the folder as sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .config import ConfigError, detect_kind, find_config

_DATA_GLOBS = ("*.db", "*.sqlite", "*.sqlite3", "*.csv", "*.tsv", "*.json", "*.ndjson", "*.jsonl")
_HEADER = """\
# xrepo configuration — reference: README.md "Configuration reference".
schemas_dir = "schemas"     # committed snapshots (xrepo inspect writes them)
output_dir = "generated"    # committed generated code (xrepo generate writes it)
package = "generated"       # import name of output_dir
"""
_EXAMPLE = """
# Add sources like these (paths are relative to this file):
# [[{prefix}sources]]
# name = "app"
# path = "data/app.db"        # .db/.sqlite → sqlite, .csv → csv, .json/.ndjson → json
#
# Servers take their URL from an environment variable, never from this file:
# url_env = "DATABASE_URL"
"""


def _source_name(path: Path, taken: set[str]) -> str:
    base = re.sub(r"\W+", "_", path.stem.split(".")[0].lower(), flags=re.ASCII).strip("_")
    base = base if base and not base[0].isdigit() else f"src_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def discover(folder: Path) -> list[tuple[str, str, str]]:
    """(name, kind, relative path) for each data file directly in folder or in data/."""
    found: list[tuple[str, str, str]] = []
    taken: set[str] = set()
    files = sorted(
        {p for sub in (folder, folder / "data") for g in _DATA_GLOBS for p in sub.glob(g)}
    )
    for path in files:
        if path.name in ("package.json", "tsconfig.json") or path.name.startswith("."):
            continue
        try:
            kind = detect_kind(path.name)
        except ConfigError:
            continue
        rel = path.relative_to(folder).as_posix()
        found.append((_source_name(path, taken), kind, rel))
    return sorted(found)


def starter_text(folder: Path, *, prefix: str) -> tuple[str, list[str]]:
    sources = discover(folder)
    body = _HEADER
    for name, kind, rel in sources:
        body += (
            f'\n[[{prefix}sources]]\nname = "{name}"\nkind = "{kind}"\npath = {json.dumps(rel)}\n'
        )
    if not sources:
        body += _EXAMPLE.format(prefix=prefix)
    return body, [name for name, _, _ in sources]


def write_starter(folder: Path, *, force: bool = False) -> tuple[Path, list[str]]:
    existing = find_config(folder)
    if existing is not None and existing.parent == folder and not force:
        raise ConfigError(f"{existing}: already holds an xrepo configuration (use --force)")
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8")
        if "[tool.xrepo]" in text:
            raise ConfigError(f"{pyproject}: already has [tool.xrepo]; edit it by hand")
        body, names = starter_text(folder, prefix="tool.xrepo.")
        pyproject.write_text(text.rstrip("\n") + "\n\n[tool.xrepo]\n" + body, encoding="utf-8")
        return pyproject, names
    target = folder / "xrepo.toml"
    body, names = starter_text(folder, prefix="")
    target.write_text(body, encoding="utf-8")
    return target, names
