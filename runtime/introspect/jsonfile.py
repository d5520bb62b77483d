"""JSON file inspector: a JSON array, NDJSON, or MongoDB extended JSON (one document per line).

The layout is read off the first non-blank character (``[``: array, ``{``: one document per
line). Extended JSON wrappers (``$oid``, ``$date``, ``$numberLong``, ``$numberDecimal``,
``$binary``, ``$uuid``...) are decoded by :func:`xrepo.runtime.files.decode_extjson` — no pymongo
needed — and, when any is seen, the layout is recorded as ``extjson`` (``extjson-array`` for an
array) so the runtime decodes them too. ObjectIds become ``object_id`` and ``$date`` an aware
``datetime``. Types are inferred by :class:`.memory.DocumentAccumulator` over the first
``sample_docs`` documents; the rest is streamed only to count them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..files import ObjectIdText, decode_extjson, iter_json_array
from ..schema import FileFormat, Snapshot, SourceInfo
from .base import InspectError, Progress
from .memory import DocumentAccumulator, documents_collection

__all__ = ["detect_layout", "inspect_json", "is_extjson"]

_WRAPPER_KEYS = frozenset(
    {
        "$oid", "$date", "$numberLong", "$numberInt", "$numberDouble", "$numberDecimal",
        "$binary", "$uuid", "$timestamp", "$regularExpression", "$regex", "$symbol", "$code",
        "$minKey", "$maxKey", "$undefined",
    }
)  # fmt: skip
_PROGRESS_EVERY = 10_000


def is_extjson(value: Any) -> bool:
    """True when ``value`` holds a MongoDB extended JSON wrapper anywhere inside it."""
    if isinstance(value, dict):
        if value and next(iter(value)) in _WRAPPER_KEYS:
            return True
        return any(is_extjson(v) for v in value.values())
    if isinstance(value, list):
        return any(is_extjson(v) for v in value)
    return False


def _encoding(path: Path) -> str:
    with path.open("rb") as handle:
        return "utf-8-sig" if handle.read(3) == b"\xef\xbb\xbf" else "utf-8"


def detect_layout(path: Path, encoding: str) -> str:
    """``array`` or ``ndjson`` from the first non-blank character."""
    with path.open(encoding=encoding) as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                if stripped[0] == "[":
                    return "array"
                if stripped[0] == "{":
                    return "ndjson"
                raise InspectError(
                    f"{path}: not a JSON array or one-object-per-line file "
                    f"(starts with {stripped[0]!r})"
                )
    raise InspectError(f"{path}: empty JSON file")


def _documents(path: Path, encoding: str, layout: str) -> Iterator[tuple[int, Any]]:
    """``(line number or array position, parsed document)``."""
    with path.open(encoding=encoding) as handle:
        if layout == "array":
            yield from enumerate(iter_json_array(handle), start=1)
            return
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InspectError(
                        f"{path}:{number}: invalid JSON ({exc.msg}); NDJSON files hold one "
                        "complete document per line"
                    ) from None


def inspect_json(
    path: Path,
    *,
    name: str,
    sample_docs: int = 10_000,
    progress: Progress | None = None,
) -> Snapshot:
    """Snapshot (source ``name``, kind ``json``): one ``file`` collection named after the stem."""
    path = Path(path)
    if not path.is_file():
        raise InspectError(f"{path}: no such JSON file (check the source's path)")
    try:
        encoding = _encoding(path)
        layout = detect_layout(path, encoding)
        docs = DocumentAccumulator()
        extended = False
        total = 0
        where = "document" if layout == "array" else "line"
        for number, doc in _documents(path, encoding, layout):
            total += 1
            if total <= sample_docs:
                if not isinstance(doc, dict):
                    raise InspectError(
                        f"{path}: {where} {number} is a {type(doc).__name__}, not an object"
                    )
                extended = extended or is_extjson(doc)
                docs.add(decode_extjson(doc, object_id=ObjectIdText))
            if progress is not None and total % _PROGRESS_EVERY == 0:
                progress.update(total, None)
    except OSError as exc:
        raise InspectError(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InspectError(f"{path}: not valid JSON: {exc}") from None
    if progress is not None:
        progress.update(total, total)
    if extended:
        layout = "extjson" if layout == "ndjson" else "extjson-array"
    spec = documents_collection(
        docs,
        name=path.stem,
        kind="file",
        row_estimate=total,
        path=str(path),
        file_format=FileFormat(encoding=encoding, layout=layout),
    )
    return Snapshot(source=SourceInfo(name=name, kind="json"), collections=(spec,))
