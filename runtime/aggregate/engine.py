"""The compiled pipeline and its in-memory executor.

:func:`compile_pipeline` validates a pipeline once against the repo's schema and returns an
immutable :class:`Pipeline`.  Backends run it: the leading ``$match`` (``Pipeline.where``, in
source names, soft-deleted rows excluded) is applied where the rows live; the rows are then
renamed to the model's Python names and the remaining stages run here, in memory, unless a
backend pushed some of them down (:mod:`.sqlpush`) and resumes from there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..errors import QueryError
from ..query.ast import MatchAll, Node
from ..query.fields import FieldTable
from ..query.predicate import compile_filter
from ..query.values import MISSING, Fan, getter
from .order import null_key
from .stages import (
    Docs,
    GroupStage,
    LookupStage,
    MatchStage,
    SortByCountStage,
    Stage,
    _set_path,
    parse_stage,
)

Row = dict[str, Any]
#: Stages whose output documents are input documents (not copies).
_PASS_THROUGH = frozenset({"$match", "$sort", "$skip", "$limit"})
#: ``fetch(collection, foreign_field, local_values)`` → (foreign rows as stored — at least those
#: whose field may equal one of the values —, how to turn a local value into a stored one).
Fetch = Callable[[str, str, Sequence[Any]], Awaitable[tuple[list[Row], Callable[[Any], Any]]]]


def _renamer(table: FieldTable) -> Callable[[Any], Any] | None:
    """Source-keyed row → Python-keyed row, or ``None`` when every name is its own alias."""
    steps: dict[str, tuple[str, Callable[[Any], Any] | None]] = {}
    needed = False
    for py_name, info in table.by_name.items():
        sub = _renamer(info.children) if info.children is not None else None
        steps[info.ref.path[0]] = (py_name, sub)
        needed = needed or sub is not None or py_name != info.ref.path[0]
    if not needed:
        return None

    def nested(value: Any, sub: Callable[[Any], Any]) -> Any:
        if isinstance(value, dict):
            return sub(value)
        if isinstance(value, list):
            return [sub(v) if isinstance(v, dict) else v for v in value]
        return value

    def rename(row: Any) -> Any:
        out = {}
        for key, value in row.items():
            step = steps.get(key)
            if step is None:
                out[key] = value
                continue
            name, sub = step
            out[name] = value if sub is None else nested(value, sub)
        return out

    return rename


@dataclass(frozen=True)
class Pipeline:
    """A validated, compiled pipeline for one repo's collection."""

    table: FieldTable
    #: The leading ``$match`` (source names) AND the soft-delete condition.
    where: Node
    stages: tuple[Stage, ...]
    #: Index of the first stage not covered by ``where`` (1 when stage 0 is a ``$match``).
    start: int
    rename: Callable[[Any], Any] | None = field(repr=False, compare=False)

    @property
    def model(self) -> type[BaseModel]:
        return self.table.model

    def describe(self, upto: int | None = None) -> list[str]:
        return [f"{s.index}:{s.op}" for s in self.stages[:upto]]

    async def run(self, rows: Iterable[Mapping[str, Any]], fetch: Fetch) -> list[Row]:
        """Run every stage after ``where`` on ``rows`` (source-keyed, ``where`` applied).

        ``rows`` may be a backend's stored, read-only rows: no stage changes a document it is
        given (each builds new ones), so they are read in place.  Only when every stage passes
        documents through unchanged (``$match``, ``$sort``, ``$skip``, ``$limit``) are the
        results copied, so that aggregate results are always the caller's own dicts.
        """
        docs = await self.resume(self.to_python(rows), self.start, fetch)
        if self.rename is None and all(s.op in _PASS_THROUGH for s in self.stages[self.start :]):
            return [dict(d) for d in docs]
        return docs

    async def run_stored(
        self, rows: Iterable[Mapping[str, Any]], present: frozenset[str], fetch: Fetch
    ) -> list[Row]:
        """Run the whole pipeline, ``where`` included, over a backend's stored rows.

        For backends that keep rows in memory (read-only, source-keyed, ``where`` *not*
        applied; ``present``: top-level keys every row holds).  ``where`` runs as the compiled
        filter's scan (:func:`~xrepo.runtime.query.predicate.compile_filter`), and when it
        matches everything a leading ``$group`` reads ``rows`` directly: no list of the rows
        is built at all.
        """
        first = self.stages[self.start] if self.start < len(self.stages) else None
        if (
            isinstance(self.where, MatchAll)
            and self.rename is None
            and isinstance(first, GroupStage | SortByCountStage)
            and first.run is not None
        ):
            docs = first.run(rows)  # type: ignore[arg-type]  # the group scan takes any iterable
            return await self.resume(docs, self.start + 1, fetch)
        return await self.run(compile_filter(self.where, present).scan(rows), fetch)

    def to_python(self, rows: Iterable[Mapping[str, Any]]) -> Docs:
        """``rows`` keyed by Python names: renamed copies, or the rows themselves (read only)."""
        rename = self.rename
        if rename is None:
            return rows if isinstance(rows, list) else list(rows)  # type: ignore[arg-type]
        return [rename(r) for r in rows]

    async def resume(self, docs: Docs, at: int, fetch: Fetch) -> list[Row]:
        """Run stages ``at``… on Python-keyed documents."""
        for stage in self.stages[at:]:
            if isinstance(stage, LookupStage):
                docs = await _lookup(stage, docs, fetch)
            else:
                assert stage.run is not None
                docs = stage.run(docs)
        return docs


