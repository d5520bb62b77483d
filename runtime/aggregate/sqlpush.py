"""The longest SQL-expressible prefix of a pipeline, compiled into one SELECT (any dialect).

Pushed: ``$match`` (the first one against the schema, later ones against the columns computed
so far — WHERE, or HAVING after a ``$group``), ``$project`` (inclusion, exclusion, renames of
top-level fields), ``$group`` (``_id`` null / a field path / an object of top-level field paths,
with ``$sum $avg $min $max $count`` on typed scalar fields), ``$sort``, ``$skip``, ``$limit``,
``$count`` and ``$sortByCount`` on a field path, ``$unwind`` of a top-level field (arrays of
scalars as a join on their elements — :meth:`~xrepo.runtime.sql.dialect.Dialect.unwind` —,
scalars as themselves) and ``$lookup`` on top-level scalar columns of a foreign table the
backend described (:mod:`.sqljoin`: a correlated subquery aggregating the matching rows into a
JSON array, only carried along and decoded afterwards).  The first stage that does not fit ends
the prefix; the rest runs in memory (:mod:`.engine`) on the decoded result.

Each stage edits the current query level (its SELECT list, WHERE, GROUP BY, HAVING, ORDER BY,
LIMIT/OFFSET) while SQL's clause order still equals the pipeline's order, and otherwise wraps it
as a subquery.  Parameters are numbered (``?NNN`` in SQLite, ``$N`` in PostgreSQL) so that an
expression's text can be reused in several clauses; parameters no clause kept are pruned.
Results are decoded per column into the values the memory engine sees (dates as dates,
booleans as bools, nested objects under Python names).
"""

from __future__ import annotations

import contextlib
import decimal
import functools
import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, TypeAdapter

from ..errors import QueryError, UnsupportedQueryError
from ..query.ast import FieldRef, Kind
from ..query.fields import FieldInfo, FieldTable, _descend
from ..query.parse import parse_filter
from ..query.values import type_class
from ..sql.compiler import SQLCompiler
from ..sql.dialect import Dialect, SQLiteDialect
from .engine import Pipeline
from .expr import field_path
from .sqljoin import ForeignTable
from .stages import (
    CountStage,
    GroupStage,
    LookupStage,
    MatchStage,
    PageStage,
    ProjectStage,
    SortByCountStage,
    SortStage,
    Stage,
)

Decode = Callable[[Any], Any]
#: The foreign tables a ``$lookup`` may join in SQL, by name (``None``: unknown, in memory).
Foreign = Callable[[str], ForeignTable | None]
_SCALAR_KINDS = frozenset(
    {"str", "int", "float", "decimal", "bool", "date", "datetime", "time", "timedelta", "uuid"}
)
_NUMERIC = frozenset({"int", "float", "decimal"})
_CLASS_OF_KIND = {
    "int": "num", "float": "num", "decimal": "num", "str": "str", "bool": "bool",
    "date": "date", "datetime": "datetime", "time": "time", "timedelta": "timedelta",
    "uuid": "uuid",
}  # fmt: skip


def _no_foreign(name: str) -> ForeignTable | None:
    return None


class _NotPushable(Exception):
    """This stage (or this form of it) has no SQL translation here."""


def _same(v: Any) -> Any:
    return v


