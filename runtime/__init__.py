"""xrepo.runtime: what generated code imports."""

from .backends.base import Backend, Collection
from .backends.memory import MemoryBackend
from .backends.sqlite import SQLiteBackend
from .errors import (
    BackendError,
    ConfigurationError,
    ConstraintError,
    MissingDriverError,
    QueryError,
    UnsupportedQueryError,
    XRepoError,
)
from .model import XObjPrototype
from .ops import (
    AnyOps,
    BoolOps,
    BytesOps,
    DateOps,
    DateTimeOps,
    DecimalOps,
    FloatOps,
    IntOps,
    StrOps,
    TimedeltaOps,
    TimeOps,
    UUIDOps,
)
from .repo import ConnectedRepo, MaterializedRepo, RepoMetadata, SortOrder, XRepo
from .schema import FileFormat

__all__ = [
    "AnyOps",
    "Backend",
    "BackendError",
    "BoolOps",
    "BytesOps",
    "Collection",
    "ConfigurationError",
    "ConnectedRepo",
    "ConstraintError",
    "DateOps",
    "DateTimeOps",
    "DecimalOps",
    "FileFormat",
    "FloatOps",
    "IntOps",
    "MaterializedRepo",
    "MemoryBackend",
    "MissingDriverError",
    "QueryError",
    "RepoMetadata",
    "SQLiteBackend",
    "SortOrder",
    "StrOps",
    "TimeOps",
    "TimedeltaOps",
    "UUIDOps",
    "UnsupportedQueryError",
    "XObjPrototype",
    "XRepo",
    "XRepoError",
]
