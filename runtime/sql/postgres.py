"""PostgreSQL's spelling of what the shared compiler asks for (asyncpg, ``$n`` parameters).

Storage it expects: top-level scalars in their own types; objects, untyped values and nested
data in ``jsonb`` (``json`` columns are read through a ``::jsonb`` cast); list fields either as
native arrays (``text[]``, ``int8[]`` …) or as ``jsonb`` arrays — the backend tells the dialect
which columns are native (:meth:`PostgresDialect.for_table`).

Semantics kept equal to the memory predicate:

* NULL: ``{f: None}`` matches SQL NULL, a missing JSON key and a JSON null (nested values are
  read with ``NULLIF(x #> path, 'null')`` / ``#>>``, which give SQL NULL for both).
* Order: ``ORDER BY`` puts NULLs first ascending and last descending (PostgreSQL's default is
  the opposite, so every key says ``NULLS FIRST`` / ``NULLS LAST``); text compares and sorts
  in code point order (``COLLATE "C"``), as Python does, whatever the column's collation.
* Nested typed values are cast from the JSON text by the field's kind (``::numeric`` for
  int and decimal, ``::float8``, ``::boolean``, ``::date``, ``::timestamptz``, ...).

Regular expressions run in PostgreSQL's engine (ARE), not Python's ``re``.  The pattern still
passes the repo's safety gate (:func:`xrepo.runtime.query.regex.check_pattern`) first, and is
translated where the two spell the same thing differently: ``\\b``/``\\B`` become ``\\y``/``\\Y``,
``{,n}`` becomes ``{0,n}``, named groups ``(?P<n>…)`` become plain groups, and the options map
to ARE flags (``.`` does not match a newline unless ``s``; ``m`` makes ``^``/``$`` match at
lines).  Differences that remain: ``$`` does not match before a final newline; ``[^a]`` does
not match a newline unless ``s``; ``\\d``, ``\\w`` and case folding follow the database's
``LC_CTYPE`` (a ``C`` ctype folds ASCII only); scoped flags ``(?i:…)`` and possessive
quantifiers are refused.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Any

from ..errors import UnsupportedQueryError
from .dialect import Dialect, PathParam, sql_literal

_CASTS = {
    "int": "numeric",
    "decimal": "numeric",
    "float": "float8",
    "bool": "boolean",
    "date": "date",
    "datetime": "timestamptz",
    "time": "time",
    "timedelta": "interval",
    "uuid": "uuid",
}
#: Kinds whose JSON spelling equals ``to_jsonb`` of the typed parameter (``@>`` fast path).
_JSONB_LITERAL = {"str": "text", "int": "numeric", "float": "float8", "bool": "boolean"}
#: Element kinds of jsonb arrays an ``$unwind`` reads back exactly (text cast by kind).
_JSONB_UNWIND = frozenset({"str", "int", "float", "bool", "decimal", "date", "uuid"})


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for the values the runtime stores inside JSON."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return _iso_duration(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def _iso_duration(value: datetime.timedelta) -> str:
    seconds = value.seconds + value.microseconds / 1_000_000
    return f"P{value.days}DT{seconds:g}S"


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, ensure_ascii=False, allow_nan=False)


class PostgresDialect(Dialect):
    name = "postgresql"
    row_lock = " FOR UPDATE"

    def __init__(
        self, arrays: frozenset[str] = frozenset(), json_columns: frozenset[str] = frozenset()
    ) -> None:
        #: Top-level columns that are native arrays, and columns of type ``json`` (not jsonb).
        self.arrays = arrays
        self.json_columns = json_columns

    def for_table(self, arrays: frozenset[str], json_columns: frozenset[str]) -> PostgresDialect:
        return PostgresDialect(arrays, json_columns)

    def native_array(self, column: str) -> bool:
        return column in self.arrays

    def column(self, name: str) -> str:
        q = self.quote(name)
        return f"{q}::jsonb" if name in self.json_columns else q

    def encode(self, value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return self.encode(value.value)
        if isinstance(value, tuple):
            return list(value)
        return value

    def json_path(self, path: tuple[str, ...]) -> Any:
        return list(path)

    def path_param(self, placeholder: str) -> str:
        return f"{placeholder}::text[]"

    def json_extract(self, expr: str, path_param: str) -> str:
        return f"NULLIF({expr} #> {path_param}, 'null'::jsonb)"

    def json_scalar(self, expr: str, path_param: str, kind: str) -> str:
        return _cast(f"({expr} #>> {path_param})", kind)

    def json_present(self, expr: str, path_param: str) -> str:
        return f"(({expr} #> {path_param}) IS NOT NULL)"

    def json_holds_null(self, expr: str, path: PathParam | None, alias: str) -> str:
        def at() -> str:
            return f"({expr} #> {path()})" if path is not None else expr

        return f"(jsonb_typeof({at()}) = 'array' AND {at()} @> '[null]'::jsonb)"

    def ordered(self, expr: str, kind: str) -> str:
        return f'({expr} COLLATE "C")' if kind == "str" else expr

    def min_max(self, fn: str, expr: str, kind: str) -> str:
        if kind == "bool":  # no MIN/MAX over booleans; false < true as in Python
            return f"{'BOOL_AND' if fn == 'MIN' else 'BOOL_OR'}({expr})"
        return super().min_max(fn, expr, kind)

    def order_term(self, expr: str, direction: int) -> str:
        return f"{expr} ASC NULLS FIRST" if direction == 1 else f"{expr} DESC NULLS LAST"

    def regex(self, expr: str, pattern_param: str) -> str:
        return f"({expr} ~ {pattern_param})"

    def regex_pattern(self, pattern: str, options: str) -> str:
        return translate_regex(pattern, options)

    def elements(self, expr: str, alias: str, kind: str, native: bool) -> tuple[str, str]:
        if native:
            return f"unnest({expr}) AS {alias}(v)", f"{alias}.v"
        arr = f"CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} END"
        if kind in ("object", "any"):
            return f"jsonb_array_elements({arr}) AS {alias}(v)", f"{alias}.v"
        return f"jsonb_array_elements_text({arr}) AS {alias}(v)", _cast(f"{alias}.v", kind)

    def unwind(
        self, expr: str, alias: str, kind: str, native: bool, preserve: bool
    ) -> tuple[str, str, str, str] | None:
        if native:
            src = f"unnest({expr}) WITH ORDINALITY AS {alias}(v, n)"
            value, is_array = f"{alias}.v", f"({expr} IS NOT NULL)"
        elif kind in _JSONB_UNWIND:
            arr = f"CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} END"
            src = f"jsonb_array_elements_text({arr}) WITH ORDINALITY AS {alias}(v, n)"
            value = f"{alias}.v" if kind == "str" else _cast(f"{alias}.v", kind)
            is_array = f"(jsonb_typeof({expr}) = 'array')"
        else:
            return None
        join = f" LEFT JOIN LATERAL {src} ON TRUE" if preserve else f" CROSS JOIN LATERAL {src}"
        return join, value, f"({alias}.n - 1)", f"({alias}.n IS NULL AND {is_array})"

    def json_rows(
        self, table: str, alias: str, fields: list[tuple[str, str]], where: str, order: list[str]
    ) -> str:
        # json (not jsonb) keeps json columns' text as stored.  json_build_object takes 100
        # arguments at most: wider tables are not described (sqljoin.pg_table).
        obj = ", ".join(f"{sql_literal(k)}, {v}" for k, v in fields)
        return (
            f"(SELECT coalesce(json_agg(json_build_object({obj}) ORDER BY {', '.join(order)}),"
            f" '[]'::json)::text FROM {table} AS {alias} WHERE {where})"
        )

    def array_length(self, expr: str, native: bool) -> str:
        if native:
            return f"cardinality({expr})"
        return f"jsonb_array_length(CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} END)"

    def array_equal(self, expr: str, param: str, native: bool) -> str:
        return f"({expr} = {param})" if native else f"({expr} = {param}::jsonb)"

    def array_contains(self, expr: str, param: str, kind: str, native: bool) -> str | None:
        if native:
            return f"({param} = ANY({expr}))"
        literal = _JSONB_LITERAL.get(kind)
        if literal is None:
            return None
        return f"({expr} @> jsonb_build_array({param}::{literal}))"


def _cast(expr: str, kind: str) -> str:
    target = _CASTS.get(kind)
    return f"({expr})::{target}" if target else expr


def translate_regex(pattern: str, options: str) -> str:
    """A Python ``re`` pattern (already through the safety gate) as a PostgreSQL ARE."""
    opts = set(options)
    body = pattern
    if body.startswith("(?") and ")" in body:
        head = body[2 : body.index(")")]
        if head and set(head) <= set("imsxau"):
            opts |= set(head) & set("imsx")
            body = body[body.index(")") + 1 :]
    out: list[str] = []
    i, in_class = 0, False
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if not in_class and nxt in "bB":
                out.append("\\y" if nxt == "b" else "\\Y")
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            if body[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if body[i + 1 : i + 2] == "]":  # a leading ] is a literal
                out.append("]")
                i += 1
        elif body.startswith("(?P<", i):
            out.append("(")
            i = body.index(">", i) + 1
            continue
        elif body.startswith("(?", i) and body[i + 2 : i + 3] not in (":", "=", "!", "<", "#"):
            raise UnsupportedQueryError(
                f"$regex {pattern!r}: scoped flags (?…) are not supported by PostgreSQL; "
                "use $options"
            )
        elif body.startswith("{,", i):
            out.append("{0,")
            i += 2
            continue
        elif ch in "*+?}" and body[i + 1 : i + 2] == "+":
            raise UnsupportedQueryError(
                f"$regex {pattern!r}: possessive quantifiers are not supported by PostgreSQL"
            )
        else:
            out.append(ch)
        i += 1
    # ARE flags: p = "." and [^…] skip newlines; n = p plus line anchors; w = line anchors only.
    flags = {(False, False): "p", (False, True): "s", (True, False): "n", (True, True): "w"}[
        ("m" in opts, "s" in opts)
    ]
    flags += "".join(f for f in "ix" if f in opts)
    return f"(?{flags}){''.join(out)}"


__all__ = ["PostgresDialect", "dumps", "json_default", "translate_regex"]
