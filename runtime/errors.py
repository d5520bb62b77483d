"""The runtime's exceptions: one base class, each error names what is wrong and where."""

from __future__ import annotations


class XRepoError(Exception):
    """Base of every error the runtime raises on purpose."""


class QueryError(XRepoError, ValueError):
    """A filter, sort or paging argument that cannot be used (names the field / operator)."""


class UnsupportedQueryError(QueryError):
    """Valid query, but this backend (or its compiler) cannot express it."""


class BackendError(XRepoError):
    """The backend failed to carry out an operation."""


class ConstraintError(BackendError):
    """A write broke a primary-key or unique constraint (or another declared constraint).

    ``constraint``, ``table`` and ``column`` name what was broken when the database says so.
    """

    def __init__(
        self,
        message: str,
        *,
        constraint: str | None = None,
        table: str | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.table = table
        self.column = column


class ForeignKeyViolation(ConstraintError):
    """A referenced row is missing (insert/update) or still referenced (delete)."""


class NotNullViolation(ConstraintError):
    """A required column was given no value."""


class CheckViolation(ConstraintError):
    """A CHECK constraint rejected the row."""


class UniqueViolation(ConstraintError):
    """A write duplicated a unique key; ``constraint`` names the index / constraint."""


class PermissionDenied(XRepoError):
    """The principal may not perform the operation; names both (``anonymous`` for no user)."""

    def __init__(self, operation: str, principal: str, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"{operation} denied for principal {principal}{detail}")
        self.operation = operation
        self.principal = principal


class MissingDriverError(XRepoError, ImportError):
    """An optional driver is not installed; the message names the extra to install."""


class ConfigurationError(XRepoError):
    """A repo class or backend is declared inconsistently (e.g. soft delete without its field)."""


__all__ = [
    "BackendError",
    "CheckViolation",
    "ConfigurationError",
    "ConstraintError",
    "ForeignKeyViolation",
    "MissingDriverError",
    "NotNullViolation",
    "PermissionDenied",
    "QueryError",
    "UniqueViolation",
    "UnsupportedQueryError",
    "XRepoError",
]
