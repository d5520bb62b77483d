"""Inspect orchestration: a configured source → its inspector → a snapshot ready to write.

Inspectors are imported lazily so a missing driver only matters for the kind that needs it.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from xrepo.runtime.introspect.base import InspectError, Progress
from xrepo.runtime.schema import Snapshot, SourceKind

from .config import ConfigError, Project, SourceConfig, source_kind

#: Kinds whose inspector arrives with a later release; said plainly rather than crashing.
_NOT_YET = {
    "postgres": "PostgreSQL inspection",
    "mongo": "MongoDB inspection",
    "redis": "Redis inspection",
    "memory": "in-memory sources are inspected from code (xrepo.runtime.introspect.memory)",
}


def _file(location: str) -> Path:
    path = Path(location.removeprefix("file://"))
    if not path.exists():
        raise InspectError(f"{location}: no such file")
    return path


def run_inspector(
    kind: SourceKind,
    location: str,
    source: SourceConfig,
    progress: Progress | None = None,
) -> Snapshot:
    if kind == "sqlite":
        from xrepo.runtime.introspect.sqlite import inspect_sqlite

        return inspect_sqlite(
            location,
            name=source.name,
            sample_rows=source.sample_rows,
            include=source.include,
            exclude=source.exclude,
            progress=progress,
        )
    if kind == "csv":
        from xrepo.runtime.introspect.csvfile import DEFAULT_NULL_TOKENS, inspect_csv

        tokens = source.null_tokens if source.null_tokens is not None else DEFAULT_NULL_TOKENS
        return inspect_csv(
            _file(location),
            name=source.name,
            null_tokens=tokens,
            sample_rows=source.sample_rows,
            progress=progress,
        )
    if kind == "json":
        from xrepo.runtime.introspect.jsonfile import inspect_json

        return inspect_json(
            _file(location), name=source.name, sample_docs=source.sample_rows, progress=progress
        )
    if kind == "jsonschema":
        from .inspect.jsonschema import inspect_jsonschema

        return inspect_jsonschema(_file(location), name=source.name)
    raise InspectError(f"source {source.name!r}: {_NOT_YET[kind]} is not supported yet")


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
    snapshot = run_inspector(kind, location, source, progress)
    return _portable(require_collections(snapshot, source, location), source)
