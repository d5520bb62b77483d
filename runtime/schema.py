"""Snapshot format v1: the intermediate representation between inspectors and the generator.

It lives in the runtime (not in codegen) because the runtime's dynamic-model path and
``inspect_schema`` read the very same structure; codegen re-exports it. Only pydantic is needed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FORMAT_VERSION = 1


class LogicalType(StrEnum):
    """The closed vocabulary of field types (DESIGN §1)."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    TIMEDELTA = "timedelta"
    UUID = "uuid"
    BYTES = "bytes"
    JSON = "json"
    OBJECT = "object"
    ARRAY = "array"
    ENUM = "enum"
    OBJECT_ID = "object_id"
    UNION = "union"
    NULL = "null"
    UNKNOWN = "unknown"


#: Semantic refinements of ``str`` recognised from sampled values or declared formats.
Semantic = Literal["email", "url", "uuid", "ipv4", "ipv6", "ip"]
#: How a column gets a value without the writer supplying one.  ``identity_always`` (PostgreSQL
#: ``GENERATED ALWAYS AS IDENTITY``) and ``computed`` columns refuse values from writers: they
#: are absent from create and update models.
Generated = Literal["identity", "identity_always", "autoincrement", "rowid", "computed"]
#: Generated kinds only the database may write.
DATABASE_WRITTEN: frozenset[str] = frozenset({"identity_always", "computed"})
Cardinality = Literal["low", "high"]
CollectionKind = Literal[
    "table", "view", "materialized_view", "collection", "file", "key_pattern", "memory"
]
SourceKind = Literal["sqlite", "csv", "json", "jsonschema", "memory", "postgres", "mongo", "redis"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TypeSpec(_Frozen):
    """A logical type; recursive for objects, arrays and unions."""

    kind: LogicalType
    #: datetime / time: True = timezone-aware, False = naive, None = unknown.
    tz_aware: bool | None = None
    semantic: Semantic | None = None
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    #: enum: the allowed values, in declaration (or sorted, when inferred) order.
    enum_values: tuple[str | int, ...] | None = None
    #: object: nested fields, in natural order.
    fields: tuple[FieldSpec, ...] | None = None
    #: object whose keys are data (ids, language codes): the value type of every key.
    map_values: TypeSpec | None = None
    #: array: the item type.
    items: TypeSpec | None = None
    #: array: number of dimensions when > 1 (PostgreSQL multi-dimensional arrays).
    dimensions: int | None = None
    #: union: the member types (frequencies live in the stats block's type histogram).
    variants: tuple[TypeSpec, ...] | None = None

    def or_null(self) -> TypeSpec:
        """This type admitting null: a union of its variants (or of itself) and ``null``."""
        variants = self.variants if self.kind == LogicalType.UNION and self.variants else (self,)
        return TypeSpec(
            kind=LogicalType.UNION, variants=(*variants, TypeSpec(kind=LogicalType.NULL))
        )


class FieldSpec(_Frozen):
    #: The name as the source spells it; generated code aliases back to it.
    name: str
    type: TypeSpec
    #: The source's own type name (declared SQL type, BSON type, CSV "inferred").
    source_type: str | None = None
    nullable: bool = True
    #: Writers must supply it (no default, not generated) / documents always carry it.
    required: bool = False
    #: Default as the source spells it (SQL expression text or JSON literal).
    default: str | None = None
    generated: Generated | None = None
    comment: str | None = None


class IndexSpec(_Frozen):
    name: str
    fields: tuple[str, ...]
    unique: bool = False
    #: WHERE clause of a partial index, as the source spells it.
    partial: str | None = None
    #: True when some key is an expression rather than a column.
    expression: bool = False
    #: Documents lacking the indexed field(s) are left out of the index (MongoDB ``sparse``).
    sparse: bool = False
    #: TTL index: documents expire this many seconds after the indexed date (MongoDB).
    ttl_seconds: int | None = None


class ForeignKeySpec(_Frozen):
    name: str | None = None
    fields: tuple[str, ...]
    ref_collection: str
    ref_namespace: str | None = None
    ref_fields: tuple[str, ...]
    on_delete: str | None = None
    on_update: str | None = None


class CheckSpec(_Frozen):
    name: str | None = None
    expression: str


class FieldStats(_Frozen):
    null_ratio: float | None = None
    presence_ratio: float | None = None
    distinct_estimate: int | None = None
    cardinality: Cardinality | None = None
    #: Schemaless sources: logical type name → number of sampled values of that type.
    type_histogram: dict[str, int] | None = None


class TTLStats(_Frozen):
    """Key expiry (Redis): the share of examined keys carrying a TTL, and its spread."""

    #: Keys with a TTL / keys examined.
    share: float
    min_seconds: float | None = None
    median_seconds: float | None = None
    max_seconds: float | None = None


class CollectionStats(_Frozen):
    """Volatile: drift checks ignore it unless asked."""

    row_estimate: int | None = None
    size_bytes: int | None = None
    #: Average stored size of one row / document, as the server reports it.
    avg_size_bytes: int | None = None
    sampled: int | None = None
    #: Keyed by dotted field path (``address.city``, ``tags[]``).
    fields: dict[str, FieldStats] = Field(default_factory=dict)
    #: Key-value sources (Redis): expiry of the examined keys.
    ttl: TTLStats | None = None


class FileFormat(_Frozen):
    """How a file source is read back (CSV dialect, encoding, null tokens, JSON layout)."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    quotechar: str | None = None
    null_tokens: tuple[str, ...] = ()
    #: json: "array" (one JSON array), "ndjson" (one document per line), "extjson" (Mongo).
    layout: str | None = None


class CollectionSpec(_Frozen):
    name: str
    namespace: str | None = None
    kind: CollectionKind
    primary_key: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...]
    indexes: tuple[IndexSpec, ...] = ()
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    comment: str | None = None
    #: File sources: where and how the data is read (path relative to the config file).
    path: str | None = None
    file_format: FileFormat | None = None
    stats: CollectionStats | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CollectionSpec:
        names = [f.name for f in self.fields]
        # Counter, not list.count: quadratic in the field count otherwise.
        dupes = sorted(n for n, k in Counter(names).items() if k > 1)
        if dupes:
            raise ValueError(f"collection {self.name!r}: field(s) listed twice: {dupes}")
        known = set(names)
        for label, cols in [("primary_key", self.primary_key)] + [
            (f"index {ix.name!r}", ix.fields) for ix in self.indexes if not ix.expression
        ]:
            # Document indexes may name nested paths (``dimensions.width``): check the root.
            missing = [c for c in cols if c not in known and c.split(".")[0] not in known]
            if missing:
                raise ValueError(f"collection {self.name!r}: {label} names unknown {missing}")
        return self

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


class SourceInfo(_Frozen):
    name: str
    kind: SourceKind
    #: Server / file-format version where it matters for generated code; never a credential.
    server_version: str | None = None


class Snapshot(_Frozen):
    format: int = FORMAT_VERSION
    source: SourceInfo
    collections: tuple[CollectionSpec, ...]
    #: Things the inspector could not map faithfully (unknown types, rare minority types).
    warnings: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique_collections(self) -> Snapshot:
        keys = [(c.namespace, c.name) for c in self.collections]
        dupes = sorted(
            {f"{ns + '.' if ns else ''}{n}" for (ns, n), k in Counter(keys).items() if k > 1}
        )
        if dupes:
            raise ValueError(f"collection(s) listed twice: {dupes}")
        return self

    def collection(self, name: str) -> CollectionSpec:
        for c in self.collections:
            if c.name == name:
                return c
        raise KeyError(name)


TypeSpec.model_rebuild()


class SnapshotError(ValueError):
    """A snapshot file that cannot be used: names the file and the offending path."""

    def __init__(self, path: str | Path, location: str, message: str) -> None:
        self.path = str(path)
        self.location = location
        super().__init__(f"{self.path}: {location}: {message}")


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    """Plain data with defaults dropped, collections sorted by name (fields keep natural order)."""
    ordered = snapshot.model_copy(
        update={
            "collections": tuple(
                sorted(snapshot.collections, key=lambda c: (c.namespace or "", c.name))
            )
        }
    )
    data: dict[str, Any] = ordered.model_dump(mode="json", exclude_defaults=True)
    data["format"] = snapshot.format
    return data


def dumps_snapshot(snapshot: Snapshot) -> str:
    """The one deterministic serialisation: sorted keys, 2-space indent, trailing newline."""
    return (
        json.dumps(snapshot_to_dict(snapshot), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def parse_snapshot(data: Any, path: str | Path = "<snapshot>") -> Snapshot:
    if not isinstance(data, Mapping):
        raise SnapshotError(path, "$", "a snapshot must be a JSON object")
    if "format" not in data:
        raise SnapshotError(
            path, "$.format", "missing; is this an xrepo snapshot (written by `xrepo inspect`)?"
        )
    version = data.get("format")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            path,
            "$.format",
            f"unknown snapshot format {version!r}; this xrepo reads format {FORMAT_VERSION} "
            "(re-run `xrepo inspect` or upgrade xrepo)",
        )
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise SnapshotError(path, where, f"{msg}{more}") from None


def load_snapshot(path: str | Path) -> Snapshot:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SnapshotError(p, "$", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SnapshotError(
            p, f"byte {exc.start}", "not UTF-8 text (snapshots are written by `xrepo inspect`)"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(p, f"line {exc.lineno} column {exc.colno}", exc.msg) from None
    return parse_snapshot(data, p)


def snapshot_json_schema() -> dict[str, Any]:
    schema = Snapshot.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://xrepo.dev/schemas/snapshot-v{FORMAT_VERSION}.json"
    schema["title"] = f"xrepo snapshot format v{FORMAT_VERSION}"
    return schema
