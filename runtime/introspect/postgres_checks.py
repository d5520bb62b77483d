"""Reading PostgreSQL CHECK constraints as pg_get_constraintdef() prints them.

PostgreSQL stores ``CHECK (col IN ('a', 'b'))`` rewritten, and prints it back as
``CHECK ((col = ANY (ARRAY['a'::text, 'b'::text])))`` — for varchar columns as
``CHECK (((col)::text = ANY ((ARRAY['a'::character varying, ...])::text[])))``, for integers as
``ARRAY[1, 2]`` (negative ones as ``'-1'::integer``), and in a domain with ``VALUE`` for the
column. Only that canonical shape is recognised; anything else stays a generic check, which is
the safe failure (an enum that rejects valid rows would be worse than a plain ``str``).
"""

from __future__ import annotations

import re

__all__ = ["bind_domain_value", "parse_enum_check"]

_HEAD = re.compile(
    r'\(*(?P<col>"(?:[^"]|"")+"|[^\W\d][\w$]*)\)*'
    r"(?:::[a-z][a-z0-9_ ]*(?:\(\d+(?:,\d+)?\))?)*"
    r"\s*=\s*ANY\s*\((?P<rest>.*)\)",
    re.DOTALL,
)
_ARRAY = re.compile(
    r"\(*ARRAY\[(?P<items>.*?)\]\)*(?:::[a-z][a-z0-9_ ]*(?:\(\d+(?:,\d+)?\))?\[\])?", re.DOTALL
)
_INT = re.compile(r"-?\d+")
_CAST = re.compile(r'::(?:"(?:[^"]|"")+"|[a-z][a-z0-9_ ]*)(?:\(\d+(?:,\d+)?\))?')
_INT_CASTS = frozenset({"integer", "bigint", "smallint"})


def _strip_check(definition: str) -> str:
    text = definition.strip()
    text = text.removesuffix(" NOT VALID").removesuffix(" NO INHERIT")
    if text.startswith("CHECK "):
        text = text[len("CHECK ") :].strip()
    while text.startswith("(") and text.endswith(")") and _outer_parens(text):
        text = text[1:-1].strip()
    return text


def _outer_parens(text: str) -> bool:
    """Whether the first '(' closes at the very end (so the pair can be dropped)."""
    depth = 0
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def _unquote(ident: str) -> str:
    if ident.startswith('"'):
        return ident[1:-1].replace('""', '"')
    return ident


def _literals(items: str) -> tuple[str | int, ...] | None:
    values: list[str | int] = []
    pos = 0
    n = len(items)
    while pos < n:
        while pos < n and items[pos] == " ":
            pos += 1
        if pos < n and items[pos] == "'":
            end = pos + 1
            chunks: list[str] = []
            while True:
                close = items.find("'", end)
                if close < 0:
                    return None
                chunks.append(items[end:close])
                if items.startswith("''", close):
                    chunks.append("'")
                    end = close + 2
                    continue
                end = close + 1
                break
            value: str | int = "".join(chunks)
            cast = _CAST.match(items, end)
            if cast is not None:
                end = cast.end()
                if cast.group()[2:] in _INT_CASTS and isinstance(value, str):
                    if not _INT.fullmatch(value):
                        return None
                    value = int(value)
            pos = end
        else:
            number = _INT.match(items, pos)
            if number is None:
                return None  # an expression, a float, an E'' string: not a plain enum
            value = int(number.group())
            pos = number.end()
        values.append(value)
        while pos < n and items[pos] == " ":
            pos += 1
        if pos < n:
            if items[pos] != ",":
                return None
            pos += 1
    if not values or len({type(v) for v in values}) != 1:
        return None
    return tuple(values)


def parse_enum_check(definition: str) -> tuple[str, tuple[str | int, ...]] | None:
    """``(column, values)`` for a ``col = ANY (ARRAY[...])`` check (``VALUE`` in domains)."""
    head = _HEAD.fullmatch(_strip_check(definition))
    if head is None:
        return None
    array = _ARRAY.fullmatch(head.group("rest").strip())
    if array is None:
        return None
    values = _literals(array.group("items"))
    if values is None:
        return None
    return _unquote(head.group("col")), values


def bind_domain_value(definition: str, column_sql: str) -> str:
    """A domain CHECK with its ``VALUE`` keyword replaced by the column it constrains."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(definition):
        ch = definition[i]
        if quote is not None:
            out.append(ch)
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            out.append(ch)
            i += 1
            continue
        if (
            definition.startswith("VALUE", i)
            and (i == 0 or not (definition[i - 1].isalnum() or definition[i - 1] == "_"))
            and not (
                i + 5 < len(definition)
                and (definition[i + 5].isalnum() or definition[i + 5] == "_")
            )
        ):
            out.append(column_sql)
            i += 5
            continue
        out.append(ch)
        i += 1
    return "".join(out)
