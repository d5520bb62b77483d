"""Reading file sources back: CSV rows and JSON / NDJSON / MongoDB extended-JSON documents.

Shared with the inspectors (codegen imports the text grammar and the header naming from here) so
that what the snapshot says a column holds is exactly what the runtime reads. Memory is bounded:
files are streamed, never loaded whole. Only the standard library and the snapshot IR are used.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from .schema import CollectionSpec, LogicalType

__all__ = [
    "BOOL_FALSE",
    "BOOL_TRUE",
    "FileSourceError",
    "ObjectIdText",
    "decode_extjson",
    "header_names",
    "iter_json_array",
    "parse_text",
    "read_rows",
]

#: Case-insensitive tokens read as booleans. "0"/"1" are deliberately absent: such a column is int.
BOOL_TRUE = frozenset({"true", "t", "yes", "y"})
BOOL_FALSE = frozenset({"false", "f", "no", "n"})
INT_RE = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+"
    r"|(?i:nan|inf|infinity))"
)
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?P<tz>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
TIME_RE = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?")


class FileSourceError(ValueError):
    """A file that does not match its snapshot or cannot be parsed; names file, line and field."""


class ObjectIdText(str):
    """An ObjectId's hex string, marked so inspectors can tell it from an ordinary string."""

    __slots__ = ()


def parse_text(kind: LogicalType, text: str) -> Any:
    """One CSV cell as the python value of ``kind``; ValueError when it does not fit."""
    if kind is LogicalType.INT:
        return int(text)
    if kind is LogicalType.FLOAT:
        return float(text)
    if kind is LogicalType.DECIMAL:
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a decimal: {text!r}") from None
    if kind is LogicalType.BOOL:
        low = text.strip().lower()
        if low in BOOL_TRUE:
            return True
        if low in BOOL_FALSE:
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if kind is LogicalType.DATE:
        return date.fromisoformat(text)
    if kind is LogicalType.DATETIME:
        return datetime.fromisoformat(text)
    if kind is LogicalType.TIME:
        return time.fromisoformat(text)
    return text


def header_names(raw: Sequence[str]) -> list[str]:
    """Field names for a CSV header row: verbatim, except empty or repeated ones.

    An empty header becomes ``column_<position>`` (1-based); a repeat of an earlier name becomes
    ``<name>_2``, ``<name>_3``... skipping any name the file already uses, so every column keeps a
    distinct name that still says where it came from.
    """
    taken = set(raw)
    seen: set[str] = set()
    names: list[str] = []
    for position, name in enumerate(raw, start=1):
        if name and name not in seen:
            candidate = name
        else:
            stem = name or f"column_{position}"
            candidate, n = stem, 1
            while candidate in taken or candidate in seen:
                n += 1
                candidate = f"{stem}_{n}"
        seen.add(candidate)
        names.append(candidate)
    return names


