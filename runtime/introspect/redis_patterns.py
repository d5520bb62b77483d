"""Redis key patterns: the ``user:{id}`` syntax, glob escaping, and grouping keys into patterns.

Syntax: a pattern is literal text with ``{name}`` placeholders; ``{{`` and ``}}`` stand for
literal braces. A key matches a pattern when the literal parts match exactly and every
placeholder covers at least one character; a placeholder before literal text ends at the first
occurrence of that text's first character (so ``doc:{owner}:{id}`` reads ``doc:a:b:c`` as owner
``a``, id ``b:c``, and writers refuse an owner holding ``:``: :meth:`KeyPattern.delimiter`).
The inspector and :class:`xrepo.runtime.backends.redis.RedisBackend` share this module, so what
one writes the other reads.

Glob escaping: ``SCAN MATCH`` takes a glob (``* ? [ ] \\`` are special). Literal parts, key
prefixes and key values placed into a MATCH are always escaped with :func:`glob_escape`: a key
value holding ``*`` must not widen a scan.

Grouping (:func:`group_keys`): keys are split on ``:`` (the Redis convention). A segment that
looks like an id — an integer, a UUID, a 24-hex ObjectId, or hex of 8+ characters holding a
digit and a letter — becomes a placeholder. Keys left with the same shape form one pattern.
Then, repeatedly, shapes that differ only in one literal segment are merged into a ``str``
placeholder at that position when at least ``min_str_ids`` (default 10) distinct values share
it (``session:alice``, ``session:bob``, ... → ``session:{id}``). Each placeholder's type is
``int`` when every value is a canonical integer, ``uuid`` when every value is a canonical
(lower-case, hyphenated) UUID, else ``str``. The last placeholder is named ``id``; earlier ones
after the literal segment before them (``user:{user_id}:order:{id}``) or ``id_<n>``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SEPARATOR",
    "IdType",
    "KeyGroup",
    "KeyPattern",
    "PatternSyntaxError",
    "glob_escape",
    "group_keys",
    "id_type_of",
    "segment_is_id",
]

SEPARATOR = ":"
IdType = Literal["int", "uuid", "str"]

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID_ANY = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_DIGITS = re.compile(r"-?[0-9]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOLE = "\x00"  # a placeholder position in a shape (never part of a decoded key)


class PatternSyntaxError(ValueError):
    """A key pattern that cannot be parsed (names the pattern and the problem)."""


def glob_escape(text: str) -> str:
    """``text`` as a SCAN MATCH glob that matches exactly ``text``."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


@dataclass(frozen=True)
class KeyPattern:
    """A parsed pattern: literal strings and :class:`Placeholder`\\ s, in order."""

    parts: tuple[str | Placeholder, ...]
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = []
        for i, part in enumerate(self.parts):
            if isinstance(part, Placeholder):
                last = i == len(self.parts) - 1
                if last:
                    regex.append("(.+)")
                else:
                    stop = re.escape(self.parts[i + 1][0])  # type: ignore[index]
                    regex.append(f"([^{stop}]+)")
            else:
                regex.append(re.escape(part))
        object.__setattr__(self, "_regex", re.compile("".join(regex), re.DOTALL))

    @classmethod
    def parse(cls, text: str) -> KeyPattern:
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        names: set[str] = set()
        i = 0
        while i < len(text):
            ch = text[i]
            if text.startswith("{{", i) or text.startswith("}}", i):
                literal.append(ch)
                i += 2
            elif ch == "{":
                end = text.find("}", i)
                name = text[i + 1 : end] if end > 0 else ""
                if end < 0 or not _NAME.fullmatch(name):
                    raise PatternSyntaxError(
                        f"key pattern {text!r}: bad placeholder at position {i} (write "
                        "{name} with a Python identifier, {{ or }} for a literal brace)"
                    )
                if name in names:
                    raise PatternSyntaxError(f"key pattern {text!r}: placeholder {name!r} twice")
                if parts and isinstance(parts[-1], Placeholder) and not literal:
                    raise PatternSyntaxError(
                        f"key pattern {text!r}: placeholders {{{parts[-1].name}}} and "
                        f"{{{name}}} need literal text between them"
                    )
                names.add(name)
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append(Placeholder(name))
                i = end + 1
            elif ch == "}":
                raise PatternSyntaxError(
                    f"key pattern {text!r}: lone '}}' at position {i} (write }}}} for a brace)"
                )
            else:
                literal.append(ch)
                i += 1
        if literal:
            parts.append("".join(literal))
        if not parts:
            raise PatternSyntaxError("key pattern is empty")
        return cls(tuple(parts))

    @property
    def text(self) -> str:
        """The canonical spelling (braces in literal parts doubled)."""
        return "".join(
            f"{{{p.name}}}"
            if isinstance(p, Placeholder)
            else p.replace("{", "{{").replace("}", "}}")
            for p in self.parts
        )

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if isinstance(p, Placeholder))

    def delimiter(self, name: str) -> str | None:
        """The character that ends placeholder ``name`` in a key (None for the last part).
        A value holding it would make the key ambiguous, so writers must refuse it."""
        for i, p in enumerate(self.parts):
            if isinstance(p, Placeholder) and p.name == name:
                after = self.parts[i + 1] if i + 1 < len(self.parts) else None
                return after[0] if isinstance(after, str) else None
        raise KeyError(name)

    def key(self, values: Mapping[str, str], prefix: str = "") -> str:
        """The key for placeholder ``values`` (already text, non-empty)."""
        out = [prefix]
        for p in self.parts:
            out.append(values[p.name] if isinstance(p, Placeholder) else p)
        return "".join(out)

    def glob(self, prefix: str = "", pinned: Mapping[str, str] | None = None) -> str:
        """A SCAN MATCH glob for the keys of this pattern; ``pinned`` placeholder values are
        matched exactly (escaped), the others by ``*``."""
        pinned = pinned or {}
        out = [glob_escape(prefix)]
        for p in self.parts:
            if isinstance(p, Placeholder):
                out.append(glob_escape(pinned[p.name]) if p.name in pinned else "*")
            else:
                out.append(glob_escape(p))
        return "".join(out)

    def parse_key(self, key: str, prefix: str = "") -> dict[str, str] | None:
        """Placeholder values of ``key`` (text), or None when it is not a key of the pattern."""
        if not key.startswith(prefix):
            return None
        match = self._regex.fullmatch(key, len(prefix))
        if match is None:
            return None
        return dict(zip(self.placeholders, match.groups(), strict=True))


