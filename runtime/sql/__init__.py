"""SQL compilation shared by the SQL backends; dialects supply what differs."""

from .compiler import SQLCompiler, Statement, count, delete, distinct, insert, select, update
from .dialect import Dialect, SQLiteDialect
from .postgres import PostgresDialect

__all__ = [
    "Dialect",
    "PostgresDialect",
    "SQLCompiler",
    "SQLiteDialect",
    "Statement",
    "count",
    "delete",
    "distinct",
    "insert",
    "select",
    "update",
]
