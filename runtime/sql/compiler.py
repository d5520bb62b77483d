"""AST → SQL text and bound parameters, shared by every SQL dialect.

Values only ever travel as parameters; identifiers are quoted by the dialect; JSON paths are
parameters too.  NULL semantics equal the Python predicate's: ``{"x": None}`` is ``IS NULL``
(on an untyped field also an array holding a null),
``$ne``/``$nin``/``$not``/``$nor`` are negations made two-valued with ``COALESCE(..., FALSE)``
(so ``{"x": {"$ne": 5}}`` matches NULL rows, as in MongoDB).  Top-level columns always exist
(``$exists: false`` on a column matches nothing, as for a model-validated document).
What SQL cannot express here raises :class:`UnsupportedQueryError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from ..errors import UnsupportedQueryError
from ..query.ast import (
    All,
    And,
    Compare,
    ElemMatch,
    Exists,
    FieldRef,
    In,
    MatchAll,
    Node,
    Nor,
    Not,
    Or,
    Query,
    Regex,
    Size,
    SortKey,
)
from .dialect import Dialect

_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
Statement = tuple[str, list[Any]]


class SQLCompiler:
    """One statement's worth of compilation: collects parameters in text order."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.params: list[Any] = []
        self._elements: list[str] = []
        self._aliases = 0

    def param(self, value: Any) -> str:
        self.params.append(self.d.encode(value))
        return self.d.placeholder(len(self.params))

    def param_json(self, value: Any) -> str:
        """A value for a JSON column (``None`` stays SQL NULL)."""
        self.params.append(None if value is None else self.d.encode_json(value))
        return self.d.placeholder(len(self.params))

    def path(self, path: tuple[str, ...]) -> str:
        return self.d.path_param(self.param(self.d.json_path(path)))

    def alias(self) -> str:
        self._aliases += 1
        return f"_e{self._aliases}"

    # -- expressions ---------------------------------------------------------------------
    def locate(self, ref: FieldRef) -> tuple[str, tuple[str, ...], bool]:
        """(SQL of the container, path inside it, container is a native array column)."""
        if self._elements:
            return self._elements[-1], ref.path, False
        column = ref.path[0]
        return self.d.column(column), ref.path[1:], self.d.native_array(column)

    def expr(self, ref: FieldRef, *, raw: bool = False) -> str:
        """SQL for the value at ``ref`` (fresh text each call: ``?`` params are positional).

        ``raw``: the stored value as is (arrays, objects); otherwise typed for comparison."""
        _no_fan_out(ref)
        base, path, _ = self.locate(ref)
        if not path:
            if self._elements:
                return base  # typed by Dialect.elements
            return base if raw else self.d.typed(base, ref.kind)
        p = self.path(path)
        if raw or ref.array or ref.kind in ("object", "any"):
            return self.d.json_extract(base, p)
        return self.d.json_scalar(base, p, ref.kind)

    def native(self, ref: FieldRef) -> bool:
        _, path, native = self.locate(ref)
        return native and not path

    def value(self, ref: FieldRef, value: Any) -> str:
        p = self.param(value)
        return self.d.numeric(p) if ref.kind == "decimal" else p

    # -- filters -------------------------------------------------------------------------
    def where(self, node: Node) -> str:
        if isinstance(node, MatchAll):
            return self.d.true
        if isinstance(node, And):
            return "(" + " AND ".join(self.where(n) for n in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.where(n) for n in node.items) + ")"
        if isinstance(node, Nor):
            return self.negate("(" + " OR ".join(self.where(n) for n in node.items) + ")")
        if isinstance(node, Not):
            return self.negate(self.where(node.where))
        ref: FieldRef = node.field  # type: ignore[attr-defined]
        if ref.kind in ("any", "object") and not _null_test(node) and not _on_objects(ref, node):
            raise UnsupportedQueryError(
                f"field {ref.name!r}: {type(node).__name__} on untyped/object values "
                "is not supported in SQL"
            )
        if isinstance(node, Exists):
            return self.exists(ref, node.present)
        if ref.kind == "any" and not ref.array and isinstance(node, Compare):
            test = self.untyped_null(ref)
            return test if node.op == "eq" else self.negate(test)
        return self.array(ref, node) if ref.array else self.scalar(ref, node)

    def negate(self, sql: str) -> str:
        return f"NOT COALESCE({sql}, {self.d.false})"

    def exists(self, ref: FieldRef, present: bool) -> str:
        _no_fan_out(ref)
        base, path, _ = self.locate(ref)
        if not path:
            return self.d.true if present else self.d.false
        sql = self.d.json_present(base, self.path(path))
        return sql if present else f"NOT {sql}"

    def untyped_null(self, ref: FieldRef) -> str:
        """``{f: None}`` on an untyped value: null, missing, or an array holding a null (as
        MongoDB and the memory predicate have it)."""
        _no_fan_out(ref)
        base, path, _ = self.locate(ref)
        whole = self.expr(ref, raw=True)
        holds = self.d.json_holds_null(
            base, (lambda: self.path(path)) if path else None, self.alias()
        )
        return f"({whole} IS NULL OR {holds})"

    def scalar(self, ref: FieldRef, node: Node) -> str:
        if isinstance(node, Compare):
            v = node.value
            if node.op == "ne":
                if v is None:
                    return f"{self.expr(ref)} IS NOT NULL"
                return f"({self.expr(ref)} IS NULL OR {self.expr(ref)} <> {self.value(ref, v)})"
            if v is None:
                return f"{self.expr(ref)} IS NULL"
            target = self.expr(ref)
            if node.op != "eq":
                target = self.d.ordered(target, ref.kind)
            return f"{target} {_SQL_OPS[node.op]} {self.value(ref, v)}"
        if isinstance(node, In):
            return self.membership(ref, node, lambda: self.expr(ref), lambda: self.expr(ref))
        if isinstance(node, Regex):
            target = self.expr(ref)  # first: parameters are positional
            pattern = self.d.regex_pattern(node.pattern, node.options)
            return self.d.regex(target, self.param(pattern))
        raise UnsupportedQueryError(f"field {ref.name!r}: {type(node).__name__} needs an array")

    def membership(
        self, ref: FieldRef, node: In, null_expr: Callable[[], str], value_expr: Callable[[], str]
    ) -> str:
        parts: list[str] = []
        if None in node.values:
            parts.append(f"{null_expr()} IS NULL")
        values = [v for v in node.values if v is not None]
        if values:
            e = value_expr()
            parts.append(f"{e} IN (" + ", ".join(self.value(ref, v) for v in values) + ")")
        sql = "(" + " OR ".join(parts) + ")" if parts else self.d.false
        return self.negate(sql) if node.negate else sql

    def array(self, ref: FieldRef, node: Node) -> str:
        if isinstance(node, Compare) and node.op == "ne":
            return self.negate(self.array(ref, Compare(ref, "eq", node.value)))
        if isinstance(node, In) and node.negate:
            return self.negate(self.array(ref, In(ref, node.values)))
        if isinstance(node, Size):
            native = self.native(ref)
            length = self.d.array_length(self.expr(ref, raw=True), native)
            return f"({length} = {self.param(node.size)})"
        if isinstance(node, Compare) and isinstance(node.value, tuple):
            native = self.native(ref)
            whole = self.expr(ref, raw=True)
            return self.d.array_equal(whole, self.param(list(node.value)), native)
        if isinstance(node, Compare) and node.value is None:
            whole = self.expr(ref, raw=True)
            return f"({whole} IS NULL OR {self.some(ref, lambda e: f'{e} IS NULL')})"
        if isinstance(node, Compare) and node.op == "eq":
            fast = self.contains(ref, node.value)
            if fast is not None:
                return fast
        if isinstance(node, Compare):
            op, v = _SQL_OPS[node.op], node.value
            if node.op == "eq":
                return self.some(ref, lambda e: f"{e} = {self.value(ref, v)}")
            return self.some(
                ref, lambda e: f"{self.d.ordered(e, ref.kind)} {op} {self.value(ref, v)}"
            )
        if isinstance(node, In):
            parts = []
            if None in node.values:
                parts.append(self.array(ref, Compare(ref, "eq", None)))
            values = [v for v in node.values if v is not None]
            if values:
                parts.append(
                    self.some(
                        ref,
                        lambda e: f"{e} IN (" + ", ".join(self.value(ref, v) for v in values) + ")",
                    )
                )
            return "(" + " OR ".join(parts) + ")" if parts else self.d.false
        if isinstance(node, Regex):
            pattern = self.d.regex_pattern(node.pattern, node.options)
            return self.some(ref, lambda e: self.d.regex(e, self.param(pattern)))
        if isinstance(node, All):
            if not node.values:
                return self.d.false
            return (
                "("
                + " AND ".join(self.array(ref, Compare(ref, "eq", v)) for v in node.values)
                + ")"
            )
        if isinstance(node, ElemMatch):
            return self.some(ref, None, node.where)
        raise UnsupportedQueryError(f"field {ref.name!r}: {type(node).__name__} on an array")

    def contains(self, ref: FieldRef, value: Any) -> str | None:
        """The dialect's index-friendly ``value ∈ array`` form, if it has one."""
        n_params = len(self.params)
        native = self.native(ref)
        whole = self.expr(ref, raw=True)
        found = self.d.array_contains(whole, self.param(value), ref.kind, native)
        if found is None:
            del self.params[n_params:]
        return found

    def some(
        self, ref: FieldRef, cond: Callable[[str], str] | None, where: Node | None = None
    ) -> str:
        """``EXISTS`` an element of the array at ``ref`` satisfying ``cond`` (or ``where``)."""
        alias = self.alias()
        native = self.native(ref)
        source, element = self.d.elements(self.expr(ref, raw=True), alias, ref.kind, native)
        if cond is not None:
            test = cond(element)
        else:
            self._elements.append(element)
            try:
                test = self.where(where if where is not None else MatchAll())
            finally:
                self._elements.pop()
        return f"EXISTS (SELECT 1 FROM {source} WHERE {test})"

    def keyset(self, keys: Sequence[SortKey], values: Sequence[Any]) -> str:
        """Rows strictly after ``values`` in the ``keys`` order (ORDER BY's NULL placement:
        first ascending, last descending).  All ascending without NULLs: one row-value
        comparison (index friendly); otherwise the OR-chain
        ``k1 ≻ v1 OR (k1 = v1 AND k2 ≻ v2) OR ...`` with NULLs spelled out."""
        if len(keys) != len(values) or not keys:
            raise UnsupportedQueryError("keyset: the cursor does not match the sort keys")
        for k in keys:
            if k.field.kind in ("any", "object") or k.field.array:
                raise UnsupportedQueryError(f"sort {k.field.name!r}: untyped values in SQL")
        if all(k.direction == 1 for k in keys) and all(v is not None for v in values):
            if len(keys) == 1:
                return f"{self.sort_expr(keys[0].field)} > {self.value(keys[0].field, values[0])}"
            left = ", ".join(self.sort_expr(k.field) for k in keys)
            right = ", ".join(self.value(k.field, v) for k, v in zip(keys, values, strict=True))
            return f"({left}) > ({right})"
        branches = []
        for i, (k, v) in enumerate(zip(keys, values, strict=True)):
            if k.direction == -1 and v is None:  # NULLs come last descending: none beyond
                continue
            terms = [self._tie(keys[j].field, values[j]) for j in range(i)]
            terms.append(self._beyond(k, v))
            branches.append("(" + " AND ".join(terms) + ")")
        if not branches:
            return self.d.false
        return f"COALESCE(({' OR '.join(branches)}), {self.d.false})"

    def sort_expr(self, ref: FieldRef) -> str:
        return self.d.ordered(self.expr(ref), ref.kind)

    def _tie(self, ref: FieldRef, value: Any) -> str:
        if value is None:
            return f"{self.expr(ref)} IS NULL"
        return f"{self.expr(ref)} = {self.value(ref, value)}"

    def _beyond(self, key: SortKey, value: Any) -> str:
        ref = key.field
        if key.direction == 1:
            if value is None:
                return f"{self.expr(ref)} IS NOT NULL"
            return f"{self.sort_expr(ref)} > {self.value(ref, value)}"
        e = self.sort_expr(ref)
        return f"({e} < {self.value(ref, value)} OR {self.expr(ref)} IS NULL)"

    def order_by(self, keys: Sequence[SortKey]) -> str:
        parts = []
        for k in keys:
            if k.field.kind in ("any", "object") or k.field.array:
                raise UnsupportedQueryError(f"sort {k.field.name!r}: untyped values in SQL")
            parts.append(self.d.order_term(self.sort_expr(k.field), k.direction))
        return " ORDER BY " + ", ".join(parts) if parts else ""


