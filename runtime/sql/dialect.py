"""What differs between SQL databases, kept out of the shared compiler.

A dialect quotes identifiers, spells placeholders, encodes Python values into driver
parameters, and spells the few expressions that have no standard form (regex, JSON path
access, array elements, NULL placement in ORDER BY).  The compiler never branches on the
database: it asks the dialect.

Vocabulary used by the hooks:

* a *column* is a top-level field, stored in the database's own type;
* a *JSON value* is a nested field (a path into a JSON column or a JSON array element);
  JSON paths are bound parameters, never spliced into SQL text;
* an *array* is a list field, stored as JSON or — PostgreSQL only — as a native array
  (``native=True``), which :meth:`Dialect.native_array` tells per column.

The PostgreSQL dialect lives in :mod:`.postgres`.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from collections.abc import Callable
from typing import Any

from ..errors import QueryError
from ..query.regex import inline

PathParam = Callable[[], str]


class Dialect:
    name = "generic"
    true = "TRUE"
    false = "FALSE"
    #: Appended to a SELECT that locks its rows until the transaction ends ("": no such lock).
    row_lock = ""

    def quote(self, ident: str) -> str:
        """A quoted identifier; embedded quotes are doubled, NUL is refused."""
        if not isinstance(ident, str) or not ident or "\x00" in ident:
            raise QueryError(f"invalid SQL identifier {ident!r}")
        return '"' + ident.replace('"', '""') + '"'

    def placeholder(self, index: int) -> str:
        """Spelling of the ``index``-th (1-based) bound parameter."""
        return f"${index}"

    def table(self, name: str, namespace: str | None) -> str:
        q = self.quote(name)
        return f"{self.quote(namespace)}.{q}" if namespace else q

    def encode(self, value: Any) -> Any:
        """A Python value as the driver should receive it (parameters and stored values)."""
        return value

    def encode_json(self, value: Any) -> Any:
        """A value stored into a JSON column (lists, objects, untyped fields); not ``None``."""
        return value

    def column(self, name: str) -> str:
        """SQL reading top-level column ``name`` in the current table."""
        return self.quote(name)

    def native_array(self, column: str) -> bool:
        """Whether top-level ``column`` is a native SQL array (else arrays are JSON)."""
        return False

    def numeric(self, expr: str) -> str:
        """``expr`` compared as a number (decimals may be stored as text)."""
        return expr

    def typed(self, expr: str, kind: str) -> str:
        """A column (or array element) value as compared for a field of ``kind``."""
        return self.numeric(expr) if kind == "decimal" else expr

    def ordered(self, expr: str, kind: str) -> str:
        """``expr`` as ordered by ``<``/``>``/ORDER BY/MIN/MAX: code point order for text."""
        return expr

    def min_max(self, fn: str, expr: str, kind: str) -> str:
        """``MIN``/``MAX`` (``fn``) of a column of ``kind``, in the memory order."""
        return f"{fn}({self.ordered(expr, kind)})"

    def order_term(self, expr: str, direction: int) -> str:
        """One ORDER BY key: NULLs first ascending, last descending (the memory order)."""
        return f"{expr} {'ASC' if direction == 1 else 'DESC'}"

    def json_path(self, path: tuple[str, ...]) -> Any:
        """A JSON path for ``path`` (bound as a parameter, never spliced into SQL)."""
        return "$" + "".join('."' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in path)

    def path_param(self, placeholder: str) -> str:
        """How a bound JSON path appears in SQL (PostgreSQL casts it to ``text[]``)."""
        return placeholder

    def json_extract(self, expr: str, path_param: str) -> str:
        """The JSON value at the path, SQL NULL for a missing path or a JSON null."""
        raise NotImplementedError

    def json_scalar(self, expr: str, path_param: str, kind: str) -> str:
        """The typed scalar at the path (``kind`` is the field's), comparable to parameters."""
        return self.typed(self.json_extract(expr, path_param), kind)

    def json_present(self, expr: str, path_param: str) -> str:
        raise NotImplementedError

    def json_holds_null(self, expr: str, path: PathParam | None, alias: str) -> str:
        """The JSON value (at ``path``, if given) is an array with a null element."""
        raise NotImplementedError

    def regex(self, expr: str, pattern_param: str) -> str:
        raise NotImplementedError

    def regex_pattern(self, pattern: str, options: str) -> str:
        """The pattern as bound for :meth:`regex` (options inlined)."""
        return inline(pattern, options)

    def elements(self, expr: str, alias: str, kind: str, native: bool) -> tuple[str, str]:
        """(FROM-clause item, element value expression) iterating the array ``expr``;
        elements of a scalar ``kind`` come typed as :meth:`typed` makes them, objects as
        JSON values."""
        raise NotImplementedError

    def array_length(self, expr: str, native: bool) -> str:
        raise NotImplementedError

    def array_equal(self, expr: str, param: str, native: bool) -> str:
        raise NotImplementedError

    def array_contains(self, expr: str, param: str, kind: str, native: bool) -> str | None:
        """``param`` equals an element of ``expr`` (index-friendly form), or ``None`` to let
        the compiler spell it as ``EXISTS`` over :meth:`elements`."""
        return None

    def unwind(
        self, expr: str, alias: str, kind: str, native: bool, preserve: bool
    ) -> tuple[str, str, str, str] | None:
        """``$unwind`` of the array ``expr`` (elements of scalar ``kind``) as a join appended
        to the FROM clause: (join, element, 0-based index, emptied) — ``emptied`` is true on
        the row kept for an empty array under ``preserve`` (the field is then removed), the
        element and index are NULL on every row kept without an element.  ``None``: no form."""
        return None

    def json_rows(
        self, table: str, alias: str, fields: list[tuple[str, str]], where: str, order: list[str]
    ) -> str:
        """A scalar subquery: the rows of ``table`` (as ``alias``) satisfying ``where``, in
        ``order``, as the text of a JSON array of objects (``fields``: key, SQL value)."""
        raise NotImplementedError

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        parts = []
        if limit is not None:
            parts.append(f"LIMIT {limit}")
        if offset is not None:
            parts.append(f"OFFSET {offset}")
        return " ".join(parts)


def sql_literal(text: str) -> str:
    """A SQL string literal (catalog names only; values are always bound parameters)."""
    if "\x00" in text:
        raise QueryError(f"invalid SQL name {text!r}")
    return "'" + text.replace("'", "''") + "'"


def _json_default(value: Any) -> Any:
    encoded = SQLiteDialect.encode_scalar(value)
    if encoded is value:
        raise TypeError(f"cannot store {type(value).__name__} in JSON")
    return encoded


class SQLiteDialect(Dialect):
    """SQLite ≥ 3.35: ``?`` placeholders, JSON1 functions, a Python ``regexp`` function.

    Storage: Decimal → TEXT (a NUMERIC-affinity column turns it into INTEGER or REAL, keeping
    ~15 significant digits and dropping trailing zeros — the inspector warns — and compares it
    through ``CAST(... AS NUMERIC)`` as an 8-byte float), date/time → ISO text, datetime
    → ISO text with a space separator (SQLite's own convention), timezone-aware values first
    converted to UTC so that text order is time order; bool → 0/1; UUID → text; timedelta →
    seconds (REAL); lists, objects and every value of an untyped field → JSON text (a bare
    string ``"1"`` is stored as ``'"1"'`` so that it reads back as a string, not a number).
    """

    name = "sqlite"
    true = "1"
    false = "0"

    def quote(self, ident: str) -> str:
        """SQLite accepts the empty identifier ``""`` (PostgreSQL does not); NUL is refused."""
        if ident == "":
            return '""'
        return super().quote(ident)

    def placeholder(self, index: int) -> str:
        return "?"

    @staticmethod
    def encode_scalar(value: Any) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, decimal.Decimal):
            return str(value)
        if isinstance(value, datetime.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(datetime.UTC)
            return value.isoformat(sep=" ")
        if isinstance(value, datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, datetime.timedelta):
            return value.total_seconds()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, enum.Enum):
            return SQLiteDialect.encode_scalar(value.value)
        return value

    def encode(self, value: Any) -> Any:
        if isinstance(value, dict | list | tuple):
            return self.encode_json(value)
        return self.encode_scalar(value)

    def encode_json(self, value: Any) -> Any:
        return json.dumps(value, default=_json_default, ensure_ascii=False)

    def numeric(self, expr: str) -> str:
        return f"CAST({expr} AS NUMERIC)"

    def json_extract(self, expr: str, path_param: str) -> str:
        return f"json_extract({expr}, {path_param})"

    def json_present(self, expr: str, path_param: str) -> str:
        # json_type is NULL for a missing path and 'null' for an explicit JSON null.
        return f"(json_type({expr}, {path_param}) IS NOT NULL)"

    def json_holds_null(self, expr: str, path: PathParam | None, alias: str) -> str:
        # json_type/json_each take the path themselves: json_extract would unquote strings.
        def at() -> str:
            return f", {path()}" if path is not None else ""

        return (
            f"(json_type({expr}{at()}) = 'array' AND EXISTS (SELECT 1 FROM "
            f"json_each({expr}{at()}) AS {alias} WHERE {alias}.type = 'null'))"
        )

    def regex(self, expr: str, pattern_param: str) -> str:
        return f"({expr} REGEXP {pattern_param})"

    def elements(self, expr: str, alias: str, kind: str, native: bool) -> tuple[str, str]:
        return f"json_each({expr}) AS {alias}", self.typed(f"{alias}.value", kind)

    def array_length(self, expr: str, native: bool) -> str:
        return f"json_array_length({expr})"

    def array_equal(self, expr: str, param: str, native: bool) -> str:
        return f"(json({expr}) = json({param}))"

    def unwind(
        self, expr: str, alias: str, kind: str, native: bool, preserve: bool
    ) -> tuple[str, str, str, str] | None:
        # Lists are JSON text; json_each of a non-array would yield the value itself.
        src = f"json_each(CASE WHEN json_type({expr}) = 'array' THEN {expr} END) AS {alias}"
        join = f" LEFT JOIN {src} ON 1" if preserve else f" JOIN {src}"
        emptied = f"({alias}.key IS NULL AND json_type({expr}) = 'array')"
        return join, f"{alias}.value", f"{alias}.key", emptied

    def json_rows(
        self, table: str, alias: str, fields: list[tuple[str, str]], where: str, order: list[str]
    ) -> str:
        # No ORDER BY inside aggregates before SQLite 3.44: an ordered subquery, whose JSON
        # objects lose their JSON subtype on the way out (json() restores it).
        obj = ", ".join(f"{sql_literal(k)}, {v}" for k, v in fields)
        return (
            f"(SELECT json_group_array(json(_j)) FROM (SELECT json_object({obj}) AS _j"
            f" FROM {table} AS {alias} WHERE {where} ORDER BY {', '.join(order)}))"
        )

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        if limit is None and offset is not None:
            return f"LIMIT -1 OFFSET {offset}"
        return super().limit_offset(limit, offset)


__all__ = ["Dialect", "PathParam", "SQLiteDialect", "sql_literal"]
