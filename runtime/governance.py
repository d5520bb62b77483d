"""What every repo call passes through after the backend: audit, then statistics.

ACL and the cache sit before the backend in the same seam (``XRepo._call``); they, durable audit
sinks and database-side statistics come with the governance issue. What is here is real: an
in-memory audit sink and per-operation latency figures.
"""

from __future__ import annotations

import datetime
import decimal
import statistics
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Latencies kept per operation for the percentiles (a sliding window, memory bounded).
WINDOW = 2048


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timestamp: datetime.datetime
    user_id: str | None
    operation: str
    entity_id: Any = None
    #: ``{"after": {...}}`` for creates, ``{"set": {...}}`` for updates (before values with
    #: the governance issue), empty for deletes.
    changes: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryAuditSink:
    """Audit entries in memory, newest last (tests, single-process tools)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entries: Sequence[AuditEntry]) -> None:
        self.entries.extend(entries)

    def query(
        self, filters: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        wanted = dict(filters or {})
        hits = [
            e for e in reversed(self.entries) if all(getattr(e, k) == v for k, v in wanted.items())
        ]
        return hits if limit is None else hits[:limit]


class OperationStats:
    """Per-operation call count and latency (mean over all calls; p50/p95 over a window)."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}
        self._total: dict[str, float] = {}
        self._window: dict[str, deque[float]] = {}

    def record(self, op: str, seconds: float) -> None:
        self._count[op] = self._count.get(op, 0) + 1
        self._total[op] = self._total.get(op, 0.0) + seconds
        self._window.setdefault(op, deque(maxlen=WINDOW)).append(seconds)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for op in sorted(self._count):
            window = sorted(self._window[op])
            cuts = statistics.quantiles(window, n=20, method="inclusive") if len(window) > 1 else []
            p50 = statistics.median(window)
            p95 = cuts[18] if cuts else window[0]
            out[op] = {
                "count": self._count[op],
                "mean_ms": 1000 * self._total[op] / self._count[op],
                "p50_ms": 1000 * p50,
                "p95_ms": 1000 * p95,
            }
        return out


#: Rows read to estimate cardinalities where the database keeps no estimate (bounded work).
SAMPLE_ROWS = 1000

_SCALARS = (
    str,
    int,
    float,
    bool,
    bytes,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
)


class RepoStats(BaseModel):
    """What ``get_statistics()`` reports; ``None`` where the model or backend cannot say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total_count: int
    created_today: int | None = None
    updated_today: int | None = None
    deleted_today: int | None = None
    #: Distinct values per top-level scalar field (by field name).
    cardinalities: dict[str, int] = Field(default_factory=dict)
    #: ``"database"`` (e.g. ``pg_stats``) or ``"sample"`` (first ``SAMPLE_ROWS`` rows).
    cardinality_source: str | None = None
    storage_bytes: int | None = None
    #: Per index: ``{"scans": n}`` (``pg_stat_user_indexes``, ``$indexStats``).
    indexes: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: Per operation: count, mean_ms, p50_ms, p95_ms.
    operations: dict[str, dict[str, float]] = Field(default_factory=dict)
    #: The rest of what the backend's ``stats()`` reports (MongoDB: document_count,
    #: avg_object_bytes, index_keys; Redis: key_count, ttl_share, …); empty for restricted
    #: principals, like the other table-wide figures.
    backend_details: dict[str, Any] = Field(default_factory=dict)


def sampled_cardinalities(
    rows: Sequence[Mapping[str, Any]], fields: Mapping[str, str]
) -> dict[str, int]:
    """Distinct values per field over ``rows``; ``fields`` maps source name → field name.
    Fields holding anything but scalars (objects, lists) are left out."""
    out: dict[str, int] = {}
    for source, name in fields.items():
        seen: set[Any] = set()
        for row in rows:
            value = row.get(source)
            if value is not None and not isinstance(value, _SCALARS):
                break
            seen.add(value)
        else:
            if rows:
                out[name] = len(seen)
    return out