def _on_objects(ref: FieldRef, node: Node) -> bool:
    """``$elemMatch`` / ``$size`` on an array of typed objects (elements are JSON objects)."""
    return ref.array and ref.kind == "object" and isinstance(node, ElemMatch | Size)


def _no_fan_out(ref: FieldRef) -> None:
    if ref.through_array:
        raise UnsupportedQueryError(
            f"field {ref.name!r}: paths through arrays of objects are not supported in SQL"
        )


def _null_test(node: Node) -> bool:
    return isinstance(node, Exists) or (
        isinstance(node, Compare) and node.op in ("eq", "ne") and node.value is None
    )


# -- statements ------------------------------------------------------------------------------
def select(
    d: Dialect, table: str, query: Query, columns: str = "*", *, lock: bool = False
) -> Statement:
    """``columns``: the SELECT list (SQL the caller built from quoted names), ``*`` by default;
    ``lock``: the rows stay locked until the transaction ends (``d.row_lock``)."""
    c = SQLCompiler(d)
    where = c.where(query.where)  # parameters are positional: compile in text order
    if query.after is not None:
        where = f"({where}) AND {c.keyset(query.sort, query.after)}"
    sql = f"SELECT {columns} FROM {table} WHERE {where}{c.order_by(query.sort)}"
    limit = c.param(query.limit) if query.limit is not None else None
    offset = c.param(query.skip) if query.skip else None
    paging = d.limit_offset(limit, offset)
    sql = f"{sql} {paging}" if paging else sql
    return (sql + d.row_lock if lock else sql), c.params