def segment_is_id(segment: str) -> bool:
    """Does this key segment look like an id (int, UUID, ObjectId, long hex)?"""
    if _DIGITS.fullmatch(segment) or _UUID_ANY.fullmatch(segment):
        return True
    if _HEX.fullmatch(segment):
        return any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)
    return False


def id_type_of(values: Iterable[str]) -> IdType:
    """``int`` / ``uuid`` when every value is canonical for it (so the key rebuilt from the
    typed value is the same text), else ``str``."""
    is_int = is_uuid = True
    seen = False
    for v in values:
        seen = True
        is_int = is_int and _INT.fullmatch(v) is not None and v != "-0"
        is_uuid = is_uuid and _UUID.fullmatch(v) is not None
        if not (is_int or is_uuid):
            return "str"
    if not seen:
        return "str"
    return "int" if is_int else "uuid" if is_uuid else "str"


@dataclass
class KeyGroup:
    """Keys sharing one pattern, with the inferred type of each placeholder."""

    pattern: KeyPattern
    keys: list[str]
    id_types: dict[str, IdType]


Shape = tuple[str, ...]


def _shape(key: str) -> Shape:
    return tuple(_HOLE if segment_is_id(s) else s for s in key.split(SEPARATOR))


def _merge_str_ids(shapes: dict[Shape, list[str]], min_str_ids: int) -> None:
    while True:
        candidates: dict[Shape, list[Shape]] = defaultdict(list)
        for shape in shapes:
            for i, seg in enumerate(shape):
                if seg != _HOLE:
                    candidates[(*shape[:i], _HOLE, *shape[i + 1 :])].append(shape)
        best = max(
            (c for c, members in candidates.items() if len(members) >= min_str_ids),
            key=lambda c: (len(candidates[c]), tuple(s.replace(_HOLE, "") for s in c)),
            default=None,
        )
        if best is None:
            return
        merged = shapes.setdefault(best, [])
        for member in candidates[best]:
            merged.extend(shapes.pop(member))


def _names(shape: Shape) -> list[str]:
    holes = [i for i, s in enumerate(shape) if s == _HOLE]
    names: list[str] = []
    for n, i in enumerate(holes, start=1):
        if n == len(holes):
            name = "id"
        else:
            before = re.sub(r"[^A-Za-z0-9_]", "_", shape[i - 1]).lower() if i else ""
            name = f"{before}_id" if before and _NAME.fullmatch(before) else f"id_{n}"
            if name in names or name == "id":
                name = f"id_{n}"
        names.append(name)
    return names


def group_keys(
    keys: Iterable[str], *, prefix: str = "", min_str_ids: int = 10
) -> dict[str, KeyGroup]:
    """Keys (``prefix`` stripped first) grouped into patterns; keyed by pattern text."""
    shapes: dict[Shape, list[str]] = defaultdict(list)
    for key in keys:
        shapes[_shape(key[len(prefix) :])].append(key)
    _merge_str_ids(shapes, min_str_ids)
    out: dict[str, KeyGroup] = {}
    for shape, members in shapes.items():
        names = iter(_names(shape))
        parts: list[str | Placeholder] = []
        for i, seg in enumerate(shape):
            if i:
                parts.append(SEPARATOR)
            if seg == _HOLE:
                parts.append(Placeholder(next(names)))
            else:
                parts.append(seg)
        pattern = KeyPattern(tuple(_join_literals(parts)))
        values: dict[str, list[str]] = {n: [] for n in pattern.placeholders}
        for key in members:
            segs = key[len(prefix) :].split(SEPARATOR)
            holes = [s for s, sh in zip(segs, shape, strict=True) if sh == _HOLE]
            for name, value in zip(pattern.placeholders, holes, strict=True):
                values[name].append(value)
        out[pattern.text] = KeyGroup(
            pattern, sorted(members), {n: id_type_of(v) for n, v in values.items()}
        )
    return dict(sorted(out.items()))


def _join_literals(parts: list[str | Placeholder]) -> list[str | Placeholder]:
    joined: list[str | Placeholder] = []
    for p in parts:
        if isinstance(p, str) and joined and isinstance(joined[-1], str):
            joined[-1] += p
        elif p != "":
            joined.append(p)
    return joined
