"""The ``[tool.xrepo]`` table (or ``xrepo.toml``): found by walking up, validated once."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xrepo.runtime.schema import SourceKind

CONFIG_FILES = ("xrepo.toml", "pyproject.toml")


class ConfigError(ValueError):
    """Bad or missing configuration: names the file, the key and what to do."""


class RedisPattern(BaseModel):
    """A Redis key pattern declared in config (``user:{id}``), optionally with a JSON Schema
    file (relative to the config file) for the value, authoritative over sampling."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str
    kind: Literal["hash", "json"] = "hash"
    #: Spelled ``schema`` in the file (``schema`` is taken on pydantic models).
    schema_file: str | None = Field(default=None, alias="schema")


class SourceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    #: Detected from the URL scheme or the file extension when omitted.
    kind: SourceKind | None = None
    #: A file (SQLite, CSV, JSON, JSON Schema), relative to the config file.
    path: str | None = None
    #: Name of the environment variable holding the connection URL (never the URL itself).
    url_env: str | None = None
    #: Servers with namespaces (PostgreSQL schemas): which to inspect.
    schemas: tuple[str, ...] = ("public",)
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    sample_rows: int = Field(default=10_000, gt=0)
    #: CSV: cell values read as NULL (default: the inspector's list).
    null_tokens: tuple[str, ...] | None = None
    #: MongoDB: database (default: the URL's path), full scan instead of a sample, and the
    #: share under which a field's minority type is a warning rather than a union member.
    database: str | None = None
    full_scan: bool = False
    minority_threshold: float = Field(default=0.01, ge=0, lt=1)
    #: Redis: key prefix, SCAN budget (keys examined at most), declared patterns.
    prefix: str = ""
    scan_budget: int = Field(default=100_000, gt=0)
    patterns: tuple[RedisPattern, ...] = ()

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if (self.path is None) == (self.url_env is None):
            raise ValueError("give exactly one of `path` (a file) or `url_env` (an env var name)")
        return self


_KEY_TYPES = Literal["int", "str", "object_id", "uuid"]


class ViewSourceConfig(BaseModel):
    """One side of a view: ``name`` (the view's name for it, the field prefix), the configured
    ``source`` and its ``collection``, the join key ``on`` and an optional ``key_type`` cast."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    source: str
    collection: str
    #: Key field(s), source names; several sources join on the same number of fields.
    on: str | tuple[str, ...]
    #: Cast of the key before the join (one type, or one per key field).
    key_type: _KEY_TYPES | tuple[_KEY_TYPES | None, ...] | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return (self.on,) if isinstance(self.on, str) else self.on


class ViewConfig(BaseModel):
    """A view joining collections of configured sources: ``xrepo inspect`` writes its snapshot
    (``schemas/<name>.json``) from theirs, ``xrepo generate`` its typed repo."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: Literal["inner", "left", "right", "full"] = "inner"
    prefix: Literal["collisions", "always"] = "collisions"
    sources: tuple[ViewSourceConfig, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique_sides(self) -> ViewConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"view {self.name!r}: source names must differ, got {names}")
        return self

    def join_config(self) -> dict[str, Any]:
        """The same view as ``XRepoFactory.create_view_from_resources`` reads it."""
        config: dict[str, Any] = {
            "type": self.type,
            "prefix": self.prefix,
            "on": {s.name: list(s.key) for s in self.sources},
            "collections": {s.name: s.collection for s in self.sources},
        }
        casts = {s.name: s.key_type for s in self.sources if s.key_type is not None}
        if casts:
            config["key_types"] = {
                k: v if isinstance(v, str) else list(v) for k, v in casts.items()
            }
        return config


class GenerateConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    soft_delete_field: str = "deleted_at"
    created_field: str = "created_at"
    updated_field: str = "updated_at"


class XrepoConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schemas_dir: str = "schemas"
    output_dir: str = "generated"
    #: Import name of the generated package (the output directory's package path).
    package: str = Field(default="generated", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    sources: tuple[SourceConfig, ...] = ()
    generate: GenerateConfig = GenerateConfig()
    #: Views joining collections of the sources (``[[tool.xrepo.views]]``).
    views: tuple[ViewConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> XrepoConfig:
        seen: set[str] = set()
        for s in self.sources:
            if s.name in seen:
                raise ValueError(f"source name {s.name!r} is used twice")
            seen.add(s.name)
        for v in self.views:
            if v.name in seen:
                raise ValueError(f"view name {v.name!r} is already a source or view name")
            seen.add(v.name)
            for side in v.sources:
                if side.source not in {s.name for s in self.sources}:
                    raise ValueError(
                        f"view {v.name!r}: source {side.source!r} is not configured "
                        "(add it under [[tool.xrepo.sources]])"
                    )
        return self


@dataclass(frozen=True)
class Project:
    """A loaded configuration and the directory its relative paths are resolved against."""

    config: XrepoConfig
    root: Path
    file: Path | None

    @property
    def schemas_dir(self) -> Path:
        return self.root / self.config.schemas_dir

    @property
    def output_dir(self) -> Path:
        return self.root / self.config.output_dir

    def source(self, name: str) -> SourceConfig:
        for s in self.config.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.config.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} in {self.describe()} (known: {known})")

    def describe(self) -> str:
        return str(self.file) if self.file else "the default configuration"

    def location(self, source: SourceConfig) -> str:
        """The source's URL (from its env var) or its path resolved against the config root."""
        if source.url_env is not None:
            url = os.environ.get(source.url_env)
            if not url:
                raise ConfigError(
                    f"source {source.name!r}: environment variable {source.url_env} is not set "
                    "(export it with the connection URL)"
                )
            return url
        assert source.path is not None
        return str(self.root / source.path)


def _format_error(file: Path, table: str, exc: ValidationError) -> str:
    """``<file>: [tool.xrepo] sources[1].paht: <message>`` (indexes as written, from 0)."""
    err = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    prefix = "[tool.xrepo] " if table == "tool.xrepo" else ""
    where = f"{prefix}{loc}" if loc else (prefix.strip() or "top level")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (see README, Configuration reference)"
    return f"{file}: {where}: {msg}"


def _read_table(file: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    if file.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("xrepo") if isinstance(tool, dict) else None
        return table, "tool.xrepo"
    return data, "xrepo"


def parse_config(table: dict[str, Any], file: Path, table_name: str) -> XrepoConfig:
    try:
        return XrepoConfig.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(_format_error(file, table_name, exc)) from None


def find_config(start: Path) -> Path | None:
    """The nearest xrepo.toml, or pyproject.toml holding [tool.xrepo], walking up from start."""
    for folder in (start, *start.parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if candidate.is_file():
                table, _ = _read_table(candidate)
                if table is not None:
                    return candidate
    return None


def load_project(config_path: Path | None = None, *, start: Path | None = None) -> Project:
    """Load the given config file, or the one found from ``start``; defaults when none exists."""
    if config_path is None:
        config_path = find_config((start or Path.cwd()).resolve())
        if config_path is None:
            return Project(XrepoConfig(), (start or Path.cwd()).resolve(), None)
    file = config_path.resolve()
    if not file.is_file():
        raise ConfigError(f"{config_path}: no such config file")
    table, name = _read_table(file)
    if table is None:
        raise ConfigError(f"{file}: has no [{name}] table (run `xrepo init`)")
    return Project(parse_config(table, file, name), file.parent, file)


_SCHEMES: dict[str, SourceKind] = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "mongodb": "mongo",
    "mongodb+srv": "mongo",
    "redis": "redis",
    "rediss": "redis",
}
_EXTENSIONS: dict[str, SourceKind] = {
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".schema.json": "jsonschema",
}


def detect_kind(location: str) -> SourceKind:
    """Source kind from a URL scheme or a file extension; ConfigError when neither says."""
    if "://" in location:
        scheme = location.split("://", 1)[0].split("+")[0].lower()
        if location.lower().startswith("mongodb+srv://"):
            scheme = "mongodb+srv"
        if scheme in _SCHEMES:
            return _SCHEMES[scheme]
        raise ConfigError(
            f"{location.split('://', 1)[0]}://: unknown URL scheme "
            f"(known: {', '.join(sorted(_SCHEMES))}); set `kind` explicitly"
        )
    lower = location.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if lower.endswith(ext):
            return _EXTENSIONS[ext]
    raise ConfigError(
        f"{location}: cannot tell the source kind from the extension "
        f"(known: {', '.join(sorted(_EXTENSIONS))}); set `kind` explicitly"
    )


def source_kind(source: SourceConfig, location: str) -> SourceKind:
    return source.kind if source.kind is not None else detect_kind(location)
