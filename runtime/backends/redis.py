"""RedisBackend over redis-py asyncio (the ``redis`` extra): one key pattern as a collection.

A row is one key: ``user:{id}`` holds the row whose ``id`` is the placeholder's value. The
value is a **hash** (``kind="hash"``: one hash field per row field) or a **JSON string**
(``kind="json"``: the row as one JSON object). Key fields (the placeholders) live in the key
only, never in the value.

What is O(1) and what scans:

* ``read`` / any query whose filter pins every key field by equality or ``$in`` fetches those
  keys directly (pipelined ``HGETALL`` / ``GET``): no scan.
* Everything else — ``list`` with filters, ``sort``, paging, ``count``, ``distinct``,
  ``aggregate``, ``bulk_update`` / ``bulk_delete`` by filter — **scans the pattern**: ``SCAN
  MATCH <pattern glob> COUNT scan_count``, streamed in batches; each batch's values are fetched
  in one pipelined round trip, decoded, and filtered with the runtime's in-memory engine (the
  compiled predicate, sort, ``$group``...) so that only matching rows are kept. The scan is
  bounded: past ``max_scan`` keys it raises :class:`~xrepo.runtime.errors.BackendError` (raise
  ``max_scan`` or narrow the filter by key fields). Key fields pinned by equality are put into
  the MATCH glob, escaped, so a key value holding ``*`` / ``?`` / ``[`` never widens a scan.
* Writes run as MULTI/EXEC transactions: ``insert`` WATCHes the new keys, refuses any that
  exists (:class:`~xrepo.runtime.errors.ConstraintError`) and writes all rows or none;
  ``update`` / ``delete`` WATCH the matched keys, re-read them, and retry (up to 5 times) when
  another client changed them in between. A bulk write is three or four round trips, whatever
  the number of rows.

Values: hash fields are text. Written as ``true`` / ``false`` (bools), decimal text (ints,
floats, decimals), ISO 8601 (dates, datetimes, times, durations), canonical UUIDs, raw bytes,
JSON (list / object / untyped fields); ``None`` is "field absent" (a hash cannot hold a null,
so ``$exists`` cannot tell a null from a missing hash field). Read back by the ``model``'s
field types (the inspector infers the same types from the same text); without a model, hash
values stay strings (and JSON fields are parsed). JSON values keep nulls and JSON types; their
top-level date / decimal / uuid / bytes (base64) fields are decoded by the model's types.

TTL: ``ttl_seconds`` is (re)applied to every key written. Without it, updates keep a key's TTL.
Autoincrement int keys come from ``INCRBY`` on ``xrepo:seq:<prefix><pattern>``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, TypeAdapter

from ..errors import BackendError, ConfigurationError, ConstraintError, MissingDriverError
from ..introspect.redis_patterns import KeyPattern, PatternSyntaxError
from ..query.ast import And, Compare, FieldRef, In, MatchAll, Node, Query, SortKey
from ..query.cursor import after_predicate
from ..query.fields import fields_of
from ..query.predicate import compile_filter
from ..query.sort import order_rows
from ..query.values import MISSING, getter, type_class
from .base import BackendBase, Collection, Row

if TYPE_CHECKING:
    from ..aggregate.engine import Pipeline

ValueKind = Literal["hash", "json"]
Decoder = Callable[[Any], Any]
#: ``(key, raw value as read, decoded row)``
Matched = tuple[str, Any, Row]

_RETRIES = 5
#: Keys whose ``MEMORY USAGE`` and ``PTTL`` ``stats`` reads (one pipelined round trip).
STATS_SAMPLE = 200
_MAX_DIRECT = 10_000  # pinned keys fetched directly (a larger $in scans instead)
_TIMEDELTA: TypeAdapter[datetime.timedelta] = TypeAdapter(datetime.timedelta)
_TRUE = frozenset({"true", "1", "t", "yes", "y"})
_FALSE = frozenset({"false", "0", "f", "no", "n"})


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)


def _bool(raw: Any) -> Any:
    text = _text(raw).lower()
    return True if text in _TRUE else False if text in _FALSE else _text(raw)


def _json(raw: Any) -> Any:
    text = _text(raw)
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON: validation judges it


def _scalar(parse: Callable[[str], Any]) -> Decoder:
    def decode(raw: Any) -> Any:
        text = _text(raw)
        try:
            return parse(text)
        except (ValueError, ArithmeticError):
            return text  # not of the field's type: validation names it

    return decode


def _bytes(raw: Any) -> Any:
    return bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode("utf-8")


def _b64(raw: Any) -> Any:
    try:
        return base64.b64decode(raw, validate=True) if isinstance(raw, str) else raw
    except ValueError:
        return raw


_DECODERS: dict[str, Decoder] = {
    "str": _text,
    "int": _scalar(int),
    "float": _scalar(float),
    "decimal": _scalar(decimal.Decimal),
    "bool": _bool,
    "date": _scalar(datetime.date.fromisoformat),
    "datetime": _scalar(datetime.datetime.fromisoformat),
    "time": _scalar(datetime.time.fromisoformat),
    "timedelta": _scalar(_TIMEDELTA.validate_python),
    "uuid": _scalar(uuid.UUID),
    "bytes": _bytes,
}


def encode_text(value: Any) -> str | bytes:
    """A scalar as hash-field text (the spelling the inspector infers back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | decimal.Decimal | uuid.UUID | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return _TIMEDELTA.dump_python(value, mode="json")  # type: ignore[no-any-return]
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return _dumps(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.timedelta):
        return _TIMEDELTA.dump_python(value, mode="json")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class _Layout:
    """How rows of one collection map to keys and values."""

    name: str
    pattern: KeyPattern
    prefix: str
    #: source name → decoder of the stored (hash text / JSON) value
    decoders: dict[str, Decoder]
    #: fields every decoded hash row carries (absent hash fields read as None)
    fields: tuple[str, ...]
    #: fields written as JSON text in a hash
    json_fields: frozenset[str]

    @property
    def keys(self) -> tuple[str, ...]:
        return self.pattern.placeholders

    def key_text(self, name: str, value: Any) -> str:
        if value is None or isinstance(value, bool) or not isinstance(value, int | str | uuid.UUID):
            raise ConstraintError(
                f"{self.name}: key field {name!r} must be an int, str or UUID, got {value!r}"
            )
        text = str(value)
        if not text:
            raise ConstraintError(f"{self.name}: key field {name!r} is empty")
        stop = self.pattern.delimiter(name)
        if stop is not None and stop in text:
            raise ConstraintError(
                f"{self.name}: key field {name!r} value {text!r} holds {stop!r}, which ends "
                f"it in the key pattern {self.pattern.text!r} (only the last key field may)"
            )
        return text

    def key_of(self, row: Mapping[str, Any]) -> str:
        return self.pattern.key(
            {n: self.key_text(n, row.get(n)) for n in self.keys}, prefix=self.prefix
        )

    def key_values(self, key: str) -> dict[str, Any] | None:
        """The typed key fields of ``key``; None when it is not a key of this pattern."""
        parts = self.pattern.parse_key(key, self.prefix)
        if parts is None:
            return None
        out: dict[str, Any] = {}
        for name, text in parts.items():
            decode: Decoder = self.decoders.get(name, _text)
            value = decode(text)
            if decode is not _text and isinstance(value, str):
                return None  # "user:1:profile" is not a key of user:{id} with an int id
            out[name] = value
        return out


class RedisBackend(BackendBase):
    """Rows of one Redis key pattern (hash or JSON-string values); see the module docstring.

    ``client``: a ``redis://`` URL or an existing ``redis.asyncio.Redis`` (used as is, not
    closed). ``pattern``: the key pattern without the prefix (default: the collection's name,
    so one backend can serve several patterns of one kind); ``prefix``: prepended to every key
    (default: the collection's namespace). ``model``: the row model, whose field types decode
    the stored text. Queries other than by key scan at most ``max_scan`` keys, ``scan_count``
    per SCAN call, and fetch values ``batch_size`` keys per pipelined round trip.
    """

    def __init__(
        self,
        client: Any,
        *,
        pattern: str | None = None,
        kind: ValueKind = "hash",
        model: type[BaseModel] | None = None,
        prefix: str | None = None,
        ttl_seconds: float | None = None,
        max_scan: int = 100_000,
        scan_count: int = 1000,
        batch_size: int = 1000,
    ) -> None:
        if kind not in ("hash", "json"):
            raise ConfigurationError(f"RedisBackend: kind must be 'hash' or 'json', not {kind!r}")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ConfigurationError(f"RedisBackend: ttl_seconds must be > 0, not {ttl_seconds}")
        self._url = client if isinstance(client, str) else None
        self._client: Any = None if isinstance(client, str) else client
        self.pattern = pattern
        self.kind: ValueKind = kind
        self.model = model
        self.prefix = prefix
        self.ttl_ms = None if ttl_seconds is None else int(ttl_seconds * 1000)
        self.max_scan = max_scan
        self.scan_count = scan_count
        self.batch_size = batch_size
        #: Keys the last scan examined (tests and benchmarks read it).
        self.last_scanned = 0
        self._layouts: dict[tuple[str | None, str, bool], _Layout] = {}

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        if self._client is not None:
            return
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise MissingDriverError(
                "RedisBackend needs redis-py: pip install 'xrepo[redis]'"
            ) from None
        assert self._url is not None
        client = aioredis.from_url(self._url, decode_responses=False)
        try:
            await client.ping()
        except Exception as exc:  # refused, auth, TLS: the server is not usable
            await client.aclose()
            raise BackendError(f"cannot reach Redis: {exc}") from None
        self._client = client

    async def close(self) -> None:
        if self._url is not None and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _redis(self) -> Any:
        if self._client is None:
            await self.connect()
        return self._client

    def _layout(self, coll: Collection, *, typed: bool = True) -> _Layout:
        """``typed``: decode by ``model`` (False for other patterns read by ``$lookup``)."""
        cached = self._layouts.get((coll.namespace, coll.name, typed))
        if cached is not None:
            return cached
        text = self.pattern if self.pattern is not None else coll.name
        try:
            pattern = KeyPattern.parse(text)
        except PatternSyntaxError as exc:
            raise ConfigurationError(f"RedisBackend: {exc}") from None
        keys = pattern.placeholders
        if coll.primary_key and set(coll.primary_key) != set(keys):
            raise ConfigurationError(
                f"RedisBackend: pattern {text!r} has key fields {list(keys)} but collection "
                f"{coll.name!r} has primary key {list(coll.primary_key)}"
            )
        decoders: dict[str, Decoder] = {}
        if self.model is not None and typed:
            for info in fields_of(self.model).by_name.values():
                ref = info.ref
                if ref.array or ref.kind in ("object", "any") or ref.path[0] in coll.json_fields:
                    decoders[ref.path[0]] = _json
                else:
                    decoders[ref.path[0]] = _DECODERS[ref.kind]
        for name in coll.json_fields:
            decoders.setdefault(name, _json)
        prefix = self.prefix if self.prefix is not None else coll.namespace or ""
        layout = _Layout(
            coll.name,
            pattern,
            prefix,
            decoders,
            tuple(f for f in coll.fields if f not in keys),
            frozenset(n for n, d in decoders.items() if d is _json),
        )
        self._layouts[(coll.namespace, coll.name, typed)] = layout
        return layout

    # -- values --------------------------------------------------------------------------
    def _decode(self, layout: _Layout, key: str, raw: Any) -> Row | None:
        keys = layout.key_values(key)
        if keys is None or raw is None or isinstance(raw, Exception):
            return None  # not ours, vanished, or another Redis type (WRONGTYPE)
        if self.kind == "hash":
            if not raw:
                return None
            row: Row = dict.fromkeys(layout.fields)
            for name, value in raw.items():
                field = _text(name)
                decode: Decoder = layout.decoders.get(field, _text)
                row[field] = decode(value)
        else:
            try:
                doc = json.loads(raw)
            except ValueError:
                raise BackendError(f"{layout.name}: key {key!r} does not hold JSON") from None
            if not isinstance(doc, dict):
                raise BackendError(f"{layout.name}: key {key!r} holds JSON but not an object")
            row = doc
            for field, value in doc.items():
                typed = layout.decoders.get(field)
                if isinstance(value, str) and typed is not None and typed not in (_text, _json):
                    row[field] = _b64(value) if typed is _bytes else typed(value)
        row.update(keys)
        return row

    def _value(self, layout: _Layout, row: Mapping[str, Any]) -> dict[str, Any] | str:
        body = {k: v for k, v in row.items() if k not in layout.keys}
        if self.kind == "json":
            return json.dumps(
                body, default=_json_default, ensure_ascii=False, separators=(",", ":")
            )
        out: dict[str, Any] = {}
        for name, value in body.items():
            if value is None:
                continue
            if name in layout.json_fields:
                out[name] = _dumps(value)
            else:
                out[name] = encode_text(value)
        return out

    def _queue_write(self, pipe: Any, layout: _Layout, key: str, row: Mapping[str, Any]) -> None:
        value = self._value(layout, row)
        if isinstance(value, str):
            if self.ttl_ms is not None:
                pipe.set(key, value, px=self.ttl_ms)
            else:
                pipe.set(key, value, keepttl=True)
            return
        if not value:
            raise ConstraintError(
                f"{layout.name}: key {key!r} would be an empty hash (Redis cannot store one): "
                "give at least one non-key field a value"
            )
        pipe.hset(key, mapping=value)
        if self.ttl_ms is not None:
            pipe.pexpire(key, self.ttl_ms)

    # -- reading keys --------------------------------------------------------------------
    async def _fetch(self, layout: _Layout, keys: Sequence[str]) -> list[tuple[str, Any]]:
        """``(key, raw value)`` for each key, one pipelined round trip per batch."""
        client = await self._redis()
        out: list[tuple[str, Any]] = []
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                if self.kind == "hash":
                    pipe.hgetall(key)
                else:
                    pipe.get(key)
            out.extend(zip(chunk, await pipe.execute(raise_on_error=False), strict=True))
        return out

    def _pinned(self, layout: _Layout, where: Node) -> dict[str, tuple[str, ...]]:
        """Key fields fixed by ``where`` (equality / ``$in`` terms at the top level)."""
        terms = where.items if isinstance(where, And) else (where,)
        pinned: dict[str, tuple[str, ...]] = {}
        for t in terms:
            if not isinstance(t, Compare | In) or len(t.field.path) != 1:
                continue
            name = t.field.path[0]
            if name not in layout.keys:
                continue
            if isinstance(t, Compare) and t.op == "eq" and t.value is not None:
                values: tuple[Any, ...] = (t.value,)
            elif isinstance(t, In) and not t.negate and None not in t.values:
                values = t.values
            else:
                continue
            try:
                texts = tuple(dict.fromkeys(layout.key_text(name, v) for v in values))
            except ConstraintError:
                continue  # a value no key can hold: leave it to the predicate
            previous = pinned.get(name)
            pinned[name] = texts if previous is None else tuple(v for v in previous if v in texts)
        return pinned

    async def _key_batches(self, layout: _Layout, where: Node) -> AsyncIterator[list[str]]:
        """Candidate keys for ``where``: built directly when every key field is pinned,
        else SCANned (bounded by ``max_scan``)."""
        pinned = self._pinned(layout, where)
        self.last_scanned = 0
        if layout.keys and all(n in pinned for n in layout.keys):
            combos: list[dict[str, str]] = [{}]
            for name in layout.keys:
                combos = [{**c, name: v} for c in combos for v in pinned[name]]
                if len(combos) > _MAX_DIRECT:
                    break
            else:
                keys = sorted({layout.pattern.key(c, layout.prefix) for c in combos})
                self.last_scanned = len(keys)
                for start in range(0, len(keys), self.batch_size):
                    yield keys[start : start + self.batch_size]
                return
        if not layout.keys:
            self.last_scanned = 1
            yield [layout.pattern.key({}, layout.prefix)]
            return
        single = {n: v[0] for n, v in pinned.items() if len(v) == 1}
        match = layout.pattern.glob(layout.prefix, single)
        client = await self._redis()
        seen: set[str] = set()
        cursor: int = 0
        while True:
            cursor, raw = await client.scan(cursor, match=match, count=self.scan_count)
            batch = []
            for item in raw:
                key = _text(item)
                if key not in seen:
                    seen.add(key)
                    batch.append(key)
            self.last_scanned = len(seen)
            if len(seen) > self.max_scan:
                raise BackendError(
                    f"{layout.name}: more than max_scan={self.max_scan} keys match "
                    f"{match!r}; queries other than by key scan the pattern: raise max_scan= "
                    "or filter on the key fields"
                )
            if batch:
                yield batch
            if int(cursor) == 0:
                return

    async def _matching(self, layout: _Layout, where: Node) -> list[Matched]:
        """``(key, raw value, decoded row)`` of every row matching ``where``, streamed."""
        test = compile_filter(where).test if not isinstance(where, MatchAll) else None
        out: list[Matched] = []
        async for batch in self._key_batches(layout, where):
            candidates = [k for k in batch if layout.key_values(k) is not None]
            for key, raw in await self._fetch(layout, candidates):
                row = self._decode(layout, key, raw)
                if row is not None and (test is None or test(row)):
                    out.append((key, raw, row))
        return out

    async def _rows(self, coll: Collection, where: Node) -> list[Row]:
        return [row for _, _, row in await self._matching(self._layout(coll), where)]

    # -- reads ---------------------------------------------------------------------------
    async def select(self, coll: Collection, query: Query) -> list[Row]:
        layout = self._layout(coll)
        rows = await self._rows(coll, query.where)
        if query.after is not None:
            beyond = after_predicate(query.sort, query.after)
            rows = [r for r in rows if beyond(r)]
        end = None if query.limit is None else query.skip + query.limit
        if query.sort:
            rows = order_rows(rows, query.sort, end)
        elif layout.keys:
            rows = order_rows(rows, [SortKey(FieldRef((k,), k, "any")) for k in layout.keys], end)
        return rows[query.skip : end]

    async def count(self, coll: Collection, where: Node) -> int:
        layout = self._layout(coll)
        if not isinstance(where, MatchAll):
            return len(await self._matching(layout, where))
        client = await self._redis()
        wanted = b"hash" if self.kind == "hash" else b"string"
        total = 0
        async for batch in self._key_batches(layout, where):
            keys = [k for k in batch if layout.key_values(k) is not None]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.type(key)
            total += sum(1 for t in await pipe.execute() if _bytes(t) == wanted)
        return total

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        get = getter(field.path, True)
        seen: list[Any] = []
        for row in await self._rows(coll, where):
            value = get(row)
            for v in value if isinstance(value, list) else [value]:
                v = None if v is MISSING else v
                if not any(type_class(v) == type_class(s) and v == s for s in seen):
                    seen.append(v)
        return sorted(seen, key=lambda v: (v is not None, v if v is not None else 0))

    async def aggregate(self, coll: Collection, pipeline: Pipeline) -> list[Row]:
        """The leading ``$match`` while scanning, the rest in memory; ``$lookup`` reads another
        pattern of this backend (when the backend serves patterns by collection name)."""

        async def fetch(name: str, path: str, values: Sequence[Any]) -> tuple[list[Row], Any]:
            if self.pattern is not None:
                return [], _same
            other = self._layout(Collection(name, coll.namespace), typed=False)
            return [row for _, _, row in await self._matching(other, MatchAll())], _same

        rows = await self._rows(coll, pipeline.where)
        return await pipeline.run(rows, fetch)

    # -- statistics ----------------------------------------------------------------------
    async def stats(self, coll: Collection) -> dict[str, Any]:
        """Figures for ``XRepo.get_statistics``, within a budget (``KEYS`` is never sent):

        * ``key_count``: keys of the pattern, by ``SCAN MATCH`` (``scan_count`` per call) up to
          ``max_scan`` keys; past the budget it is ``None`` (``key_count_complete`` False).
        * ``memory_sampled_bytes`` / ``sampled_keys``: ``MEMORY USAGE`` of at most
          ``STATS_SAMPLE`` of those keys (the first the scan returns, in hash-table order,
          so not biased by key value); ``storage_bytes`` is their mean × ``key_count``
          (``None`` when the count is not known or the server refuses ``MEMORY USAGE``).
        * ``ttl_share``: the share of sampled keys that carry an expiry (``PTTL`` ≥ 0).
        * ``indexes`` is empty: Redis keeps no secondary indexes (the key pattern is the
          only access path), and cardinalities are sampled by the repo.
        """
        from redis.exceptions import ResponseError

        layout = self._layout(coll)
        client = await self._redis()
        keys: list[str] = []
        if layout.keys:
            match = layout.pattern.glob(layout.prefix, {})
            seen: set[str] = set()
            cursor: int = 0
            complete = True
            while True:
                cursor, raw = await client.scan(cursor, match=match, count=self.scan_count)
                for item in raw:
                    key = _text(item)
                    if key not in seen and layout.key_values(key) is not None:
                        seen.add(key)
                        if len(keys) < STATS_SAMPLE:
                            keys.append(key)
                if len(seen) > self.max_scan:
                    complete = False
                    break
                if int(cursor) == 0:
                    break
            count: int | None = len(seen) if complete else None
        else:
            single = layout.pattern.key({}, layout.prefix)
            complete = True
            count = int(await client.exists(single))
            keys = [single] if count else []
        used: list[int] = []
        expiring = 0
        if keys:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.memory_usage(key)
                pipe.pttl(key)
            answers = await pipe.execute(raise_on_error=False)
            for usage, ttl in zip(answers[::2], answers[1::2], strict=True):
                if isinstance(usage, int):
                    used.append(usage)
                if isinstance(ttl, int) and ttl >= 0:
                    expiring += 1
            if any(isinstance(a, ResponseError) for a in answers[::2]):
                used = []  # MEMORY USAGE refused (renamed, ACL, old server): no estimate
        mean = sum(used) / len(used) if used else None
        return {
            "key_count": count,
            "key_count_complete": complete,
            "sampled_keys": len(keys),
            "memory_sampled_bytes": sum(used) if used else None,
            "storage_bytes": (
                round(mean * count)
                if mean is not None and count is not None
                else (0 if count == 0 else None)
            ),
            "ttl_share": expiring / len(keys) if keys else None,
            "indexes": {},
        }

    # -- writes --------------------------------------------------------------------------
    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        layout = self._layout(coll)
        client = await self._redis()
        staged = [dict(r) for r in rows]
        await self._fill_keys(coll, layout, client, staged)
        keyed: dict[str, dict[str, Any]] = {}
        for row in staged:
            key = layout.key_of(row)
            if key in keyed:
                raise ConstraintError(f"{coll.name}: duplicate key {key!r} in one insert")
            keyed[key] = row
        if not keyed:
            return []
        from redis.exceptions import WatchError

        for _ in range(_RETRIES):
            async with client.pipeline(transaction=True) as pipe:
                await pipe.watch(*keyed)
                taken = await self._existing(client, list(keyed))
                if taken:
                    raise ConstraintError(
                        f"{coll.name}: key {taken[0]!r} exists"
                        + (f" (and {len(taken) - 1} more)" if len(taken) > 1 else "")
                    )
                pipe.multi()
                for key, row in keyed.items():
                    self._queue_write(pipe, layout, key, row)
                try:
                    await pipe.execute()
                except WatchError:
                    continue  # someone wrote one of the keys: look again
            blank = dict.fromkeys(coll.fields)
            return [{**blank, **row} for row in staged]
        raise BackendError(f"{coll.name}: insert kept colliding with concurrent writers")

    async def _fill_keys(
        self, coll: Collection, layout: _Layout, client: Any, rows: list[dict[str, Any]]
    ) -> None:
        keyless = [r for r in rows if any(r.get(k) is None for k in layout.keys)]
        if not keyless:
            return
        if not (coll.autoincrement and len(layout.keys) == 1):
            missing = [k for k in layout.keys if keyless[0].get(k) is None]
            raise ConstraintError(f"{coll.name}: key field(s) {missing} missing in {keyless[0]!r}")
        seq = f"xrepo:seq:{layout.prefix}{layout.pattern.text}"
        last = int(await client.incrby(seq, len(keyless)))
        for offset, row in enumerate(keyless):
            row[layout.keys[0]] = last - len(keyless) + 1 + offset

    async def _existing(self, client: Any, keys: Sequence[str]) -> list[str]:
        taken: list[str] = []
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.exists(key)
            taken.extend(k for k, n in zip(chunk, await pipe.execute(), strict=True) if n)
        return taken

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        layout = self._layout(coll)

        def targets(matched: list[Matched]) -> list[str]:
            moved = ((key, layout.key_of({**row, **changes})) for key, _, row in matched)
            return [new for old, new in moved if new != old]

        def plan(pipe: Any, matched: list[Matched]) -> None:
            for key, _, row in matched:
                merged = {**row, **changes}
                new_key = layout.key_of(merged)
                if new_key != key:
                    pipe.delete(key)
                    self._queue_write(pipe, layout, new_key, merged)
                elif self.kind == "json":
                    self._queue_write(pipe, layout, key, merged)
                else:
                    gone = [n for n, v in changes.items() if v is None and n not in layout.keys]
                    kept = {n: v for n, v in changes.items() if n not in gone}
                    if gone:
                        pipe.hdel(key, *gone)
                    if self._value(layout, kept):
                        self._queue_write(pipe, layout, key, kept)

        return await self._transact(coll, layout, where, plan, targets)

    async def delete(self, coll: Collection, where: Node) -> int:
        layout = self._layout(coll)

        def plan(pipe: Any, matched: list[Matched]) -> None:
            pipe.delete(*[key for key, _, _ in matched])

        return await self._transact(coll, layout, where, plan, lambda matched: [])

    async def _transact(
        self,
        coll: Collection,
        layout: _Layout,
        where: Node,
        plan: Callable[[Any, list[Matched]], None],
        targets: Callable[[list[Matched]], list[str]],
    ) -> int:
        """Match; WATCH the matched keys and the keys rows move to (``targets``); check the
        matched values are unchanged and the targets free; queue ``plan`` in MULTI/EXEC."""
        from redis.exceptions import WatchError

        client = await self._redis()
        for _ in range(_RETRIES):
            matched = await self._matching(layout, where)
            if not matched:
                return 0
            keys = [key for key, _, _ in matched]
            new_keys = targets(matched)
            if len(set(new_keys)) < len(new_keys):
                raise ConstraintError(f"{coll.name}: the update gives several rows one key")
            async with client.pipeline(transaction=True) as pipe:
                await pipe.watch(*keys, *new_keys)
                again = await self._fetch(layout, keys)
                if [raw for _, raw in again] != [raw for _, raw, _ in matched]:
                    continue  # changed between the scan and WATCH
                clash = sorted(set(await self._existing(client, new_keys)) - set(keys))
                if clash:
                    raise ConstraintError(f"{coll.name}: key {clash[0]!r} exists")
                pipe.multi()
                plan(pipe, matched)
                try:
                    await pipe.execute()
                except WatchError:
                    continue
            return len(matched)
        raise BackendError(f"{coll.name}: rows kept changing under concurrent writers")


def _same(value: Any) -> Any:
    return value


__all__ = ["RedisBackend", "encode_text"]