def _date(value: Any) -> datetime:
    if isinstance(value, dict) and set(value) == {"$numberLong"}:
        value = int(value["$numberLong"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"unreadable $date: {value!r}")


def _binary(payload: Any, subtype: Any) -> bytes | uuid.UUID:
    data = base64.b64decode(str(payload))
    if str(subtype).lower() in {"04", "4", "03", "3"} and len(data) == 16:
        return uuid.UUID(bytes=data)
    return data


_WRAPPERS: dict[frozenset[str], Callable[[dict[str, Any]], Any]] = {
    frozenset({"$date"}): lambda d: _date(d["$date"]),
    frozenset({"$numberLong"}): lambda d: int(d["$numberLong"]),
    frozenset({"$numberInt"}): lambda d: int(d["$numberInt"]),
    frozenset({"$numberDouble"}): lambda d: float(d["$numberDouble"]),
    frozenset({"$numberDecimal"}): lambda d: Decimal(d["$numberDecimal"]),
    frozenset({"$uuid"}): lambda d: uuid.UUID(d["$uuid"]),
    frozenset({"$binary", "$type"}): lambda d: _binary(d["$binary"], d["$type"]),
    frozenset({"$symbol"}): lambda d: str(d["$symbol"]),
    frozenset({"$code"}): lambda d: str(d["$code"]),
    frozenset({"$regex", "$options"}): lambda d: str(d["$regex"]),
    frozenset({"$undefined"}): lambda d: None,
}


def decode_extjson(value: Any, *, object_id: Callable[[str], Any] = str) -> Any:
    """MongoDB extended JSON (canonical or relaxed) → plain python values, recursively.

    ``$oid`` → ``object_id(hex)`` (str by default), ``$date`` → aware datetime (UTC when no
    offset), ``$numberLong``/``$numberInt`` → int, ``$numberDouble`` → float, ``$numberDecimal`` →
    Decimal, ``$binary`` → bytes (UUID for subtypes 3/4), ``$uuid`` → UUID. A wrapper is only
    recognised when its keys are exactly the wrapper's keys; anything else stays a dict.
    """
    if isinstance(value, list):
        return [decode_extjson(v, object_id=object_id) for v in value]
    if not isinstance(value, dict):
        return value
    keys = frozenset(value)
    if keys == {"$oid"}:
        return object_id(str(value["$oid"]))
    if keys == {"$binary"} and isinstance(value["$binary"], dict):
        inner = value["$binary"]
        return _binary(inner.get("base64", ""), inner.get("subType", "00"))
    if keys == {"$regularExpression"} and isinstance(value["$regularExpression"], dict):
        return str(value["$regularExpression"].get("pattern", ""))
    decoder = _WRAPPERS.get(keys)
    if decoder is not None:
        return decoder(value)
    return {k: decode_extjson(v, object_id=object_id) for k, v in value.items()}


_AFTER_VALUE = frozenset(",] \t\r\n")


class _Chunks:
    """A growing text buffer over a stream, so one JSON value at a time can be decoded."""

    def __init__(self, stream: IO[str], chunk_size: int) -> None:
        self.stream, self.chunk_size = stream, chunk_size
        self.buf, self.pos, self.eof = "", 0, False

    def more(self) -> bool:
        data = self.stream.read(self.chunk_size)
        if not data:
            self.eof = True
            return False
        self.buf, self.pos = self.buf[self.pos :] + data, 0
        return True

    def peek(self) -> str:
        """The next non-blank character without consuming it ('' at end of stream)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""


def iter_json_array(stream: IO[str], *, chunk_size: int = 1 << 16) -> Iterator[Any]:
    """The elements of a top-level JSON array, decoded one at a time from a text stream."""
    decoder = json.JSONDecoder()
    chunks = _Chunks(stream, chunk_size)
    if chunks.peek() != "[":
        raise ValueError("expected a JSON array ('[' at the start)")
    chunks.pos += 1
    first = True
    while True:
        char = chunks.peek()
        if char == "]":
            return
        if not first:
            if char != ",":
                raise ValueError(
                    f"expected ',' or ']' in the array, found {char or 'end of file'!r}"
                )
            chunks.pos += 1
            chunks.peek()
        while True:
            try:
                item, end = decoder.raw_decode(chunks.buf, chunks.pos)
            except json.JSONDecodeError:
                if chunks.more():
                    continue
                raise
            # A value cut by the chunk boundary ("12" of "123", "1" of "1.5") decodes too early:
            # accept it only when a separator follows or the stream has ended.
            if (end >= len(chunks.buf) or chunks.buf[end] not in _AFTER_VALUE) and chunks.more():
                continue
            break
        yield item
        chunks.pos, first = end, False


def _csv_rows(path: Path, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
    ff = spec.file_format
    assert ff is not None
    nulls = frozenset(ff.null_tokens)
    names = [f.name for f in spec.fields]
    kinds = [f.type.kind for f in spec.fields]
    with path.open(encoding=ff.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=ff.delimiter or ",", quotechar=ff.quotechar or '"')
        header = next(reader, None)
        if header is None or header_names(header) != names:
            raise FileSourceError(
                f"{path}: the header does not match the snapshot of {spec.name!r} "
                "(re-run `xrepo inspect` after changing the file)"
            )
        width = len(names)
        for cells in reader:
            if not cells:
                continue
            if len(cells) > width and any(c for c in cells[width:]):
                raise FileSourceError(
                    f"{path}:{reader.line_num}: {len(cells)} cells but {width} header columns"
                )
            row: dict[str, Any] = {}
            for i, name in enumerate(names):
                text = cells[i] if i < len(cells) else None
                if text is None or text in nulls:
                    row[name] = None
                    continue
                try:
                    row[name] = parse_text(kinds[i], text)
                except ValueError:
                    raise FileSourceError(
                        f"{path}:{reader.line_num}: column {name!r}: {text!r} is not a "
                        f"{kinds[i].value} (re-run `xrepo inspect` to widen the snapshot)"
                    ) from None
            yield row


def _json_docs(path: Path, encoding: str, layout: str) -> Iterator[tuple[int, Any]]:
    with path.open(encoding=encoding) as handle:
        if layout.endswith("array"):
            yield from enumerate(iter_json_array(handle), start=1)
            return
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise FileSourceError(f"{path}:{number}: invalid JSON: {exc.msg}") from None


def read_rows(path: str | Path, spec: CollectionSpec) -> Iterator[dict[str, Any]]:
    """Stream the rows (CSV) or documents (JSON) of a file source, keyed by source field names.

    CSV cells become the python type the snapshot gives the column (null tokens → None); JSON
    documents are returned as parsed, with extended JSON decoded to plain python values.
    """
    p = Path(path)
    ff = spec.file_format
    if ff is None:
        raise FileSourceError(f"{spec.name!r} has no file_format in its snapshot")
    if not p.is_file():
        raise FileSourceError(f"{p}: no such file (source {spec.name!r})")
    if ff.layout is None:
        yield from _csv_rows(p, spec)
        return
    extended = ff.layout.startswith("extjson")
    try:
        for number, doc in _json_docs(p, ff.encoding, ff.layout):
            if not isinstance(doc, dict):
                raise FileSourceError(f"{p}: document {number} is not a JSON object")
            yield decode_extjson(doc) if extended else doc
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileSourceError):
            raise
        raise FileSourceError(f"{p}: cannot read JSON: {exc}") from None
