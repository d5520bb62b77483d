"""Semantic refinements of ``str`` (email, URL, UUID, IP), distinct counts and cardinality.

A semantic type is claimed only when *every* non-empty sampled value agrees and at least
``MIN_SEMANTIC_VALUES`` values were seen: one stray value means the column is plain text, and a
generated ``EmailStr`` that rejects real rows is worse than a ``str``.
"""

from __future__ import annotations

import hashlib
import heapq
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ..schema import Cardinality, Semantic

__all__ = [
    "DISTINCT_CAP",
    "LOW_CARDINALITY_MAX",
    "MIN_SEMANTIC_VALUES",
    "DistinctCounter",
    "SemanticTracker",
    "cardinality_class",
    "detect_semantic",
]

MIN_SEMANTIC_VALUES = 3
#: Distinct values a field tracks exactly before estimating.
DISTINCT_CAP = 1024
#: Never call a field "low" cardinality above this many distinct values.
LOW_CARDINALITY_MAX = 50

_EMAIL = re.compile(
    r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NO_SPACE = re.compile(r"\S+")


def _is_email(s: str) -> bool:
    return len(s) <= 254 and _EMAIL.fullmatch(s) is not None


def _is_url(s: str) -> bool:
    # The seed's HttpUrl: http(s) only, with a host, and no whitespace anywhere.
    if _NO_SPACE.fullmatch(s) is None or not s[:8].lower().startswith(("http://", "https://")):
        return False
    try:
        return bool(urlsplit(s).hostname)
    except ValueError:
        return False


def _ip_version(s: str) -> int | None:
    if not s or len(s) > 45 or not (s[0].isdigit() or ":" in s):
        return None
    try:
        return ipaddress.ip_address(s).version
    except ValueError:
        return None


class SemanticTracker:
    """Streaming :func:`detect_semantic`: O(1) memory; each value can only rule kinds out."""

    __slots__ = ("_alive", "_count", "_v4", "_v6")

    def __init__(self) -> None:
        self._alive: set[str] = {"email", "url", "uuid", "ip"}
        self._count = 0
        self._v4 = False
        self._v6 = False

    def add(self, value: str) -> None:
        if not value or not self._alive:
            return
        self._count += 1
        alive = self._alive
        if "email" in alive and not _is_email(value):
            alive.discard("email")
        if "url" in alive and not _is_url(value):
            alive.discard("url")
        if "uuid" in alive and _UUID.fullmatch(value) is None:
            alive.discard("uuid")
        if "ip" in alive:
            version = _ip_version(value)
            if version is None:
                alive.discard("ip")
            elif version == 4:
                self._v4 = True
            else:
                self._v6 = True

    def result(self) -> Semantic | None:
        if self._count < MIN_SEMANTIC_VALUES or len(self._alive) != 1:
            return None
        kind = next(iter(self._alive))
        if kind == "email":
            return "email"
        if kind == "url":
            return "url"
        if kind == "uuid":
            return "uuid"
        if self._v4 and self._v6:
            return "ip"
        return "ipv6" if self._v6 else "ipv4"


def detect_semantic(values: Iterable[str]) -> Semantic | None:
    """The semantic type every non-empty value agrees on, or None (also when too few values)."""
    tracker = SemanticTracker()
    for value in values:
        tracker.add(value)
    return tracker.result()


def cardinality_class(distinct: int, total: int) -> Cardinality:
    """``"low"`` when values repeat a lot, else ``"high"``.

    ``total`` is the number of non-null values sampled. Low means at most
    ``min(LOW_CARDINALITY_MAX, max(2, total // 10))`` distinct values: on average each value
    repeats ten times (so a 3-row sample with 3 values is "high"), and never more than 50 distinct
    values whatever the sample size (species, status, year: low; names, prices, ids: high).
    """
    if distinct <= 0:
        return "low"
    return "low" if distinct <= min(LOW_CARDINALITY_MAX, max(2, total // 10)) else "high"


class DistinctCounter:
    """Exact distinct count up to ``cap`` values, then a K-minimum-values estimate.

    Keeps at most ``cap`` 64-bit hashes (blake2b, so the estimate does not depend on
    PYTHONHASHSEED): memory is bounded whatever the input.
    """

    __slots__ = ("_cap", "_heap", "_members", "overflowed")

    def __init__(self, cap: int = DISTINCT_CAP) -> None:
        self._cap = cap
        self._heap: list[int] = []  # negated hashes: a max-heap of the cap smallest
        self._members: set[int] = set()
        self.overflowed = False

    def add(self, token: str) -> None:
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        if h in self._members:
            return
        if len(self._heap) < self._cap:
            heapq.heappush(self._heap, -h)
            self._members.add(h)
        elif h < -self._heap[0]:
            self._members.discard(-heapq.heappushpop(self._heap, -h))
            self._members.add(h)
            self.overflowed = True
        else:
            self.overflowed = True

    @property
    def tracked(self) -> int:
        """How many hashes are held (never more than the cap)."""
        return len(self._members)

    def estimate(self) -> int:
        if not self.overflowed:
            return len(self._members)
        kth = -self._heap[0] / 2.0**64
        return max(self._cap + 1, round((self._cap - 1) / kth))