async def _lookup(stage: LookupStage, docs: Docs, fetch: Fetch) -> Docs:
    locals_ = [stage.local_get(d) for d in docs]
    wanted: list[Any] = []
    for v in locals_:
        wanted.extend(_values(v))
    foreign, encode = await fetch(stage.source, stage.foreign, _unique(wanted))
    get = getter(tuple(stage.foreign.split(".")), True)
    index: dict[Any, list[int]] = {}
    for i, row in enumerate(foreign):
        for v in _values(get(row)):
            hits = index.setdefault(null_key(v), [])
            if not hits or hits[-1] != i:
                hits.append(i)
    out = []
    parts = tuple(stage.into.split("."))

    for doc, local in zip(docs, locals_, strict=True):
        found: set[int] = set()
        for v in _values(local):
            found.update(index.get(null_key(encode(v)), ()))
        new = dict(doc)
        _set_path(new, parts, [foreign[i] for i in sorted(found)])
        out.append(new)
    return out


def _values(v: Any) -> list[Any]:
    """Values a join key stands for: each element of an array, missing as null."""
    if v is MISSING:
        return [None]
    if isinstance(v, Fan | list):
        return [None if x is MISSING else x for x in v] or [None]
    return [v]


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in values:
        k = null_key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


def compile_pipeline(
    table: FieldTable,
    pipeline: Sequence[Mapping[str, Any]],
    alive: Callable[[Node], Node] = lambda n: n,
) -> Pipeline:
    """Validate and compile ``pipeline`` (Python field names) for the model of ``table``."""
    if isinstance(pipeline, Mapping | str | bytes) or not isinstance(pipeline, Sequence):
        raise QueryError(f"a pipeline is a list of stage documents, got {type(pipeline).__name__}")
    extra = table.model.model_config.get("extra")
    known: frozenset[str] | None = None if extra == "allow" else frozenset(table.by_name)
    stages: list[Stage] = []
    for i, spec in enumerate(pipeline):
        stage = parse_stage(i, spec, known, table if i == 0 else None)
        stages.append(stage)
        known = stage.known
    first = stages[0] if stages else None
    where: Node = first.where if isinstance(first, MatchStage) and first.run is None else MatchAll()
    start = 1 if isinstance(first, MatchStage) and first.run is None else 0
    return Pipeline(table, alive(where), tuple(stages), start, _renamer(table))


async def no_fetch(name: str, path: str, values: Sequence[Any]) -> tuple[list[Row], Any]:
    return [], lambda v: v


__all__ = ["Fetch", "Pipeline", "compile_pipeline", "no_fetch"]
