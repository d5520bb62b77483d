"""Progress for long inspections: a live line on a terminal, silence elsewhere (CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Implements the inspectors' ``Progress`` protocol; redraws at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        of = f"/{total:,}" if total else ""
        self.stream.write(f"\r{self.label}: {done:,}{of}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
