"""Redis inspector (redis-py asyncio, the ``redis`` extra): key patterns as collections.

How it reads the server, bounded whatever its size:

* **SCAN, never KEYS**, ``MATCH <prefix>*`` when a prefix is given, ``COUNT scan_count``. At most
  ``scan_budget`` distinct keys are examined; when the budget stops the scan early a warning says
  so and every count in the snapshot describes only the examined keys (``row_estimate`` is then
  a lower bound). :class:`RedisInspection` reports the figures.
* **Patterns**: declared patterns (``patterns=``, from config) claim their keys first; the rest
  are grouped by :func:`.redis_patterns.group_keys` (``user:1``, ``user:2`` → ``user:{id}``).
  The collection name is the pattern without the prefix; the prefix is the ``namespace``.
* **Types**: ``TYPE`` and ``PTTL`` of every examined key, pipelined in batches. A pattern is
  described by its most common type (a mix is a warning). The type is recorded as the
  collection ``comment``: ``redis:hash``, ``redis:json`` (strings that all hold a JSON object),
  ``redis:string``, ``redis:set``, ``redis:zset``, ``redis:list`` (:func:`redis_value_kind`
  reads it back).
* **Fields**: the placeholders first (``source_type="key"``, typed int / uuid / str, the
  primary key), then the value's fields by name. Up to ``sample_per_pattern`` keys per pattern
  (the first in sorted order, so the sample is stable) are read with pipelined ``HGETALL`` /
  ``GET``. Hash values are text: ints, floats, decimals, bools (true/false), dates, datetimes
  and times are recognised as the CSV inspector does, values holding a JSON object or array
  become nested types. A hash field missing from some hashes is optional and nullable (Redis
  cannot store a null: absent is null). JSON documents are inferred like JSON files, with
  ISO date / datetime strings read as dates. Plain strings give one ``value`` field; sets and
  lists a ``members`` / ``items`` array of str; sorted sets ``members`` of
  ``{member, score}``. No enums are inferred: Redis values are open-ended.
* **Stats**: per field presence / null ratios and type histograms; per pattern the TTL spread
  (``stats.ttl``: share of keys with a TTL, min / median / max in whole seconds).
* **Declared JSON Schema**: authoritative for the value's fields when a ``schema_reader`` is
  given (the compiler passes its JSON Schema reader; the runtime does not depend on it);
  without one a warning says the fields were inferred instead.

Output is deterministic for the same keys: patterns sorted, samples sorted, fields sorted.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ..files import DATE_RE, DATETIME_RE
from ..schema import (
    CollectionSpec,
    CollectionStats,
    FieldSpec,
    FieldStats,
    LogicalType,
    Snapshot,
    SourceInfo,
    TTLStats,
    TypeSpec,
)
from .base import InspectError, Progress, synchronous
from .infer import FieldAccumulator
from .memory import DocumentAccumulator, field_order
from .redis_patterns import (
    IdType,
    KeyPattern,
    PatternSyntaxError,
    glob_escape,
    group_keys,
    id_type_of,
)

__all__ = [
    "PatternConfig",
    "RedisInspection",
    "SchemaReader",
    "inspect_redis",
    "inspect_redis_async",
    "inspect_redis_detailed",
    "redis_value_kind",
]

#: ``(json_schema, pattern) -> fields of the value`` (the compiler's JSON Schema reader).
SchemaReader = Callable[[Mapping[str, Any], str], Sequence[FieldSpec]]
ValueKind = Literal["hash", "json", "string", "set", "zset", "list", "stream", "unknown"]

_BATCH = 1000
_TYPES_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  out[2 * i - 1] = redis.call('TYPE', key)['ok']
  out[2 * i] = redis.call('PTTL', key)
end
return out
"""
_ID_TYPES: dict[IdType, LogicalType] = {
    "int": LogicalType.INT,
    "uuid": LogicalType.UUID,
    "str": LogicalType.STR,
}
_REDIS_TYPES = frozenset({"hash", "string", "set", "zset", "list", "stream"})


