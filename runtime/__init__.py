"""xrepo.runtime: what generated code imports."""

from .acl import ACL, ACLConditions, ACLRule, Permission
from .audit import AuditError, AuditSink, DatabaseAuditSink, JsonlAuditSink
from .backends.base import Backend, Collection
from .backends.memory import MemoryBackend
from .backends.postgres import PostgresBackend
from .backends.sqlite import SQLiteBackend
from .cache import Cache, MemoryCache, RedisCache
from .dict_repo import DictRepo
from .dynamic import DynamicModels, ModelGenerator
from .errors import (
    BackendError,
    ConfigurationError,
    ConstraintError,
    MissingDriverError,
    PermissionDenied,
    QueryError,
    UnsupportedQueryError,
    XRepoError,
)
from .factory import XRepoFactory
from .governance import AuditEntry, MemoryAuditSink, RepoStats
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
from .query.cursor import Page
from .refresh import Freshness, RefreshableRepo
from .registry import ModelRegistry
from .repo import ConnectedRepo, MaterializedRepo, RepoMetadata, SortOrder, XRepo
from .resources import CsvResource, JsonResource, MemoryResource, SQLiteResource, XResource
from .schema import FileFormat
from .strategies import CreationStrategy
from .views import JoinSizeError

__all__ = [
    "ACL",
    "ACLConditions",
    "ACLRule",
    "AnyOps",
    "AuditEntry",
    "AuditError",
    "AuditSink",
    "Backend",
    "BackendError",
    "BoolOps",
    "BytesOps",
    "Cache",
    "Collection",
    "ConfigurationError",
    "ConnectedRepo",
    "ConstraintError",
    "CreationStrategy",
    "CsvResource",
    "DatabaseAuditSink",
    "DateOps",
    "DateTimeOps",
    "DecimalOps",
    "DictRepo",
    "DynamicModels",
    "FileFormat",
    "FloatOps",
    "Freshness",
    "IntOps",
    "JoinSizeError",
    "JsonResource",
    "JsonlAuditSink",
    "MaterializedRepo",
    "MemoryAuditSink",
    "MemoryBackend",
    "MemoryCache",
    "MemoryResource",
    "MissingDriverError",
    "ModelGenerator",
    "ModelRegistry",
    "Page",
    "Permission",
    "PermissionDenied",
    "PostgresBackend",
    "QueryError",
    "RedisCache",
    "RefreshableRepo",
    "RepoMetadata",
    "RepoStats",
    "SQLiteBackend",
    "SQLiteResource",
    "SortOrder",
    "StrOps",
    "TimeOps",
    "TimedeltaOps",
    "UUIDOps",
    "UnsupportedQueryError",
    "XObjPrototype",
    "XRepo",
    "XRepoError",
    "XRepoFactory",
    "XResource",
]
