"""Regular expressions that cannot hang the process.

Two guards, both always on:

1. A static gate when the pattern is parsed: at most ``MAX_PATTERN`` characters, no
   backreferences, and no repetition of a sub-pattern that itself repeats or branches
   (``(a+)+``, ``(a|aa)*``, ``(\\w+\\s?)*``) — the shapes behind catastrophic backtracking.
   This turns the common ReDoS patterns into a :class:`QueryError` before any row is touched.
2. A time limit per match when the third-party ``regex`` module is installed (it takes
   ``timeout=``): a match running longer than ``MATCH_TIMEOUT`` seconds raises
   :class:`QueryError`.  Without it the stdlib ``re`` runs the gated pattern; the gate alone does
   not bound polynomial blow-ups such as ``\\d*\\d*\\d*x`` on long strings, so install ``regex``
   where filters come from untrusted users.

Semantics follow MongoDB's ``$regex``: an unanchored search, options ``i m s x`` only.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

from ..errors import QueryError

MAX_PATTERN = 1000
MATCH_TIMEOUT = 0.25
OPTIONS = frozenset("imsx")

try:  # pragma: no cover - depends on the environment
    _regex: Any = importlib.import_module("regex")
except ImportError:  # pragma: no cover
    _regex = None

_parser: Any = importlib.import_module("re._parser")
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _unbounded_nested(items: Any, inside_repeat: bool) -> str | None:
    """Name of the first dangerous construct in a parsed pattern, else None."""
    for op, arg in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "backreferences are not supported"
        if name in _REPEATS:
            _lo, hi, sub = arg
            repeats = hi > 1
            if repeats and inside_repeat:
                return "nested quantifiers (like (a+)+) are not allowed"
            found = _unbounded_nested(sub, inside_repeat or repeats)
            if found:
                return found
        elif name == "SUBPATTERN":
            found = _unbounded_nested(arg[-1], inside_repeat)
            if found:
                return found
        elif name == "BRANCH":
            if inside_repeat:
                return "alternation inside a repeated group (like (a|aa)*) is not allowed"
            for branch in arg[1]:
                found = _unbounded_nested(branch, inside_repeat)
                if found:
                    return found
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _unbounded_nested(arg[1], inside_repeat)
            if found:
                return found
    return None


def check_pattern(pattern: str, options: str, field: str) -> None:
    """Reject patterns that are too long, malformed or prone to catastrophic backtracking."""
    bad = set(options) - OPTIONS
    if bad:
        raise QueryError(
            f"field {field!r}: unknown $options {''.join(sorted(bad))!r} (use i m s x)"
        )
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"field {field!r}: $regex longer than {MAX_PATTERN} characters")
    try:
        parsed = _parser.parse(pattern, _flags(options))
    except re.error as exc:
        raise QueryError(f"field {field!r}: invalid $regex {pattern!r}: {exc}") from None
    problem = _unbounded_nested(parsed, False)
    if problem:
        raise QueryError(f"field {field!r}: $regex {pattern!r} rejected: {problem}")


def _flags(options: str) -> int:
    flags = 0
    for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)):
        if letter in options:
            flags |= flag
    return flags


def inline(pattern: str, options: str) -> str:
    """The pattern with its options as an inline flag group (how SQL dialects receive it)."""
    return f"(?{''.join(sorted(options))}){pattern}" if options else pattern


@functools.lru_cache(maxsize=256)
def compile_search(pattern: str, options: str = "") -> Callable[[str], bool]:
    """A ``str -> bool`` search function; call :func:`check_pattern` first."""
    flags = _flags(options)
    if _regex is not None:
        compiled = _regex.compile(pattern, flags)

        def search(text: str) -> bool:
            try:
                return compiled.search(text, timeout=MATCH_TIMEOUT) is not None
            except TimeoutError:
                raise QueryError(
                    f"$regex {pattern!r} took longer than {MATCH_TIMEOUT}s on one value"
                ) from None

        return search
    std = re.compile(pattern, flags)
    return lambda text: std.search(text) is not None


def sql_regexp(pattern: str | None, value: Any) -> bool:
    """The SQL ``REGEXP`` function: options arrive inline, non-strings never match."""
    if pattern is None or not isinstance(value, str):
        return False
    check_pattern(pattern, "", "<sql>")
    return compile_search(pattern, "")(value)


__all__ = [
    "MATCH_TIMEOUT",
    "MAX_PATTERN",
    "check_pattern",
    "compile_search",
    "inline",
    "sql_regexp",
]