@dataclass(frozen=True)
class PatternConfig:
    """A pattern declared in config: ``pattern`` like ``user:{id}`` (without the prefix), an
    optional JSON Schema of the value, and the value kind to assume when no key exists yet."""

    pattern: str
    schema: Mapping[str, Any] | None = None
    kind: Literal["hash", "json"] = "hash"


@dataclass(frozen=True)
class RedisInspection:
    snapshot: Snapshot
    #: Distinct keys examined (TYPE / PTTL each); never more than the budget.
    keys_examined: int
    #: The scan stopped at the budget with keys left unseen.
    budget_reached: bool
    scan_calls: int
    #: Pipelined round trips for TYPE / PTTL / values.
    pipeline_calls: int


def redis_value_kind(spec: CollectionSpec) -> ValueKind | None:
    """The Redis value kind the inspector recorded for a ``key_pattern`` collection."""
    comment = spec.comment or ""
    if spec.kind != "key_pattern" or not comment.startswith("redis:"):
        return None
    kind = comment.removeprefix("redis:")
    known: tuple[ValueKind, ...] = ("hash", "json", "string", "set", "zset", "list", "stream")
    for value_kind in known:
        if kind == value_kind:
            return value_kind
    return "unknown"


def safe_url(url: str) -> str:
    """``url`` without its password (for messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


async def inspect_redis_async(
    url: str,
    *,
    name: str,
    prefix: str = "",
    scan_budget: int = 100_000,
    scan_count: int = 1000,
    patterns: Sequence[PatternConfig] = (),
    sample_per_pattern: int = 1000,
    schema_reader: SchemaReader | None = None,
    progress: Progress | None = None,
) -> Snapshot:
    """Snapshot (source ``name``, kind ``redis``): one ``key_pattern`` collection per pattern."""
    result = await inspect_redis_detailed(
        url,
        name=name,
        prefix=prefix,
        scan_budget=scan_budget,
        scan_count=scan_count,
        patterns=patterns,
        sample_per_pattern=sample_per_pattern,
        schema_reader=schema_reader,
        progress=progress,
    )
    return result.snapshot


inspect_redis = synchronous(inspect_redis_async)


async def inspect_redis_detailed(
    url: str,
    *,
    name: str,
    prefix: str = "",
    scan_budget: int = 100_000,
    scan_count: int = 1000,
    patterns: Sequence[PatternConfig] = (),
    sample_per_pattern: int = 1000,
    schema_reader: SchemaReader | None = None,
    progress: Progress | None = None,
    client: Any = None,
) -> RedisInspection:
    """:func:`inspect_redis_async` plus the scan figures; ``client``: an existing
    ``redis.asyncio.Redis`` to use instead of connecting to ``url`` (left open)."""
    if scan_budget < 1 or scan_count < 1 or sample_per_pattern < 1:
        raise InspectError(
            f"{name}: scan_budget, scan_count and sample_per_pattern must be positive"
        )
    declared = _declared(name, patterns)
    own = client is None
    if own:
        client = await _connect(url, name)
    try:
        from redis.exceptions import RedisError

        try:
            return await _Inspector(
                client, name, prefix, scan_budget, scan_count, sample_per_pattern, progress
            ).run(declared, schema_reader)
        except (RedisError, OSError) as exc:
            raise InspectError(
                f"{name}: Redis error while inspecting {safe_url(url)}: {exc}"
            ) from None
    finally:
        if own:
            await client.aclose()


def _declared(
    name: str, patterns: Sequence[PatternConfig]
) -> list[tuple[PatternConfig, KeyPattern]]:
    out = []
    for cfg in patterns:
        try:
            out.append((cfg, KeyPattern.parse(cfg.pattern)))
        except PatternSyntaxError as exc:
            raise InspectError(f"{name}: {exc}") from None
    texts = [p.text for _, p in out]
    dupes = sorted({t for t in texts if texts.count(t) > 1})
    if dupes:
        raise InspectError(f"{name}: key pattern(s) declared twice: {dupes}")
    return out


async def _connect(url: str, name: str) -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:
        raise InspectError(
            f"{name}: inspecting Redis needs redis-py: pip install 'xrepo[redis]'"
        ) from None
    try:
        client = aioredis.from_url(url, decode_responses=False, socket_connect_timeout=5)
    except ValueError as exc:
        raise InspectError(f"{name}: bad Redis URL {safe_url(url)}: {exc}") from None
    try:
        await client.ping()
    except Exception as exc:  # connection refused, auth, TLS...: all mean unreachable
        await client.aclose()
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InspectError(
            f"{name}: cannot reach Redis at {safe_url(url)}: {detail} "
            "(is the server running and the URL right?)"
        ) from None
    return client


@dataclass
class _Group:
    pattern: KeyPattern
    keys: list[str]
    id_types: dict[str, IdType]
    config: PatternConfig | None = None


class _Inspector:
    def __init__(
        self,
        client: Any,
        name: str,
        prefix: str,
        budget: int,
        count: int,
        sample: int,
        progress: Progress | None,
    ) -> None:
        self.client = client
        self.name = name
        self.prefix = prefix
        self.budget = budget
        self.count = count
        self.sample = sample
        self.progress = progress
        self.warnings: list[str] = []
        self.scan_calls = 0
        self.pipeline_calls = 0

    async def run(
        self,
        declared: list[tuple[PatternConfig, KeyPattern]],
        reader: SchemaReader | None,
    ) -> RedisInspection:
        keys, reached = await self._scan()
        types, ttls = await self._types(keys)
        groups = self._groups(sorted(keys), declared)
        collections = []
        for group in groups:
            collections.append(await self._collection(group, types, ttls, reader))
        if reached:
            self.warnings.insert(
                0,
                f"scan budget reached: examined {len(keys)} keys (scan_budget={self.budget}); "
                "patterns and counts describe only those keys (raise scan_budget to see more)",
            )
        info = await self.client.info("server")
        version = str(info.get("redis_version", "")).split(".")[0] or None
        snapshot = Snapshot(
            source=SourceInfo(name=self.name, kind="redis", server_version=version),
            collections=tuple(collections),
            warnings=tuple(self.warnings),
        )
        return RedisInspection(snapshot, len(keys), reached, self.scan_calls, self.pipeline_calls)

    # -- scanning ------------------------------------------------------------------------
    async def _scan(self) -> tuple[list[str], bool]:
        match = glob_escape(self.prefix) + "*" if self.prefix else None
        seen: dict[str, None] = {}
        cursor: int = 0
        undecodable = 0
        while True:
            want = max(1, min(self.count, self.budget - len(seen)))
            cursor, batch = await self.client.scan(cursor, match=match, count=want)
            self.scan_calls += 1
            for raw in batch:
                try:
                    key = _text(raw)
                except UnicodeDecodeError:
                    undecodable += 1
                    continue
                if key in seen:
                    continue  # SCAN may return a key twice
                if len(seen) >= self.budget:
                    if undecodable:
                        self._undecodable(undecodable)
                    return list(seen), True
                seen[key] = None
            if self.progress is not None:
                self.progress.update(len(seen), None)
            if int(cursor) == 0:
                break
            if len(seen) >= self.budget:
                if undecodable:
                    self._undecodable(undecodable)
                return list(seen), True
        if undecodable:
            self._undecodable(undecodable)
        if self.progress is not None:
            self.progress.update(len(seen), len(seen))
        return list(seen), False

    def _undecodable(self, n: int) -> None:
        self.warnings.append(f"{n} key(s) are not UTF-8 text and were left out")

    async def _types(self, keys: list[str]) -> tuple[dict[str, str], dict[str, int]]:
        """TYPE and PTTL of every key, a batch per round trip: one read-only Lua call per batch
        (one reply to parse instead of two per key: redis-py's parser is the bottleneck), or
        a pipeline where scripting is refused."""
        from redis.exceptions import ResponseError

        types: dict[str, str] = {}
        ttls: dict[str, int] = {}
        scripted = True
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            replies: list[Any] | None = None
            if scripted:
                try:
                    replies = list(await self.client.eval(_TYPES_SCRIPT, len(chunk), *chunk))
                except ResponseError:  # scripting disabled or denied by ACL
                    scripted = False
            if replies is None:
                pipe = self.client.pipeline(transaction=False)
                for key in chunk:
                    pipe.type(key)
                    pipe.pttl(key)
                replies = await pipe.execute()
            self.pipeline_calls += 1
            for i, key in enumerate(chunk):
                kind, ttl = _text(replies[2 * i]), int(replies[2 * i + 1])
                if kind != "none":  # expired or deleted since the scan
                    types[key] = kind
                    ttls[key] = ttl
        return types, ttls

    def _groups(
        self, keys: list[str], declared: list[tuple[PatternConfig, KeyPattern]]
    ) -> list[_Group]:
        claimed: dict[str, list[str]] = {p.text: [] for _, p in declared}
        rest = []
        for key in keys:
            for _, pattern in declared:
                if pattern.parse_key(key, self.prefix) is not None:
                    claimed[pattern.text].append(key)
                    break
            else:
                rest.append(key)
        groups: dict[str, _Group] = {}
        for cfg, pattern in declared:
            members = claimed[pattern.text]
            values: dict[str, list[str]] = {n: [] for n in pattern.placeholders}
            for key in members:
                for n, v in (pattern.parse_key(key, self.prefix) or {}).items():
                    values[n].append(v)
            id_types = {n: id_type_of(v) for n, v in values.items()}
            groups[pattern.text] = _Group(pattern, members, id_types, cfg)
        for text, group in group_keys(rest, prefix=self.prefix).items():
            if text in groups:  # an inferred twin of a declared pattern: its keys too
                groups[text].keys = sorted([*groups[text].keys, *group.keys])
            else:
                groups[text] = _Group(group.pattern, group.keys, group.id_types)
        return [groups[t] for t in sorted(groups)]

    # -- one pattern ---------------------------------------------------------------------
    async def _collection(
        self,
        group: _Group,
        types: Mapping[str, str],
        ttls: Mapping[str, int],
        reader: SchemaReader | None,
    ) -> CollectionSpec:
        text = group.pattern.text
        keys = [k for k in group.keys if k in types]
        histogram = Counter(types[k] for k in keys)
        if histogram:
            redis_type = min(histogram, key=lambda t: (-histogram[t], t))
        else:
            redis_type = "hash" if group.config is None or group.config.kind == "hash" else "string"
            self.warnings.append(f"{text}: declared, but no key of it was found")
        if len(histogram) > 1:
            shown = ", ".join(f"{t}: {n}" for t, n in sorted(histogram.items()))
            self.warnings.append(
                f"{text}: keys of several Redis types ({shown}); described as {redis_type}"
            )
        sample = [k for k in keys if types[k] == redis_type][: self.sample]
        value = _Value(redis_type, text)
        if redis_type in ("hash", "string"):
            await self._read_values(sample, redis_type, value)
        if redis_type == "string" and not histogram and group.config is not None:
            value.kind = "json"
        kind = value.resolve(self.warnings)
        fields, stats = value.fields()
        declared_fields = self._declared_fields(group, reader)
        key_types = dict(group.id_types)
        if declared_fields is not None:
            for f in declared_fields:
                if f.name in key_types and f.type.kind in (LogicalType.INT, LogicalType.UUID):
                    key_types[f.name] = "int" if f.type.kind == LogicalType.INT else "uuid"
            fields = tuple(f for f in declared_fields if f.name not in key_types)
        clashes = [f.name for f in fields if f.name in key_types]
        if clashes:
            self.warnings.append(
                f"{text}: value field(s) {clashes} share a name with the key's placeholder(s); "
                "the key's value is used (rename the placeholder in a declared pattern to keep "
                "both)"
            )
            fields = tuple(f for f in fields if f.name not in key_types)
        key_fields = tuple(
            FieldSpec(
                name=n,
                type=TypeSpec(kind=_ID_TYPES[t]),
                source_type="key",
                nullable=False,
                required=True,
            )
            for n, t in key_types.items()
        )
        for n, t in key_types.items():
            stats[n] = FieldStats(
                null_ratio=0.0 if keys else None,
                presence_ratio=1.0 if keys else None,
                distinct_estimate=len(keys) if len(key_types) == 1 and keys else None,
                type_histogram={t: len(keys)} if keys else None,
            )
        return CollectionSpec(
            name=text,
            namespace=self.prefix or None,
            kind="key_pattern",
            primary_key=tuple(key_types),
            fields=(*key_fields, *fields),
            comment=f"redis:{kind}",
            stats=CollectionStats(
                row_estimate=len(keys),
                sampled=value.sampled,
                fields=dict(sorted(stats.items())),
                ttl=_ttl_stats([ttls[k] for k in keys]),
            ),
        )

    def _declared_fields(
        self, group: _Group, reader: SchemaReader | None
    ) -> tuple[FieldSpec, ...] | None:
        cfg = group.config
        if cfg is None or cfg.schema is None:
            return None
        if reader is None:
            self.warnings.append(
                f"{group.pattern.text}: a JSON Schema is declared but no schema reader was "
                "given; the value's fields were inferred from sampled keys"
            )
            return None
        try:
            return tuple(reader(cfg.schema, group.pattern.text))
        except InspectError:
            raise
        except Exception as exc:  # the reader's own errors: name the pattern
            raise InspectError(
                f"{self.name}: {group.pattern.text}: cannot read the declared JSON Schema: {exc}"
            ) from None

    async def _read_values(self, keys: list[str], redis_type: str, value: _Value) -> None:
        for start in range(0, len(keys), _BATCH):
            pipe = self.client.pipeline(transaction=False)
            for key in keys[start : start + _BATCH]:
                if redis_type == "hash":
                    pipe.hgetall(key)
                else:
                    pipe.get(key)
            replies = await pipe.execute(raise_on_error=False)
            self.pipeline_calls += 1
            for reply in replies:
                if isinstance(reply, Exception):
                    continue  # the key changed type or vanished since TYPE
                if redis_type == "hash":
                    value.add_hash(reply)
                elif reply is not None:
                    value.add_string(reply)


def _ttl_stats(ttls: list[int]) -> TTLStats | None:
    if not ttls:
        return None
    # PTTL: -1 no expiry; whole seconds (rounded up) keep the figures stable between runs.
    seconds = sorted(math.ceil(t / 1000) for t in ttls if t >= 0)
    if not seconds:
        return TTLStats(share=0.0)
    return TTLStats(
        share=round(len(seconds) / len(ttls), 4),
        min_seconds=float(seconds[0]),
        median_seconds=float(statistics.median(seconds)),
        max_seconds=float(seconds[-1]),
    )


def _dates(value: Any) -> Any:
    """JSON values with ISO date / datetime strings read as dates (JSON has no date type)."""
    if isinstance(value, str):
        try:
            if DATE_RE.fullmatch(value):
                return date.fromisoformat(value)
            if DATETIME_RE.fullmatch(value):
                return datetime.fromisoformat(value)
        except ValueError:
            return value
        return value
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


def _json_container(text: str) -> Any:
    if text[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


class _Value:
    """What the sampled values of one pattern say about its fields."""

    def __init__(self, redis_type: str, pattern: str) -> None:
        self.redis_type = redis_type
        self.pattern = pattern
        self.kind: ValueKind = (
            redis_type if redis_type in _REDIS_TYPES else "unknown"  # type: ignore[assignment]
        )
        self.sampled = 0
        self.hash_fields: dict[str, FieldAccumulator] = {}
        self.docs = DocumentAccumulator()
        self.plain = FieldAccumulator(text=True)
        self.strings = 0

    def add_hash(self, mapping: Mapping[Any, Any]) -> None:
        self.sampled += 1
        for raw_name, raw in mapping.items():
            try:
                name = _text(raw_name)
            except UnicodeDecodeError:
                continue
            acc = self.hash_fields.get(name)
            if acc is None:
                acc = self.hash_fields[name] = FieldAccumulator(text=True)
            try:
                text = _text(raw)
            except UnicodeDecodeError:
                acc.add(bytes(raw))
                continue
            parsed = _json_container(text)
            if parsed is not None:
                acc.add(_dates(parsed))
            else:
                acc.add_text(text)

    def add_string(self, raw: Any) -> None:
        self.sampled += 1
        self.strings += 1
        try:
            text = _text(raw)
        except UnicodeDecodeError:
            self.plain.add(bytes(raw))
            return
        parsed = _json_container(text)
        if isinstance(parsed, dict):
            self.docs.add(_dates(parsed))
        self.plain.add_text(text)

    def resolve(self, warnings: list[str]) -> ValueKind:
        if self.kind == "string" and self.strings:
            if self.docs.count == self.strings:
                self.kind = "json"
            elif self.docs.count:
                warnings.append(
                    f"{self.pattern}: {self.docs.count} of {self.strings} sampled strings hold "
                    "JSON objects, the others not; described as plain strings"
                )
        return self.kind

    def fields(self) -> tuple[tuple[FieldSpec, ...], dict[str, FieldStats]]:
        stats: dict[str, FieldStats] = {}
        if self.kind == "hash":
            out = []
            for name in field_order(self.hash_fields):
                acc = self.hash_fields[name]
                spec = acc.to_field(name, total=self.sampled)
                # A hash cannot hold a null: an absent field is the null.
                spec = spec.model_copy(
                    update={"nullable": not spec.required, "source_type": "inferred"}
                )
                out.append(spec)
                acc.collect_stats(name, stats, total=self.sampled)
            return tuple(out), stats
        if self.kind == "json":
            self.docs.collect_stats("", stats)
            return self.docs.to_fields(), stats
        if self.kind == "string":
            self.plain.collect_stats("value", stats, total=self.sampled)
            spec = self.plain.to_field("value").model_copy(update={"source_type": "inferred"})
            return (spec,), stats
        text = TypeSpec(kind=LogicalType.STR)
        if self.kind == "zset":
            member = FieldSpec(name="member", type=text, nullable=False, required=True)
            score = FieldSpec(
                name="score", type=TypeSpec(kind=LogicalType.FLOAT), nullable=False, required=True
            )
            item = TypeSpec(kind=LogicalType.OBJECT, fields=(member, score))
            return (_array_field("members", item, "zset"),), stats
        if self.kind in ("set", "list"):
            name = "members" if self.kind == "set" else "items"
            return (_array_field(name, text, self.kind),), stats
        unknown = TypeSpec(kind=LogicalType.UNKNOWN)
        return (FieldSpec(name="value", type=unknown, source_type=self.redis_type),), stats


def _array_field(name: str, item: TypeSpec, source_type: str) -> FieldSpec:
    return FieldSpec(
        name=name,
        type=TypeSpec(kind=LogicalType.ARRAY, items=item),
        source_type=source_type,
        nullable=False,
        required=True,
    )
