"""The XRepo API (the seed's method set) and its two flavours.

INTERIM SURFACE: signatures are the contract generated code relies on; bodies are being built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from .model import XObjPrototype
from .schema import FileFormat

M = TypeVar("M", bound=XObjPrototype)
C = TypeVar("C", bound=XObjPrototype)
U = TypeVar("U", bound=XObjPrototype)
F = TypeVar("F", bound=Mapping[str, Any])
K = TypeVar("K", bound=str)

SortOrder = Literal[1, -1]


class RepoMetadata(BaseModel):
    """Static description of a repo; generated code fills it from the snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    resource_name: str = ""
    model_name: str = ""
    #: Collection (table, file, ...) as the source names it.
    collection: str
    namespace: str | None = None
    #: Python field names of the primary key (empty: none declared).
    primary_key: tuple[str, ...] = ()
    #: Python field names of each index; unique ones also listed in ``unique``.
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    constraints: tuple[str, ...] = ()
    enable_audit: bool = False
    enable_statistics: bool = False
    cache_enabled: bool = False
    cache_ttl: float = 60.0
    acl_rules: tuple[Any, ...] = ()
    #: delete() marks ``soft_delete_field`` instead of removing the row.
    soft_delete: bool = False
    soft_delete_field: str = "deleted_at"
    auto_timestamps: bool = False
    created_field: str = "created_at"
    updated_field: str = "updated_at"


class XRepo(Generic[M, C, U, F, K]):
    """M read model, C create model, U update model, F filter TypedDict, K field-name Literal."""

    model: type[M]
    create_model: type[C]
    update_model: type[U]
    metadata: RepoMetadata

    async def create(self, data: C | Mapping[str, Any], *, user_id: str | None = None) -> M:
        raise NotImplementedError

    async def read(self, id: Any, *, user_id: str | None = None) -> M | None:
        raise NotImplementedError

    async def update(
        self, id: Any, data: U | Mapping[str, Any], *, user_id: str | None = None
    ) -> M | None:
        raise NotImplementedError

    async def delete(self, id: Any, *, hard: bool = False, user_id: str | None = None) -> bool:
        raise NotImplementedError

    async def list(
        self,
        filters: F | None = None,
        *,
        skip: int = 0,
        limit: int | None = None,
        sort: Sequence[tuple[K, SortOrder]] | None = None,
        user_id: str | None = None,
    ) -> list[M]:
        raise NotImplementedError

    async def count(self, filters: F | None = None, *, user_id: str | None = None) -> int:
        raise NotImplementedError

    async def exists(self, filters: F | None = None, *, user_id: str | None = None) -> bool:
        raise NotImplementedError

    async def find_one(
        self,
        filters: F | None = None,
        *,
        sort: Sequence[tuple[K, SortOrder]] | None = None,
        user_id: str | None = None,
    ) -> M | None:
        raise NotImplementedError


class ConnectedRepo(XRepo[M, C, U, F, K]):
    """A live resource: filtering, sorting and paging are pushed down to the backend."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend


class MaterializedRepo(XRepo[M, C, U, F, K]):
    """In-memory data with the same semantics (file sources, views, aggregates)."""

    #: File sources: default path (relative to the working directory) and how to read it.
    source_path: str | None = None
    file_format: FileFormat | None = None

    def __init__(self, rows: Iterable[Mapping[str, Any] | BaseModel] = ()) -> None:
        self._seed = list(rows)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> Self:
        raise NotImplementedError
