"""Resources (the seed's XResource): where a repo's data lives, and what schema it has."""

from .base import MaterializedResource, ResourceBase, XResource
from .files import CsvResource, JsonResource
from .memory import MemoryResource
from .mongo import MongoResource
from .postgres import PostgresResource
from .redis import RedisResource
from .sqlite import SQLiteResource

__all__ = [
    "CsvResource",
    "JsonResource",
    "MaterializedResource",
    "MemoryResource",
    "MongoResource",
    "PostgresResource",
    "RedisResource",
    "ResourceBase",
    "SQLiteResource",
    "XResource",
]
