"""Inspect orchestration: a configured source → its inspector → a snapshot ready to write.

Inspectors are imported lazily so a missing driver only matters for the kind that needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from xrepo.runtime.introspect.base import InspectError, Progress
from xrepo.runtime.schema import Snapshot, SourceKind

from .config import ConfigError, Project, SourceConfig, source_kind


def _file(location: str) -> Path:
    path = Path(location.removeprefix("file://"))
    if not path.exists():
        raise InspectError(f"{location}: no such file")
    return path


def _sqlite(location: str, source: SourceConfig, progress: Progress | None, root: Path) -> Snapshot:
    from xrepo.runtime.introspect.sqlite import inspect_sqlite

    return inspect_sqlite(
        location,
        name=source.name,
        sample_rows=source.sample_rows,
        include=source.include,
        exclude=source.exclude,
        progress=progress,
    )


def _csv(location: str, source: SourceConfig, progress: Progress | None, root: Path) -> Snapshot:
    from xrepo.runtime.introspect.csvfile import DEFAULT_NULL_TOKENS, inspect_csv

    tokens = source.null_tokens if source.null_tokens is not None else DEFAULT_NULL_TOKENS
    return inspect_csv(
        _file(location),
        name=source.name,
        null_tokens=tokens,
        sample_rows=source.sample_rows,
        progress=progress,
    )


def _json(location: str, source: SourceConfig, progress: Progress | None, root: Path) -> Snapshot:
    from xrepo.runtime.introspect.jsonfile import inspect_json

    return inspect_json(
        _file(location), name=source.name, sample_docs=source.sample_rows, progress=progress
    )


def _jsonschema(
    location: str, source: SourceConfig, progress: Progress | None, root: Path
) -> Snapshot:
    from .inspect.jsonschema import inspect_jsonschema

    return inspect_jsonschema(_file(location), name=source.name)


def _postgres(
    location: str, source: SourceConfig, progress: Progress | None, root: Path
) -> Snapshot:
    from xrepo.runtime.introspect.postgres import inspect_postgres

    return inspect_postgres(
        location,
        name=source.name,
        schemas=source.schemas,
        include=source.include,
        exclude=source.exclude,
        sample_rows=source.sample_rows,
        progress=progress,
    )


def _mongo(location: str, source: SourceConfig, progress: Progress | None, root: Path) -> Snapshot:
    from xrepo.runtime.introspect.mongo import inspect_mongo

    from .inspect.mongo_validator import read_validator

    return inspect_mongo(
        location,
        name=source.name,
        database=source.database,
        include=source.include,
        exclude=source.exclude,
        sample_size=source.sample_rows,
        full_scan=source.full_scan,
        minority_threshold=source.minority_threshold,
        validator_reader=read_validator,
        progress=progress,
    )


def _redis(location: str, source: SourceConfig, progress: Progress | None, root: Path) -> Snapshot:
    from xrepo.runtime.introspect.redis import PatternConfig, inspect_redis

    from .inspect.mongo_validator import read_validator

    patterns = [
        PatternConfig(p.pattern, _schema_file(root, source, p.schema_file), p.kind)
        for p in source.patterns
    ]
    return inspect_redis(
        location,
        name=source.name,
        prefix=source.prefix,
        scan_budget=source.scan_budget,
        patterns=patterns,
        sample_per_pattern=source.sample_rows,
        schema_reader=lambda schema, pattern: read_validator(schema, pattern).fields,
        progress=progress,
    )


def _schema_file(root: Path, source: SourceConfig, rel: str | None) -> dict[str, Any] | None:
    if rel is None:
        return None
    path = root / rel
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"source {source.name!r}: pattern schema {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"source {source.name!r}: pattern schema {path}: not a JSON object")
    return data


Inspector = Callable[[str, SourceConfig, "Progress | None", Path], Snapshot]
_INSPECTORS: dict[str, Inspector] = {
    "sqlite": _sqlite,
    "csv": _csv,
    "json": _json,
    "jsonschema": _jsonschema,
    "postgres": _postgres,
    "mongo": _mongo,
    "redis": _redis,
}


def run_inspector(
    kind: SourceKind,
    location: str,
    source: SourceConfig,
    progress: Progress | None = None,
    root: Path | None = None,
) -> Snapshot:
    inspector = _INSPECTORS.get(kind)
    if inspector is None:
        raise InspectError(
            f"source {source.name!r}: in-memory sources are inspected from code "
            "(xrepo.runtime.introspect.memory.inspect_records)"
        )
    return inspector(location, source, progress, root or Path.cwd())


def require_collections(snapshot: Snapshot, source: SourceConfig, location: str) -> Snapshot:
    """A snapshot without collections would generate an empty package: refuse it now."""
    if not snapshot.collections:
        hint = (
            "check `include`/`exclude`"
            if source.include != ("*",) or source.exclude
            else "is the source empty?"
        )
        raise InspectError(f"source {source.name!r} ({location}): found no collections ({hint})")
    return snapshot


def _portable(snapshot: Snapshot, source: SourceConfig) -> Snapshot:
    """Record file paths as the config spells them (relative, posix): no machine paths in git."""
    if source.path is None:
        return snapshot
    rel = PurePath(source.path).as_posix()
    return snapshot.model_copy(
        update={
            "collections": tuple(
                c.model_copy(update={"path": rel}) if c.path is not None else c
                for c in snapshot.collections
            )
        }
    )


def inspect_source(
    project: Project, source: SourceConfig, progress: Progress | None = None
) -> Snapshot:
    location = project.location(source)
    kind = source_kind(source, location)
    if source.kind is None and kind in ("postgres", "mongo", "redis") and source.path:
        raise ConfigError(f"source {source.name!r}: {kind} sources take `url_env`, not `path`")
    snapshot = run_inspector(kind, location, source, progress, project.root)
    return _portable(require_collections(snapshot, source, location), source)
