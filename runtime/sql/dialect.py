"""What differs between SQL databases, kept out of the shared compiler.

A dialect quotes identifiers, spells placeholders, encodes Python values into driver
parameters, and spells the few expressions that have no standard form (regex, JSON path
access, array elements).  PostgreSQL (asyncpg, ``$1``) will subclass :class:`Dialect`.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Any

from ..errors import QueryError


class Dialect:
    name = "generic"
    true = "TRUE"
    false = "FALSE"

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

    def numeric(self, expr: str) -> str:
        """``expr`` compared as a number (decimals may be stored as text)."""
        return expr

    def json_path(self, path: tuple[str, ...]) -> str:
        """A JSON path for ``path`` (bound as a parameter, never spliced into SQL)."""
        return "$" + "".join('."' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in path)

    def json_extract(self, expr: str, path_param: str) -> str:
        raise NotImplementedError

    def json_present(self, expr: str, path_param: str) -> str:
        raise NotImplementedError

    def regex(self, expr: str, pattern_param: str) -> str:
        raise NotImplementedError

    def elements(self, expr: str, alias: str) -> tuple[str, str]:
        """(FROM-clause item, element value expression) iterating a JSON array."""
        raise NotImplementedError

    def array_length(self, expr: str) -> str:
        raise NotImplementedError

    def json_equal(self, expr: str, param: str) -> str:
        raise NotImplementedError

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        parts = []
        if limit is not None:
            parts.append(f"LIMIT {limit}")
        if offset is not None:
            parts.append(f"OFFSET {offset}")
        return " ".join(parts)


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
    seconds (REAL); lists/dicts → JSON text.
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
            return json.dumps(value, default=_json_default, ensure_ascii=False)
        return self.encode_scalar(value)

    def numeric(self, expr: str) -> str:
        return f"CAST({expr} AS NUMERIC)"

    def json_extract(self, expr: str, path_param: str) -> str:
        return f"json_extract({expr}, {path_param})"

    def json_present(self, expr: str, path_param: str) -> str:
        # json_type is NULL for a missing path and 'null' for an explicit JSON null.
        return f"(json_type({expr}, {path_param}) IS NOT NULL)"

    def regex(self, expr: str, pattern_param: str) -> str:
        return f"({expr} REGEXP {pattern_param})"

    def elements(self, expr: str, alias: str) -> tuple[str, str]:
        return f"json_each({expr}) AS {alias}", f"{alias}.value"

    def array_length(self, expr: str) -> str:
        return f"json_array_length({expr})"

    def json_equal(self, expr: str, param: str) -> str:
        return f"(json({expr}) = json({param}))"

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        if limit is None and offset is not None:
            return f"LIMIT -1 OFFSET {offset}"
        return super().limit_offset(limit, offset)


__all__ = ["Dialect", "SQLiteDialect"]
