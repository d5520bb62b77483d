"""xrepo.runtime: what generated code imports."""

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
    "BoolOps",
    "BytesOps",
    "ConnectedRepo",
    "DateOps",
    "DateTimeOps",
    "DecimalOps",
    "FileFormat",
    "FloatOps",
    "IntOps",
    "MaterializedRepo",
    "RepoMetadata",
    "SortOrder",
    "StrOps",
    "TimeOps",
    "TimedeltaOps",
    "UUIDOps",
    "XObjPrototype",
    "XRepo",
]