def count(d: Dialect, table: str, where: Node) -> Statement:
    c = SQLCompiler(d)
    return f"SELECT COUNT(*) FROM {table} WHERE {c.where(where)}", c.params


def delete(d: Dialect, table: str, where: Node) -> Statement:
    c = SQLCompiler(d)
    return f"DELETE FROM {table} WHERE {c.where(where)}", c.params


def _bind(c: SQLCompiler, name: str, value: Any, json_fields: AbstractSet[str]) -> str:
    return c.param_json(value) if name in json_fields else c.param(value)


def update(
    d: Dialect,
    table: str,
    changes: Mapping[str, Any],
    where: Node,
    json_fields: AbstractSet[str] = frozenset(),
    returning: str = "",
) -> Statement:
    """``json_fields``: columns whose values are stored as JSON (see :meth:`Dialect.encode_json`);
    ``returning``: a RETURNING list (e.g. ``*``), empty for none."""
    c = SQLCompiler(d)
    sets = ", ".join(f"{d.quote(k)} = {_bind(c, k, v, json_fields)}" for k, v in changes.items())
    tail = f" RETURNING {returning}" if returning else ""
    return f"UPDATE {table} SET {sets} WHERE {c.where(where)}{tail}", c.params


def insert(
    d: Dialect,
    table: str,
    row: Mapping[str, Any],
    returning: bool = True,
    json_fields: AbstractSet[str] = frozenset(),
) -> Statement:
    c = SQLCompiler(d)
    tail = " RETURNING *" if returning else ""
    if not row:
        return f"INSERT INTO {table} DEFAULT VALUES{tail}", c.params
    cols = ", ".join(d.quote(k) for k in row)
    values = ", ".join(_bind(c, k, v, json_fields) for k, v in row.items())
    return f"INSERT INTO {table} ({cols}) VALUES ({values}){tail}", c.params


def distinct(d: Dialect, table: str, ref: FieldRef, where: Node) -> Statement:
    """Distinct values of ``ref`` (array items flattened), ordered, NULL first."""
    c = SQLCompiler(d)
    if ref.kind in ("any", "object"):
        raise UnsupportedQueryError(f"distinct {ref.name!r}: untyped values in SQL")
    if not ref.array:
        inner = f"SELECT DISTINCT {c.expr(ref)} AS _v FROM {table} WHERE {c.where(where)}"
    else:
        native = c.native(ref)
        rows = f"SELECT {c.expr(ref, raw=True)} AS _c FROM {table} WHERE {c.where(where)}"
        source, element = d.elements("_s._c", "_d", ref.kind, native)
        inner = f"SELECT DISTINCT {element} AS _v FROM ({rows}) AS _s, {source}"
    order = d.order_term(d.ordered("_u._v", ref.kind), 1)
    return f"SELECT _u._v FROM ({inner}) AS _u ORDER BY {order}", c.params


__all__ = ["SQLCompiler", "Statement", "count", "delete", "distinct", "insert", "select", "update"]
