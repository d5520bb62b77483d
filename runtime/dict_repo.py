"""DictRepo: the XRepo API over plain dicts, for code that has a schema but no model class.

What ``create_from_resource(resource, collection)`` returns when no model is asked for. Behind
it is a typed repo over a dynamic model built from the collection's schema, so it is
schema-aware all the same: filters and sorts name real fields (unknown field or operator → a
:class:`~xrepo.runtime.errors.QueryError` naming it), filter values are coerced to the field's
type, writes are validated. Rows come back as ``dict[str, Any]`` keyed by the SOURCE's field
names, with values of the schema's Python types (``Decimal``, ``date``...).

Access control is the typed repo's: ``dict_repo.acl = ACL(rules, resolver)`` sets it there,
so every rule holds here as it does there — denials raise
:class:`~xrepo.runtime.errors.PermissionDenied`, and a field hidden from the principal is
absent from the returned dicts (not ``None``, which would read as a stored NULL).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from .acl import ACL
from .cache import Cache
from .repo import SortOrder, XRepo
from .schema import CollectionSpec

Row = dict[str, Any]
AnyRepo = XRepo[Any, Any, Any, Any, Any]


class DictRepo:
    def __init__(self, repo: AnyRepo, schema: CollectionSpec) -> None:
        #: The typed repo doing the work (its model is the dynamic model of ``schema``).
        self.repo = repo
        self.schema = schema
        self.metadata = repo.metadata

    @property
    def model(self) -> type[BaseModel]:
        return self.repo.model

    @property
    def acl(self) -> ACL | None:
        """The typed repo's ACL (:mod:`xrepo.runtime.acl`); assigning sets it there."""
        return self.repo.acl

    @acl.setter
    def acl(self, acl: ACL | None) -> None:
        self.repo.acl = acl

    @property
    def cache(self) -> Cache | None:
        """The typed repo's read cache (:mod:`xrepo.runtime.cache`); assigning sets it there."""
        return self.repo.cache

    @cache.setter
    def cache(self, cache: Cache | None) -> None:
        self.repo.cache = cache

    def _row(self, obj: BaseModel) -> Row:
        acl = self.repo.acl
        if acl is None:
            return obj.model_dump(by_alias=True)
        # The repo returns a hidden field as None and unset.  An unset None that no rule hides
        # from this principal is a field the stored row lacks: absent is right for it too.
        maybe = {n for r in acl.rules for n in r.conditions.hidden}
        gone = {n for n in maybe - obj.model_fields_set if getattr(obj, n, None) is None}
        return obj.model_dump(by_alias=True, exclude=gone)

    @property
    def fields(self) -> list[str]:
        """Source names of the collection's fields, in order."""
        return [f.name for f in self.schema.fields]

    def __repr__(self) -> str:
        return f"DictRepo({self.schema.name!r}, fields={self.fields!r})"

    async def create(self, data: Mapping[str, Any], *, user_id: str | None = None) -> Row:
        return self._row(await self.repo.create(data, user_id=user_id))

    async def read(self, id: Any, *, user_id: str | None = None) -> Row | None:
        found = await self.repo.read(id, user_id=user_id)
        return None if found is None else self._row(found)

    async def update(
        self, id: Any, data: Mapping[str, Any], *, user_id: str | None = None
    ) -> Row | None:
        found = await self.repo.update(id, data, user_id=user_id)
        return None if found is None else self._row(found)

    async def delete(self, id: Any, *, hard: bool = False, user_id: str | None = None) -> bool:
        return await self.repo.delete(id, hard=hard, user_id=user_id)

    async def list(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        skip: int = 0,
        limit: int | None = None,
        sort: Sequence[tuple[str, SortOrder]] | None = None,
        user_id: str | None = None,
    ) -> builtins.list[Row]:
        found = await self.repo.list(filters, skip=skip, limit=limit, sort=sort, user_id=user_id)
        return [self._row(m) for m in found]

    async def count(
        self, filters: Mapping[str, Any] | None = None, *, user_id: str | None = None
    ) -> int:
        return await self.repo.count(filters, user_id=user_id)

    async def exists(
        self, filters: Mapping[str, Any] | None = None, *, user_id: str | None = None
    ) -> bool:
        return await self.repo.exists(filters, user_id=user_id)

    async def find_one(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, SortOrder]] | None = None,
        user_id: str | None = None,
    ) -> Row | None:
        found = await self.repo.find_one(filters, sort=sort, user_id=user_id)
        return None if found is None else self._row(found)

    async def bulk_create(
        self, items: Iterable[Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[Row]:
        return [self._row(m) for m in await self.repo.bulk_create(items, user_id=user_id)]

    async def bulk_update(
        self,
        filters: Mapping[str, Any] | None,
        changes: Mapping[str, Any],
        *,
        user_id: str | None = None,
    ) -> int:
        return await self.repo.bulk_update(filters, changes, user_id=user_id)

    async def bulk_delete(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        hard: bool = False,
        user_id: str | None = None,
    ) -> int:
        return await self.repo.bulk_delete(filters, hard=hard, user_id=user_id)

    async def distinct(
        self,
        field: str,
        filters: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
    ) -> builtins.list[Any]:
        return await self.repo.distinct(field, filters, user_id=user_id)

    async def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], *, user_id: str | None = None
    ) -> builtins.list[Row]:
        return await self.repo.aggregate(pipeline, user_id=user_id)


__all__ = ["DictRepo"]
