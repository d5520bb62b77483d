"""The plan: every decision about a generated module, as plain frozen data.

Templates only loop over these and print their strings. Every string here is already valid,
black-formatted Python (identifiers sanitised, literals built by :func:`naming.py_str`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

BlackMode = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class GenerateOptions:
    """Knobs of generation; all of them are part of the cache key."""

    line_length: int = 100
    #: A collection holding this column gets ``soft_delete=True`` in its metadata.
    soft_delete_field: str = "deleted_at"
    created_field: str = "created_at"
    updated_field: str = "updated_at"
    #: ``order_items`` → ``OrderItem``.
    singularize: bool = True
    #: max_length / max_digits also on the read model (off: accept what the source stores,
    #: validate what the program writes).
    constraints_on_read: bool = False
    #: "auto": run black only on chunks with a line over ``line_length`` (templates are
    #: black-stable otherwise; a test proves it). "always": format everything. "never": skip.
    black: BlackMode = "auto"
    #: Directory for formatted chunks keyed by content hash (e.g. ``.xrepo-cache``); None: off.
    cache_dir: Path | None = None
    #: Worker processes for black when many chunks need it (1: in process).
    jobs: int = 2


@dataclass(frozen=True)
class FieldLine:
    """``name: annotation<assign>`` inside a class body."""

    name: str
    annotation: str
    #: "" (required), " = None", " = pydantic.Field(...)" (possibly exploded over lines).
    assign: str


@dataclass(frozen=True)
class ModelClass:
    name: str
    fields: tuple[FieldLine, ...]
    #: One-line comment (already escaped) naming the source object.
    comment: str


@dataclass(frozen=True)
class LiteralAlias:
    name: str
    #: ``typing.Literal[...]``, spelled (exploded over lines when there are several values).
    expr: str


@dataclass(frozen=True)
class TypedDictEntry:
    key: str
    annotation: str


@dataclass(frozen=True)
class FilterDict:
    name: str
    name_literal: str
    entries: tuple[TypedDictEntry, ...]


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str


@dataclass(frozen=True)
class Finder:
    """``get_by_x`` (unique → one row or None) or ``list_by_x`` (foreign key → rows)."""

    name: str
    params: tuple[Param, ...]
    #: Keyword-only parameters, spelled (``user_id: str | None = None``).
    keyword_params: tuple[str, ...]
    #: The XRepo method called (``find_one`` / ``list``).
    method: str
    #: (key literal, parameter name) pairs of the filter document.
    items: tuple[tuple[str, str], ...]
    #: Keyword arguments passed on, spelled (``user_id=user_id``).
    call_kwargs: tuple[str, ...]
    returns: str


@dataclass(frozen=True)
class Attr:
    """``name = value`` in a class body; ``value`` may span lines (already indented)."""

    name: str
    value: str


@dataclass(frozen=True)
class RepoClass:
    name: str
    base: str
    type_args: tuple[str, ...]
    attrs: tuple[Attr, ...]
    finders: tuple[Finder, ...]


@dataclass(frozen=True)
class CollectionPlan:
    """Everything one collection contributes to ``models.py`` and ``repos.py``."""

    key: str
    enums: tuple[LiteralAlias, ...]
    #: Nested models first (dependencies before users), then read, create, update.
    models: tuple[ModelClass, ...]
    filter: FilterDict
    field_literal: LiteralAlias
    repo: RepoClass
    #: Names this chunk defines in models.py (for imports and ``__all__``).
    model_exports: tuple[str, ...]
    #: Names of models.py that repos.py needs.
    repo_model_imports: tuple[str, ...]
    #: Modules (``datetime``, ``pydantic``...) and runtime names each side uses.
    model_modules: tuple[str, ...]
    model_runtime: tuple[str, ...]
    repo_modules: tuple[str, ...]
    repo_runtime: tuple[str, ...]


@dataclass(frozen=True)
class ModuleHeader:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ImportBlock:
    modules: tuple[str, ...]
    third_party: tuple[str, ...]
    #: (module, names) for ``from module import (...)``.
    from_imports: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class SourcePlan:
    """One snapshot → one subpackage."""

    package_dir: str
    source_name: str
    header: ModuleHeader
    collections: tuple[CollectionPlan, ...] = field(default=())
