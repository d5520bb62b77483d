"""Pipeline stages parsed and validated once into immutable plan nodes with compiled closures.

Every stage knows its position (``index``) and operator (``op``) for messages and ``explain``;
``run`` transforms the whole list of documents (compiled once, no per-row interpretation of the
stage spec).  ``known`` tracks which top-level fields exist after each stage so that a misspelt
field path is an error naming it rather than a silent null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..query.ast import FieldRef, MatchAll, Node
from ..query.fields import FieldInfo, FieldTable
from ..query.parse import parse_filter
from ..query.predicate import compile_filter
from ..query.values import MISSING, getter
from .accumulators import Accumulator, parse_accumulator
from .expr import Expr, Scope, compile_expr, compile_path, field_path
from .fastgroup import compile_group
from .order import null_key

Docs = list[dict[str, Any]]
Run = Callable[[Docs], Docs]

STAGES = (
    "$match", "$project", "$addFields", "$set", "$unset", "$group", "$sort", "$skip", "$limit",
    "$unwind", "$lookup", "$count", "$sortByCount",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Stage:
    index: int
    op: str
    spec: Any
    #: Top-level fields after this stage (``None``: not known).
    known: frozenset[str] | None
    run: Run | None = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"pipeline[{self.index}] ({self.op})"


@dataclass(frozen=True, kw_only=True)
class MatchStage(Stage):
    where: Node


@dataclass(frozen=True, kw_only=True)
class ProjectStage(Stage):
    #: "include", "exclude"; ``fields`` maps output name → "$path" / 1 / 0 / expression spec.
    mode: str
    fields: tuple[tuple[str, Any], ...]
    keep_id: bool


@dataclass(frozen=True, kw_only=True)
class GroupStage(Stage):
    key: Any
    accumulators: tuple[Accumulator, ...]


@dataclass(frozen=True, kw_only=True)
class SortStage(Stage):
    keys: tuple[tuple[str, int], ...]


@dataclass(frozen=True, kw_only=True)
class PageStage(Stage):
    """``$skip`` / ``$limit``."""

    n: int


@dataclass(frozen=True, kw_only=True)
class CountStage(Stage):
    name: str


@dataclass(frozen=True, kw_only=True)
class SortByCountStage(Stage):
    key: Any


@dataclass(frozen=True, kw_only=True)
class LookupStage(Stage):
    source: str
    local: str
    foreign: str
    into: str
    local_get: Expr = field(repr=False, compare=False)


# -- helpers -----------------------------------------------------------------------------------
class OpenTable(FieldTable):
    """Filter fields of computed documents: any dotted path, untyped, heads checked if known."""

    def __init__(self, known: frozenset[str] | None, where: str) -> None:
        class _Open(BaseModel):
            pass

        self.model = _Open
        self.by_name = {}
        self.by_source = {}
        self._known = known
        self._where = where

    def resolve(self, dotted: str) -> FieldInfo:
        parts = tuple(dotted.split("."))
        if any(not p for p in parts):
            raise Scope(self._where).error(f"invalid field path {dotted!r}")
        if self._known is not None and parts[0] not in self._known:
            known = ", ".join(sorted(self._known))
            raise Scope(self._where).error(
                f"unknown field {parts[0]!r} in $match (known fields: {known})"
            )
        return FieldInfo(FieldRef(parts, dotted, "any"), object)


def _name(scope: Scope, name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or name.startswith("$"):
        raise scope.error(f"{what} must be a non-empty string not starting with '$', got {name!r}")
    return name


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _set_path(doc: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set ``parts`` in ``doc`` copying the objects on the way (documents share sub-objects)."""
    head = parts[0]
    if len(parts) == 1:
        if value is MISSING:
            doc.pop(head, None)
        else:
            doc[head] = value
        return
    sub = doc.get(head)
    if isinstance(sub, list):
        items = []
        for item in sub:
            if isinstance(item, dict):
                item = dict(item)
                _set_path(item, parts[1:], value)
            items.append(item)
        doc[head] = items
        return
    sub = dict(sub) if isinstance(sub, dict) else {}
    _set_path(sub, parts[1:], value)
    doc[head] = sub


