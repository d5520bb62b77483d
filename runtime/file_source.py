"""Adapter between MaterializedRepo.from_file and ``files.read_rows(path, spec)``.

Generated code does not embed the snapshot: the CollectionSpec that ``read_rows`` needs is
rebuilt from the model's fields (source names and logical types) and the repo's ``file_format``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .query.fields import FieldInfo, fields_of
from .schema import CollectionSpec, FieldSpec, LogicalType, TypeSpec

_LOGICAL = {
    "str": LogicalType.STR,
    "int": LogicalType.INT,
    "float": LogicalType.FLOAT,
    "decimal": LogicalType.DECIMAL,
    "bool": LogicalType.BOOL,
    "date": LogicalType.DATE,
    "datetime": LogicalType.DATETIME,
    "time": LogicalType.TIME,
    "timedelta": LogicalType.TIMEDELTA,
    "uuid": LogicalType.UUID,
    "bytes": LogicalType.BYTES,
    "object": LogicalType.OBJECT,
    "any": LogicalType.UNKNOWN,
}


def _type(info: FieldInfo) -> TypeSpec:
    leaf = TypeSpec(kind=_LOGICAL[info.ref.kind])
    if info.children is not None:
        fields = tuple(
            FieldSpec(name=child.ref.path[-1], type=_type(child))
            for child in info.children.by_name.values()
        )
        leaf = TypeSpec(kind=LogicalType.OBJECT, fields=fields)
    return TypeSpec(kind=LogicalType.ARRAY, items=leaf) if info.ref.array else leaf


def spec_for(repo_cls: Any, path: Path) -> CollectionSpec:
    """The CollectionSpec of a MaterializedRepo class (its own, or one built from the model)."""
    if repo_cls.collection_spec is not None:
        spec: CollectionSpec = repo_cls.collection_spec
        return spec.model_copy(update={"path": str(path)})
    table = fields_of(repo_cls.model)
    meta = repo_cls.metadata
    return CollectionSpec(
        name=meta.collection,
        namespace=meta.namespace,
        kind="file",
        primary_key=tuple(table.source_name(n) for n in meta.primary_key),
        fields=tuple(
            FieldSpec(name=info.ref.path[0], type=_type(info), required=False)
            for info in table.by_name.values()
        ),
        path=str(path),
        file_format=repo_cls.file_format,
    )


def read_model_rows(repo_cls: Any, path: Path) -> Iterator[dict[str, Any]]:
    from .files import read_rows  # written alongside; imported lazily

    yield from read_rows(path, spec_for(repo_cls, path))


__all__ = ["read_model_rows", "spec_for"]
