"""Shared by every inspector: the progress callback and the error the CLI maps to exit 2."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, Protocol, TypeVar

__all__ = ["InspectError", "Progress", "run_sync", "synchronous"]

T = TypeVar("T")
P = ParamSpec("P")


class Progress(Protocol):
    """Told how far an inspection has got; ``total`` is None when it is not known in advance."""

    def update(self, done: int, total: int | None) -> None: ...


class InspectError(Exception):
    """A source that cannot be inspected.

    The message names the file or source and says what to do; the CLI prints it as one line and
    exits with status 2.
    """


def run_sync(awaitable: Awaitable[T]) -> T:
    """``asyncio.run`` for the synchronous inspector entry points (the CLI's).

    The task does not *return* the result: on Python 3.11, asyncio.run's SIGINT-handler restore
    formats the main task's repr — result included — which for a 1,000-table snapshot takes
    longer than the whole inspection.
    """
    box: list[T] = []

    async def run() -> None:
        box.append(await awaitable)

    asyncio.run(run())
    return box[0]


def synchronous(inspect: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """The synchronous entry point of an ``inspect_*_async`` inspector (the CLI's): the same
    parameters, each call run to completion by :func:`run_sync`."""

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(inspect(*args, **kwargs))

    name = inspect.__name__.removesuffix("_async")
    call.__name__ = call.__qualname__ = name
    call.__module__ = inspect.__module__
    call.__doc__ = f":func:`{inspect.__name__}` for synchronous callers (runs its own event loop)."
    call.__wrapped__ = inspect  # type: ignore[attr-defined]  # help() shows the parameters
    return call