@dataclass(frozen=True)
class Col:
    """One output field of the current level."""

    sql: str
    kind: Kind
    decode: Decode
    array: bool = False
    #: Schema of the field (nested paths, filters); re-rooted at this column's name.
    info: FieldInfo | None = None
    #: Object-valued ``_id`` of a ``$group``: its parts, each a column of its own.
    parts: dict[str, Col] | None = None
    #: Selected only to keep a subquery's order (not part of the documents).
    hidden: bool = False
    #: A native SQL array (PostgreSQL), not a JSON one.
    native: bool = False
    #: SQL counting the values a float ``$sum`` added (selected as ``name.__n``): a sum of
    #: nothing is the int 0, as in memory, where the SQL sum is a float 0.0.
    witness: str | None = None
    #: SQL true where the document has no such field (an ``$unwind`` emptied it): selected
    #: as ``name.__gone``, the key is then left out of the decoded document.
    gone: str | None = None
    #: Only carried along and decoded (a ``$lookup``'s JSON text): no later stage reads it.
    opaque: bool = False
    #: Decoder of one element of a list (or tuple) field, in stored order: what an
    #: ``$unwind`` of it needs (sets, whose memory order is not the stored one, have none).
    element: Decode | None = None

    @property
    def sortable(self) -> bool:
        return (
            self.parts is None and not self.array and not self.opaque and self.kind in _SCALAR_KINDS
        )


