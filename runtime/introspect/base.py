"""Shared by every inspector: the progress callback and the error the CLI maps to exit 2."""

from __future__ import annotations

from typing import Protocol

__all__ = ["InspectError", "Progress"]


class Progress(Protocol):
    """Told how far an inspection has got; ``total`` is None when it is not known in advance."""

    def update(self, done: int, total: int | None) -> None: ...


class InspectError(Exception):
    """A source that cannot be inspected.

    The message names the file or source and says what to do; the CLI prints it as one line and
    exits with status 2.
    """
