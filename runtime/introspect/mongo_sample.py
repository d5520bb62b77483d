"""Deterministic sampling: which documents the inspector reads, always the same for the same data.

``$sample`` picks different documents on every run, so the snapshot would churn. Instead the
sample is read in ``_id`` order as :data:`WINDOWS` evenly spaced windows of consecutive
documents: the first window starts at the first document, the last one ends at the last, and the
gaps between them are equal (to one document). ``_id`` order is insertion order for ObjectIds
(they start with a timestamp), so the windows cover the oldest, the newest and the documents
between — the schema's history, not just its start. Windows of consecutive documents (rather
than ``sample_size`` single documents) keep the number of queries at :data:`WINDOWS` whatever
the sample size.

A collection no larger than the sample, or ``full_scan``, is read whole, in ``_id`` order.

Each window after the first asks for ``_id > last _id seen`` and skips the gap, so a server walks
the ``_id`` index once in total instead of once per window. ``$gt`` only compares within one BSON
type (numbers with numbers, ObjectIds with ObjectIds), so when ``_id`` changes type mid-window
the answer comes back short; that window is then read again by absolute position
(``skip(start)``), which is always right. Either way the same documents come back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

__all__ = ["BATCH", "WINDOWS", "Window", "plan_windows", "read_sample"]

WINDOWS = 10
#: Documents per server round trip when reading a whole collection.
BATCH = 1000

#: (absolute start position in ``_id`` order, number of documents)
Window = tuple[int, int]


def plan_windows(total: int, sample_size: int, *, windows: int = WINDOWS) -> list[Window]:
    """The windows for a collection of ``total`` documents (see the module docstring)."""
    if total <= 0:
        return []
    if sample_size >= total:
        return [(0, total)]
    count = max(1, min(windows, sample_size))
    sizes = [(j + 1) * sample_size // count - j * sample_size // count for j in range(count)]
    gaps = total - sample_size
    plan: list[Window] = []
    before = 0
    for j, size in enumerate(sizes):
        gap_before = j * gaps // (count - 1) if count > 1 else 0
        plan.append((gap_before + before, size))
        before += size
    return plan


async def read_sample(
    collection: Any, windows: list[Window] | None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of documents: the planned windows, or (``None``) the whole collection."""
    if windows is None:
        cursor = collection.find({}, batch_size=BATCH).sort("_id", 1)
        batch: list[dict[str, Any]] = []
        async for doc in cursor:
            batch.append(doc)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    end = 0
    last: Any = _NONE
    for start, size in windows:
        docs: list[dict[str, Any]] | None = None
        if last is not _NONE:
            docs = await _find(collection, {"_id": {"$gt": last}}, start - end, size)
            if len(docs) != size:
                docs = None  # ``_id`` changed BSON type inside the window: read it by position
        if docs is None:
            docs = await _find(collection, {}, start, size)
        if not docs:
            return
        end = start + len(docs)
        last = docs[-1].get("_id", _NONE)
        yield docs


_NONE = object()


async def _find(collection: Any, query: dict[str, Any], skip: int, limit: int) -> list[Any]:
    cursor = collection.find(query).sort("_id", 1).skip(skip).limit(limit)
    docs: list[Any] = await cursor.to_list(None)
    return docs