@dataclass
class _Level:
    source: str
    cols: dict[str, Col]
    where: list[str] = field(default_factory=list)
    grouped: bool = False
    group_by: list[str] = field(default_factory=list)
    having: list[str] = field(default_factory=list)
    #: (SQL, direction, column name, kind) of each ORDER BY key.
    order: list[tuple[str, int, str, Kind]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0

    @property
    def paged(self) -> bool:
        return self.limit is not None or self.offset > 0


class _NumberedSQLite(SQLiteDialect):
    def placeholder(self, index: int) -> str:
        return f"?{index}"


class _Compiler(SQLCompiler):
    """The filter compiler with column names resolved to the current level's expressions."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        self.columns: dict[str, str] = {}
        #: Columns of the current level holding native (PostgreSQL) arrays.
        self.natives: frozenset[str] = frozenset()

    def locate(self, ref: FieldRef) -> tuple[str, tuple[str, ...], bool]:
        if self._elements or not ref.path or ref.path[0] not in self.columns:
            return super().locate(ref)
        head = ref.path[0]
        return self.columns[head], ref.path[1:], head in self.natives

    def resolve(self, cols: Mapping[str, Col]) -> None:
        self.columns = _columns(cols)
        self.natives = frozenset(n for n, c in cols.items() if c.native)


class _Exact(FieldInfo):
    """Filter values must already have the column's type (later stages do not coerce)."""

    __slots__ = ()

    def coerce(self, value: Any) -> Any:
        if value is None:
            return None
        want = _CLASS_OF_KIND.get(self.ref.kind)
        if want is None or type_class(value) != want:
            raise QueryError(f"{self.ref.name!r}: {value!r} needs a {self.ref.kind}")
        return value


class _ShapeTable(FieldTable):
    def __init__(self, cols: Mapping[str, Col]) -> None:
        self.model = BaseModel
        self.by_name = {}
        self.by_source = {}
        self.cols = cols

    def resolve(self, dotted: str) -> FieldInfo:
        head, _, rest = dotted.partition(".")
        col = self.cols.get(head)
        if col is None or col.hidden or col.opaque:
            raise QueryError(f"unknown column {head!r}")
        if col.parts is not None:
            part = col.parts.get(rest)
            if part is None:
                raise QueryError(f"{dotted!r} is not a part of {head!r}")
            return _Exact(FieldRef((dotted,), dotted, part.kind), object)
        if col.info is not None:
            base = _rooted(col.info, head)
            info = _descend(base, rest, dotted) if rest else base
            return _Exact(info.ref, info.py_type, info.children, info.enum_type)
        if rest:
            raise QueryError(f"{head!r} has no nested fields in SQL")
        return _Exact(FieldRef((head,), dotted, col.kind, col.array), object)


def _rooted(info: FieldInfo, name: str) -> FieldInfo:
    """``info`` as the column ``name`` of the current level (renames move fields)."""
    ref = replace(info.ref, path=(name,), name=name)
    return FieldInfo(ref, info.py_type, info.children, info.enum_type)


@functools.cache
def _field_decoder(model: type[BaseModel], name: str, is_json: bool) -> Decode:
    from ..query.fields import plain

    annotation: Any = model.model_fields[name].annotation
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def decode(value: Any) -> Any:
        if value is None:
            return None
        if is_json and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        return plain(adapter.dump_python(adapter.validate_python(value)))

    return decode


@functools.cache
def _element_decoder(model: type[BaseModel], name: str) -> Decode | None:
    from ..query.fields import _unwrap, plain

    tp = _unwrap(model.model_fields[name].annotation)
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    if typing.get_origin(tp) not in (list, tuple) or len(args) != 1:
        return None
    optional: Any = args[0] | None
    adapter: TypeAdapter[Any] = TypeAdapter(optional)

    def decode(value: Any) -> Any:
        return None if value is None else plain(adapter.dump_python(adapter.validate_python(value)))

    return decode


def _to_decimal(v: Any) -> Any:
    return None if v is None else decimal.Decimal(str(v))


def _to_int(v: Any) -> Any:
    return None if v is None else int(v)


def _to_float(v: Any) -> Any:
    return None if v is None else float(v)


def _base_level(pipe: Pipeline, table_sql: str, d: Dialect) -> _Level:
    cols: dict[str, Col] = {}
    t: FieldTable = pipe.table
    for name, info in t.by_name.items():
        ref = info.ref
        is_json = ref.array or ref.kind in ("object", "any")
        rooted = FieldInfo(replace(ref, path=(name,)), info.py_type, info.children, info.enum_type)
        cols[name] = Col(
            d.column(ref.path[0]), ref.kind, _field_decoder(t.model, name, is_json), ref.array,
            rooted, native=ref.array and d.native_array(ref.path[0]),
            element=_element_decoder(t.model, name) if ref.array else None,
        )  # fmt: skip
    return _Level(table_sql, cols)


@dataclass(frozen=True)
class Pushdown:
    sql: str
    params: list[Any]
    #: Index of the first stage left for memory.
    pushed: int
    cols: dict[str, Col]

    def decode(self, row: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, col in self.cols.items():
            if col.hidden:
                continue
            if col.parts is not None:
                out[name] = {p: c.decode(row[f"{name}.{p}"]) for p, c in col.parts.items()}
            elif col.gone is not None and row[f"{name}.__gone"]:
                continue
            elif col.witness is not None and not row[f"{name}.__n"]:
                out[name] = 0
            else:
                out[name] = col.decode(row[name])
        return out


class _Builder:
    def __init__(
        self, pipe: Pipeline, dialect: Dialect, table_sql: str, foreign: Foreign = _no_foreign
    ) -> None:
        d = _NumberedSQLite() if isinstance(dialect, SQLiteDialect) else dialect
        self.foreign = foreign
        #: Table functions and subqueries joined so far (unique aliases).
        self.joins = 0
        self.d = d
        self.c = _Compiler(d)
        self.level = _base_level(pipe, table_sql, d)
        self.level.where.append(self.c.where(pipe.where))
        self.wraps = 0
        #: Index of the first stage not pushed.
        self.pushed = pipe.start

    # -- rendering -----------------------------------------------------------------------------
    def render(self, level: _Level) -> str:
        q = self.d.quote
        items: list[str] = []
        for name, col in level.cols.items():
            if col.parts is not None:
                items.extend(f"{c.sql} AS {q(name + '.' + p)}" for p, c in col.parts.items())
            else:
                items.append(f"{col.sql} AS {q(name)}")
                if col.witness is not None:
                    items.append(f"{col.witness} AS {q(name + '.__n')}")
                if col.gone is not None:
                    items.append(f"{col.gone} AS {q(name + '.__gone')}")
        sql = f"SELECT {', '.join(items) or 'NULL'} FROM {level.source}"
        where = [w for w in level.where if w != self.d.true]
        if where:
            sql += " WHERE " + " AND ".join(where)
        if level.group_by:
            sql += " GROUP BY " + ", ".join(level.group_by)
        if level.having:
            sql += " HAVING " + " AND ".join(level.having)
        if level.order:
            sql += " ORDER BY " + ", ".join(
                self.d.order_term(self.d.ordered(s, k), d) for s, d, _, k in level.order
            )
        limit = self.c.param(level.limit) if level.limit is not None else None
        offset = self.c.param(level.offset) if level.offset else None
        paging = self.d.limit_offset(limit, offset)
        return f"{sql} {paging}" if paging else sql

    def wrap(self, keep_order: bool) -> None:
        old = self.level
        self.wraps += 1
        alias = f"_s{self.wraps}"
        q = self.d.quote

        def moved(name: str, col: Col) -> Col:
            if col.parts is not None:
                parts = {
                    p: replace(c, sql=f"{alias}.{q(name + '.' + p)}") for p, c in col.parts.items()
                }
                return replace(col, sql="", parts=parts)
            witness = None if col.witness is None else f"{alias}.{q(name + '.__n')}"
            gone = None if col.gone is None else f"{alias}.{q(name + '.__gone')}"
            return replace(col, sql=f"{alias}.{q(name)}", witness=witness, gone=gone)

        cols = {n: moved(n, c) for n, c in old.cols.items()}
        order = []
        if keep_order:
            by_sql = {c.sql: n for n, c in old.cols.items() if c.parts is None}
            for sql, direction, _, kind in old.order:
                name = by_sql.get(sql)
                if name is None:  # projected away: carried along as a hidden column
                    name = by_sql[sql] = f"_o{len(old.cols)}"
                    old.cols[name] = Col(sql, kind, _same, hidden=True)
                    cols[name] = replace(old.cols[name], sql=f"{alias}.{q(name)}")
                order.append((cols[name].sql, direction, name, kind))
        self.level = _Level(f"({self.render(old)}) AS {alias}", cols, order=order)

    def sql_of(self, path: str) -> tuple[str, Col]:
        """SQL and column description of ``path`` at the current level (typed values only)."""
        head, _, rest = path.partition(".")
        col = self.level.cols.get(head)
        if col is None or col.hidden or col.opaque:
            raise _NotPushable(f"unknown field {head!r}")
        if col.parts is not None:
            part = col.parts.get(rest)
            if part is None:
                raise _NotPushable(f"{path!r}")
            return part.sql, part
        if not rest:
            return col.sql, col
        if col.info is None:
            raise _NotPushable(f"{path!r}: nested path of a computed field")
        info = _descend(_rooted(col.info, head), rest, path)
        self.c.resolve(self.level.cols)
        sql = self.c.expr(info.ref)
        model = info.py_type
        decode: Decode = _same
        if info.ref.kind in _SCALAR_KINDS and isinstance(model, type):
            optional: Any = model | None
            adapter: TypeAdapter[Any] = TypeAdapter(optional)
            decode = adapter.validate_python
        return sql, Col(sql, info.ref.kind, decode, info.ref.array, info)

    # -- stages --------------------------------------------------------------------------------
    def push(self, stage: Stage) -> None:
        if isinstance(stage, MatchStage):
            self.match(stage)
        elif isinstance(stage, SortStage):
            self.sort(stage.keys)
        elif isinstance(stage, PageStage):
            self.page(stage.op, stage.n)
        elif isinstance(stage, ProjectStage):
            self.project(stage)
        elif isinstance(stage, GroupStage):
            self.group(stage.key, [(a.name, a.op, a.arg) for a in stage.accumulators])
        elif isinstance(stage, CountStage):
            self.group(None, [(stage.name, "$count", {})], with_id=False)
        elif isinstance(stage, SortByCountStage):
            self.group(stage.key, [("count", "$count", {})], require_path=True)
            self.sort((("count", -1),))
        elif stage.op == "$unwind":
            self.unwind(stage.spec)
        elif isinstance(stage, LookupStage):
            self.lookup(stage)
        else:
            raise _NotPushable(stage.op)

    def match(self, stage: MatchStage) -> None:
        if any(c.gone is not None for c in self.level.cols.values()) and (
            "$exists" in repr(stage.spec) or "$type" in repr(stage.spec)
        ):
            raise _NotPushable("missing and null differ")  # the columns hold NULL for both
        try:
            where = parse_filter(_ShapeTable(self.level.cols), stage.spec)
        except QueryError as exc:
            raise _NotPushable(str(exc)) from None
        if self.level.paged:
            self.wrap(keep_order=True)
        self.c.resolve(self.level.cols)
        try:
            sql = self.c.where(where)
        except UnsupportedQueryError as exc:
            raise _NotPushable(str(exc)) from None
        (self.level.having if self.level.grouped else self.level.where).append(sql)

    def sort(self, keys: tuple[tuple[str, int], ...]) -> None:
        resolved = []
        for path, direction in keys:
            sql, col = self.sql_of(path)
            if not col.sortable:
                raise _NotPushable(f"sort on {path!r}")
            resolved.append((sql, direction, path, col.kind))
        if self.level.paged:
            self.wrap(keep_order=False)
            resolved = [(self.sql_of(p)[0], d, p, k) for _, d, p, k in resolved]
        # The memory sort is stable: the previous order breaks ties.
        self.level.order = resolved + [o for o in self.level.order if o[2] not in dict(keys)]

    def page(self, op: str, n: int) -> None:
        lv = self.level
        if op == "$limit":
            lv.limit = n if lv.limit is None else min(lv.limit, n)
        else:
            lv.offset += n
            if lv.limit is not None:
                lv.limit = max(lv.limit - n, 0)

    def project(self, stage: ProjectStage) -> None:
        cols = self.level.cols
        if stage.mode == "exclude":
            drop = {p for p, _ in stage.fields}
            if any("." in p for p in drop):
                raise _NotPushable("nested exclusion")
            new = {n: c for n, c in cols.items() if n not in drop}
        else:
            new = {}
            if stage.keep_id and "_id" in cols:
                new["_id"] = cols["_id"]
            for out, value in stage.fields:
                if "." in out:
                    raise _NotPushable("nested output field")
                src = out if value == 1 else field_path(value)
                if src is None or "." in src or src not in cols or cols[src].hidden:
                    raise _NotPushable(f"computed field {out!r}")
                new[out] = cols[src]
        self.level.cols = new

    def group(
        self,
        key: Any,
        accs: list[tuple[str, str, Any]],
        *,
        require_path: bool = False,
        with_id: bool = True,
    ) -> None:
        if self.level.grouped or self.level.paged:
            self.wrap(keep_order=False)
        lv = self.level
        self.c.resolve(lv.cols)
        id_col: Col | None
        keys: list[str] = []
        if key is None and not require_path:
            id_col = None
        elif field_path(key) is not None:
            sql, col = self.sql_of(str(field_path(key)))
            if not col.sortable:
                raise _NotPushable("group key")
            id_col = replace(col, sql=sql, gone=None)  # a missing key groups as null
            keys.append(sql)
        elif isinstance(key, Mapping) and key and not require_path:
            parts = {}
            for name, sub in key.items():
                path = field_path(sub)
                if path is None or "." in path:
                    raise _NotPushable("group key part")
                sql, col = self.sql_of(path)
                if not col.sortable:
                    raise _NotPushable("group key part")
                parts[name] = replace(col, sql=sql, gone=None)
                keys.append(sql)
            id_col = Col("", "object", _same, parts=parts)
        else:
            raise _NotPushable("group key")
        out: dict[str, Col] = {}
        if id_col is not None:
            out["_id"] = id_col
        elif with_id:
            out["_id"] = Col("NULL", "any", _same)
        for name, op, arg in accs:
            out[name] = self.accumulator(op, arg)
        lv.cols = out
        lv.grouped = True
        lv.group_by = keys
        lv.order = []
        if not keys:
            lv.having.append("COUNT(*) > 0")

    def accumulator(self, op: str, arg: Any) -> Col:
        if op == "$count" or (op == "$sum" and type(arg) is int):
            n = 1 if op == "$count" else arg
            sql = "COUNT(*)" if n == 1 else f"(COUNT(*) * {self.c.param(n)})"
            return Col(sql, "int", _same)
        path = field_path(arg)
        if path is None or op not in ("$sum", "$avg", "$min", "$max"):
            raise _NotPushable(op)
        sql, col = self.sql_of(path)
        if not col.sortable:
            raise _NotPushable(f"{op} of {path!r}")
        if col.kind == "decimal":
            sql = self.d.numeric(sql)
        if op in ("$min", "$max"):
            return Col(self.d.min_max(op[1:].upper(), sql, col.kind), col.kind, col.decode)
        if col.kind not in _NUMERIC:
            raise _NotPushable(f"{op} of a {col.kind} field")
        if col.kind == "decimal":
            avg_decode = sum_decode = _to_decimal
        else:  # PostgreSQL sums and averages integers as numeric
            avg_decode = _to_float
            sum_decode = _to_int if col.kind == "int" else _same
        if op == "$avg":
            return Col(f"AVG({sql})", "float", avg_decode)
        if col.kind == "float":
            witness = f"COUNT({sql})"
            return Col(f"COALESCE(SUM({sql}), 0)", "float", sum_decode, witness=witness)
        return Col(f"COALESCE(SUM({sql}), 0)", col.kind, sum_decode)

    def unwind(self, spec: Any) -> None:
        options = {"path": spec} if isinstance(spec, str) else spec
        path = str(field_path(options["path"]))
        index = options.get("includeArrayIndex")
        preserve = bool(options.get("preserveNullAndEmptyArrays", False))
        col = self.level.cols.get(path)
        if "." in path or (index is not None and "." in index):
            raise _NotPushable("$unwind of a nested path")
        if col is None or col.hidden or col.opaque or col.parts is not None:
            raise _NotPushable(f"$unwind of {path!r}")
        if col.kind not in _SCALAR_KINDS:  # objects and untyped values may hold anything
            raise _NotPushable(f"$unwind of a {col.kind} field")
        # A subquery first: its columns are then qualified, never ambiguous with the join's.
        self.wrap(keep_order=True)
        lv = self.level
        col = lv.cols[path]
        index_col = Col("CAST(NULL AS INTEGER)", "int", _to_int)
        if not col.array:  # a scalar unwinds to itself; null and missing drop the document
            if not preserve:
                lv.where.append(f"{col.sql} IS NOT NULL")
        else:
            self.joins += 1
            alias = f"_u{self.joins}"
            form = self.d.unwind(col.sql, alias, col.kind, col.native, preserve)
            if form is None or col.element is None:
                raise _NotPushable(f"$unwind of {path!r}")
            join, value, position, emptied = form
            lv.source += join
            lv.cols[path] = Col(value, col.kind, col.element, gone=emptied if preserve else None)
            index_col = Col(position, "int", _to_int)
            if lv.order:  # documents keep their order, elements follow their array's
                lv.order.append((position, 1, alias, "int"))
        if index is not None:
            lv.cols[index] = index_col

    def lookup(self, stage: LookupStage) -> None:
        table = self.foreign(stage.source)
        if table is None:
            raise _NotPushable(f"$lookup from {stage.source!r}: foreign table not described")
        key = table.keys.get(stage.foreign)
        if "." in stage.local or "." in stage.into or key is None:
            raise _NotPushable("$lookup on nested or non-scalar fields")
        col = self.level.cols.get(stage.local)
        if col is None or col.hidden or not col.sortable or col.kind not in key[0]:
            raise _NotPushable(f"$lookup localField {stage.local!r}")
        self.wrap(keep_order=True)  # qualified local columns (the subquery has its own)
        local = self.level.cols[stage.local].sql
        self.joins += 1
        q, alias = self.d.quote, f"_f{self.joins}"
        fk = f"{alias}.{q(stage.foreign)}"
        fields = [(name, f"{alias}.{q(name)}{suffix}") for name, suffix in table.fields]
        order = [o if o in ("rowid", "ctid") else f"{alias}.{o}" for o in table.order]

        def rows(where: str) -> str:
            return self.d.json_rows(table.table_sql, alias, fields, where, order)

        # MongoDB semantics: a null or missing local value matches null foreign values.  Two
        # subqueries, not one with an OR, so that each can use an index on the foreign key.
        sql = (
            f"(CASE WHEN {local} IS NULL THEN {rows(f'{fk} IS NULL')}"
            f" ELSE {rows(f'{fk} = {local}{key[1]}')} END)"
        )
        self.level.cols[stage.into] = Col(sql, "object", table.decode, array=True, opaque=True)


def _columns(cols: Mapping[str, Col]) -> dict[str, str]:
    out = {}
    for name, col in cols.items():
        if col.parts is not None:
            out.update({f"{name}.{p}": c.sql for p, c in col.parts.items()})
        else:
            out[name] = col.sql
    return out


def compile_pushdown(
    pipe: Pipeline, dialect: Dialect, table_sql: str, foreign: Foreign = _no_foreign
) -> Pushdown:
    """One SELECT for the leading ``where`` and the longest pushable run of stages after it.

    :class:`UnsupportedQueryError` if the leading ``$match`` itself has no SQL form (a repo
    never loads a whole table to filter it in Python).
    """
    b = _build(pipe, dialect, table_sql, pipe.stages[pipe.start :], foreign)
    sql = b.render(b.level)
    # A stage can drop SQL it had compiled (a $group discards a $sort's ORDER BY): the
    # parameters only that SQL used are removed and the rest renumbered.
    sql, params = _prune(sql, b.c.params, b.d)
    return Pushdown(sql, params, b.pushed, dict(b.level.cols))


_TOKENS = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[?$](\d+)')


def _prune(sql: str, params: Sequence[Any], d: Dialect) -> tuple[str, list[Any]]:
    """Keep the parameters the SQL text uses (numbered placeholders), renumbered in order of
    first use; quoted identifiers and string literals are skipped over."""
    mark = d.placeholder(1)[0]
    new_index: dict[int, int] = {}
    kept: list[Any] = []

    def renumber(m: re.Match[str]) -> str:
        if m.group(1) is None or not m.group(0).startswith(mark):
            return m.group(0)
        old = int(m.group(1))
        if old not in new_index:
            kept.append(params[old - 1])
            new_index[old] = len(kept)
        return d.placeholder(new_index[old])

    return _TOKENS.sub(renumber, sql), kept


def _build(
    pipe: Pipeline,
    dialect: Dialect,
    table_sql: str,
    stages: Sequence[Stage],
    foreign: Foreign = _no_foreign,
) -> _Builder:
    """Push ``stages`` in order until one is not pushable; ``pushed`` says how far it got."""
    b = _Builder(pipe, dialect, table_sql, foreign)
    b.pushed = pipe.start
    for stage in stages:
        lv = b.level
        saved = replace(
            lv, where=list(lv.where), group_by=list(lv.group_by), having=list(lv.having),
            order=list(lv.order), cols=dict(lv.cols),
        )  # fmt: skip
        n_params, wraps = len(b.c.params), b.wraps
        try:
            b.push(stage)
        except _NotPushable:
            b.level, b.wraps = saved, wraps
            del b.c.params[n_params:]
            break
        b.pushed = stage.index + 1
    return b


__all__ = ["Col", "Pushdown", "compile_pushdown"]
