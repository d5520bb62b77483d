"""``repo.explain_aggregate``: where each stage of a compiled pipeline runs."""

from __future__ import annotations

from typing import Any

from ..backends.base import Collection
from ..sql.dialect import Dialect
from .engine import Pipeline
from .sqljoin import known
from .sqlpush import compile_pushdown


def explain(backend: Any, coll: Collection, pipe: Pipeline) -> dict[str, Any]:
    """``{"backend", "stages": [{"index", "op", "runs_in"}], "sql_stages", "memory_stages",
    "sql", "params"}``; ``runs_in`` is ``"sql"``, ``"backend"`` (the memory backend's indexed
    filter, for a leading ``$match``) or ``"memory"``."""
    custom = getattr(backend, "explain_pipeline", None)
    if custom is not None:  # backends that run whole pipelines (MongoDB) describe themselves
        described: dict[str, Any] = custom(coll, pipe)
        return described
    # A backend with per-table dialects (PostgreSQL: native array columns) names the one.
    dialect_for = getattr(backend, "dialect_for", None)
    dialect = dialect_for(coll) if callable(dialect_for) else getattr(backend, "dialect", None)
    sql: str | None = None
    params: list[Any] = []
    if isinstance(dialect, Dialect):
        # $lookup joins only the foreign tables the backend has described (on a first run).
        foreign = known(backend, coll.namespace)
        table = dialect.table(coll.name, coll.namespace)
        push = compile_pushdown(pipe, dialect, table, foreign)
        where = ["sql" if s.index < push.pushed else "memory" for s in pipe.stages]
        sql, params = push.sql, push.params
    else:
        where = ["backend" if s.index < pipe.start else "memory" for s in pipe.stages]
    stages = [
        {"index": s.index, "op": s.op, "runs_in": w}
        for s, w in zip(pipe.stages, where, strict=True)
    ]
    return {
        "backend": type(backend).__name__,
        "stages": stages,
        "sql_stages": [s["op"] for s in stages if s["runs_in"] == "sql"],
        "memory_stages": [s["op"] for s in stages if s["runs_in"] == "memory"],
        "sql": sql,
        "params": params,
    }


__all__ = ["explain"]