def _remove_path(doc: dict[str, Any], parts: Sequence[str]) -> None:
    head = parts[0]
    if len(parts) == 1:
        doc.pop(head, None)
        return
    sub = doc.get(head)
    if isinstance(sub, dict):
        sub = dict(sub)
        _remove_path(sub, parts[1:])
        doc[head] = sub
    elif isinstance(sub, list):
        items = []
        for item in sub:
            if isinstance(item, dict):
                item = dict(item)
                _remove_path(item, parts[1:])
            items.append(item)
        doc[head] = items


# -- $match ------------------------------------------------------------------------------------
def _match(index: int, spec: Any, known: frozenset[str] | None, table: FieldTable | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($match)")
    if not isinstance(spec, Mapping):
        raise scope.error(f"$match takes a filter document, got {spec!r}")
    try:
        if table is not None:
            where = parse_filter(table, spec)  # first stage: against the schema, source names
        else:
            where = parse_filter(OpenTable(known, scope.where), spec)
    except Exception as exc:
        if str(exc).startswith(scope.where):
            raise
        raise scope.error(str(exc)) from None
    run = compile_filter(where).scan if table is None else None

    return MatchStage(index=index, op="$match", spec=spec, known=known, run=run, where=where)


# -- $project / $unset / $addFields ------------------------------------------------------------
def _is_flag(v: Any) -> bool:
    return isinstance(v, bool | int | float) and not isinstance(v, str)


def _flatten(spec: Mapping[str, Any], prefix: str, scope: Scope) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in spec.items():
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise scope.error(f"invalid field name {key!r}")
        path = prefix + key
        if (
            isinstance(value, Mapping)
            and value
            and not any(isinstance(k, str) and k.startswith("$") for k in value)
        ):
            out.extend(_flatten(value, path + ".", scope))
        elif isinstance(value, Mapping) and not value:
            raise scope.error(f"field {path!r}: an empty object is not a projection")
        else:
            out.append((path, value))
    return out


def _project(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($project)", known)
    if not isinstance(spec, Mapping) or not spec:
        raise scope.error(f"$project takes a non-empty document, got {spec!r}")
    items = _flatten(spec, "", scope)
    keep_id = True
    includes: list[str] = []
    excludes: list[str] = []
    computed: list[tuple[str, Any]] = []
    for path, value in items:
        if path == "_id" and _is_flag(value):
            keep_id = bool(value)
        elif _is_flag(value):
            (includes if value else excludes).append(path)
        else:
            computed.append((path, value))
    if excludes and (includes or computed):
        raise scope.error(
            f"cannot mix exclusion ({excludes[0]!r}) with inclusion or computed fields "
            "(only _id may be excluded in an inclusion projection)"
        )
    if excludes or (not includes and not computed):
        drop = [p for p in excludes] + ([] if keep_id else ["_id"])
        stage = _unset_run(drop)
        fields = tuple((p, 0) for p in drop)
        after = None if known is None else known - {p for p in drop if "." not in p}
        return ProjectStage(
            index=index, op="$project", spec=spec, known=after, run=stage, mode="exclude",
            fields=fields, keep_id=keep_id,
        )  # fmt: skip
    for path in includes:
        if known is not None and _top(path) not in known:
            raise scope.error(
                f"unknown field {_top(path)!r} (known fields: {', '.join(sorted(known))})"
            )
    exprs = [(tuple(p.split(".")), compile_expr(v, scope)) for p, v in computed]
    tree: dict[str, Any] = {}
    for path in includes:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is True:
                break
        else:
            node[parts[-1]] = True

    def include(doc: Any, node: dict[str, Any]) -> Any:
        if isinstance(doc, list):
            return [include(d, node) for d in doc if isinstance(d, dict | list)]
        out = {}
        for key, value in doc.items():
            want = node.get(key)
            if want is True:
                out[key] = value
            elif want is not None and isinstance(value, dict | list):
                out[key] = include(value, want)
        return out

    def run(docs: Docs) -> Docs:
        result = []
        for doc in docs:
            out: dict[str, Any] = {}
            if keep_id and "_id" in doc:
                out["_id"] = doc["_id"]
            out.update(include(doc, tree))
            for parts, f in exprs:
                _set_path(out, parts, f(doc))
            result.append(out)
        return result

    names = {_top(p) for p in includes} | {_top(p) for p, _ in computed}
    if keep_id and (known is None or "_id" in known):
        names.add("_id")
    fields = tuple([(p, 1) for p in includes] + computed)
    return ProjectStage(
        index=index, op="$project", spec=spec, known=frozenset(names), run=run, mode="include",
        fields=fields, keep_id=keep_id,
    )  # fmt: skip


def _unset_run(paths: Sequence[str]) -> Run:
    split = [tuple(p.split(".")) for p in paths]

    def run(docs: Docs) -> Docs:
        result = []
        for doc in docs:
            out = dict(doc)
            for parts in split:
                _remove_path(out, parts)
            result.append(out)
        return result

    return run


def _unset(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($unset)")
    paths = [spec] if isinstance(spec, str) else spec
    if not isinstance(paths, list | tuple) or not paths:
        raise scope.error(f"$unset takes a field name or a non-empty list of them, got {spec!r}")
    for p in paths:
        _name(scope, p, "each $unset field")
    after = None if known is None else known - {p for p in paths if "." not in p}
    # An exclusion projection by another name: SQL pushdown drops the columns.
    return ProjectStage(
        index=index, op="$unset", spec=spec, known=after, run=_unset_run(paths), mode="exclude",
        fields=tuple((p, 0) for p in paths), keep_id=True,
    )  # fmt: skip


def _add_fields(index: int, op: str, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ({op})", known)
    if not isinstance(spec, Mapping) or not spec:
        raise scope.error(f"{op} takes a non-empty document, got {spec!r}")
    exprs = []
    for path, value in _flatten(spec, "", scope):
        exprs.append((tuple(path.split(".")), compile_expr(value, scope)))

    def run(docs: Docs) -> Docs:
        result = []
        for doc in docs:
            values = [f(doc) for _, f in exprs]
            out = dict(doc)
            for (parts, _), v in zip(exprs, values, strict=True):
                _set_path(out, parts, v)
            result.append(out)
        return result

    after = None if known is None else known | {parts[0] for parts, _ in exprs}
    return Stage(index=index, op=op, spec=spec, known=after, run=run)


# -- $group / $sortByCount / $count ------------------------------------------------------------
def general_grouper(key: Expr, accs: Sequence[Accumulator]) -> Run:
    """The reference ``$group``: one state object per group and accumulator.  Stages run the
    generated equivalent (:mod:`.fastgroup`); tests compare the two."""

    def run(docs: Docs) -> Docs:
        groups: dict[Any, tuple[Any, list[Any]]] = {}
        for doc in docs:
            value = key(doc)
            k = null_key(value)
            entry = groups.get(k)
            if entry is None:
                entry = groups[k] = (None if value is MISSING else value, [a.new() for a in accs])
            for acc, state in zip(accs, entry[1], strict=True):
                state.add(acc.expr(doc))
        out = []
        for value, states in groups.values():
            row = {"_id": value}
            for acc, state in zip(accs, states, strict=True):
                row[acc.name] = state.result()
            out.append(row)
        return out

    return run


def _group(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($group)", known)
    if not isinstance(spec, Mapping) or "_id" not in spec:
        raise scope.error("$group needs an _id (null, a field path or an object of expressions)")
    compile_expr(spec["_id"], scope)  # validates the key
    accs = []
    for name, sub in spec.items():
        if name == "_id":
            continue
        _name(scope, name, "a $group output field")
        if "." in name:
            raise scope.error(f"$group output field {name!r} cannot contain '.'")
        accs.append(parse_accumulator(name, sub, scope))
    known_after = frozenset(["_id", *(a.name for a in accs)])
    return GroupStage(
        index=index, op="$group", spec=spec, known=known_after,
        run=compile_group(spec["_id"], accs, scope).run,
        key=spec["_id"], accumulators=tuple(accs),
    )  # fmt: skip


def _sort_by_count(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($sortByCount)", known)
    if field_path(spec) is None and not (isinstance(spec, Mapping) and spec):
        raise scope.error(f"$sortByCount takes a field path or an expression, got {spec!r}")
    count = parse_accumulator("count", {"$sum": 1}, scope)
    compile_expr(spec, scope)  # validates the key
    group = compile_group(spec, [count], scope).run

    def run(docs: Docs) -> Docs:
        return sorted(group(docs), key=lambda d: -d["count"])

    return SortByCountStage(
        index=index, op="$sortByCount", spec=spec, known=frozenset(["_id", "count"]), run=run,
        key=spec,
    )  # fmt: skip


def _count(index: int, spec: Any) -> Stage:
    scope = Scope(f"pipeline[{index}] ($count)")
    name = _name(scope, spec, "$count")
    if "." in name:
        raise scope.error(f"$count field {name!r} cannot contain '.'")

    def run(docs: Docs) -> Docs:
        return [{name: len(docs)}] if docs else []

    return CountStage(
        index=index, op="$count", spec=spec, known=frozenset([name]), run=run, name=name
    )


# -- $sort / $skip / $limit --------------------------------------------------------------------
def _sort(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($sort)", known)
    if not isinstance(spec, Mapping) or not spec:
        raise scope.error(f"$sort takes a non-empty {{field: 1 | -1}} document, got {spec!r}")
    keys: list[tuple[str, int]] = []
    for path, direction in spec.items():
        if direction not in (1, -1) or isinstance(direction, bool):
            raise scope.error(f"sort {path!r}: direction must be 1 or -1, got {direction!r}")
        if not isinstance(path, str):
            raise scope.error(f"sort keys are field paths, got {path!r}")
        compile_path(path, scope)  # validates
        keys.append((path, int(direction)))
    getters = [(getter(tuple(p.split(".")), False), d) for p, d in keys]

    def run(docs: Docs) -> Docs:
        out = list(docs)
        for get, d in reversed(getters):
            out.sort(key=lambda doc, get=get: null_key(get(doc)), reverse=d == -1)  # type: ignore[misc]
        return out

    return SortStage(index=index, op="$sort", spec=spec, known=known, run=run, keys=tuple(keys))


def _page(index: int, op: str, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ({op})")
    low = 1 if op == "$limit" else 0
    if type(spec) is not int or spec < low:
        what = "positive" if low else "non-negative"
        raise scope.error(f"{op} takes a {what} integer, got {spec!r}")
    n = spec

    def run(docs: Docs) -> Docs:
        return docs[:n] if op == "$limit" else docs[n:]

    return PageStage(index=index, op=op, spec=spec, known=known, run=run, n=n)


# -- $unwind / $lookup -------------------------------------------------------------------------
def _unwind(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($unwind)", known)
    options = {"path": spec} if isinstance(spec, str) else spec
    if not isinstance(options, Mapping) or "path" not in options:
        raise scope.error(f"$unwind takes '$path' or {{path: '$path', ...}}, got {spec!r}")
    unknown = set(options) - {"path", "includeArrayIndex", "preserveNullAndEmptyArrays"}
    if unknown:
        raise scope.error(f"unknown $unwind option(s) {sorted(unknown)!r}")
    path = field_path(options["path"])
    if path is None:
        raise scope.error(f"$unwind path must start with '$', got {options['path']!r}")
    compile_path(path, scope)
    index_field = options.get("includeArrayIndex")
    if index_field is not None:
        index_field = _name(scope, index_field, "includeArrayIndex")
    preserve = options.get("preserveNullAndEmptyArrays", False)
    if not isinstance(preserve, bool):
        raise scope.error(f"preserveNullAndEmptyArrays takes true or false, got {preserve!r}")
    parts = tuple(path.split("."))
    get = getter(parts, False)
    idx_parts = None if index_field is None else tuple(index_field.split("."))

    def run(docs: Docs) -> Docs:
        out = []
        for doc in docs:
            value = get(doc)
            if isinstance(value, list) and value:
                for i, item in enumerate(value):
                    new = dict(doc)
                    _set_path(new, parts, item)
                    if idx_parts is not None:
                        _set_path(new, idx_parts, i)
                    out.append(new)
            elif isinstance(value, list) or value is None or value is MISSING:
                if preserve:
                    new = dict(doc)
                    if isinstance(value, list):
                        _set_path(new, parts, MISSING)
                    if idx_parts is not None:
                        _set_path(new, idx_parts, None)
                    out.append(new)
            else:
                new = dict(doc)
                if idx_parts is not None:
                    _set_path(new, idx_parts, None)
                out.append(new)
        return out

    after = known if known is None or idx_parts is None else known | {idx_parts[0]}
    return Stage(index=index, op="$unwind", spec=spec, known=after, run=run)


def _lookup(index: int, spec: Any, known: frozenset[str] | None) -> Stage:
    scope = Scope(f"pipeline[{index}] ($lookup)", known)
    need = {"from", "localField", "foreignField", "as"}
    if not isinstance(spec, Mapping) or set(spec) != need:
        got = sorted(spec) if isinstance(spec, Mapping) else spec
        raise scope.error(
            f"$lookup takes exactly {{from, localField, foreignField, as}} "
            f"(the pipeline form is not supported), got {got!r}"
        )
    source = _name(scope, spec["from"], "$lookup from")
    local = _name(scope, spec["localField"], "$lookup localField")
    foreign = _name(scope, spec["foreignField"], "$lookup foreignField")
    into = _name(scope, spec["as"], "$lookup as")
    local_get = compile_path(local, scope)
    after = None if known is None else known | {_top(into)}
    return LookupStage(
        index=index, op="$lookup", spec=spec, known=after, run=None, source=source,
        local=local, foreign=foreign, into=into, local_get=local_get,
    )  # fmt: skip


def parse_stage(
    index: int, stage: Any, known: frozenset[str] | None, table: FieldTable | None
) -> Stage:
    """Parse stage ``index``; ``table`` is given for a first-stage ``$match`` only."""
    if not isinstance(stage, Mapping) or len(stage) != 1:
        raise Scope(f"pipeline[{index}]").error(
            f"a stage is a document with exactly one $operator key, got {stage!r}"
        )
    ((op, spec),) = stage.items()
    if op == "$match":
        return _match(index, spec, known, table)
    if op == "$project":
        return _project(index, spec, known)
    if op in ("$addFields", "$set"):
        return _add_fields(index, op, spec, known)
    if op == "$unset":
        return _unset(index, spec, known)
    if op == "$group":
        return _group(index, spec, known)
    if op == "$sort":
        return _sort(index, spec, known)
    if op in ("$skip", "$limit"):
        return _page(index, op, spec, known)
    if op == "$unwind":
        return _unwind(index, spec, known)
    if op == "$lookup":
        return _lookup(index, spec, known)
    if op == "$count":
        return _count(index, spec)
    if op == "$sortByCount":
        return _sort_by_count(index, spec, known)
    raise Scope(f"pipeline[{index}]").error(
        f"unsupported stage {op!r} (supported: {' '.join(STAGES)})"
    )


__all__ = [
    "STAGES",
    "CountStage",
    "Docs",
    "GroupStage",
    "LookupStage",
    "MatchAll",
    "MatchStage",
    "OpenTable",
    "PageStage",
    "ProjectStage",
    "SortByCountStage",
    "SortStage",
    "Stage",
    "general_grouper",
    "parse_stage",
]
