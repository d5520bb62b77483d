"""SQLiteBackend over aiosqlite (the ``sqlite`` extra): one connection, opened on first use.

Everything is pushed down as SQL compiled from the AST with bound parameters; see
:class:`~xrepo.runtime.sql.dialect.SQLiteDialect` for how values are stored and compared.
``$regex`` uses a Python ``REGEXP`` function registered on the connection (same engine and
guards as the in-memory predicate).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, ConstraintError, MissingDriverError, XRepoError
from ..query.ast import FieldRef, Node, Query
from ..query.regex import sql_regexp
from ..sql import compiler
from ..sql.dialect import SQLiteDialect
from .base import BackendBase, Collection, Row

if TYPE_CHECKING:
    from ..aggregate.engine import Pipeline

MIN_SQLITE = (3, 35, 0)  # INSERT ... RETURNING


class SQLiteBackend(BackendBase):
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.dialect = SQLiteDialect()
        self._conn: Any = None
        #: Open ``transaction()`` blocks: writes inside one leave commit/rollback to the block.
        self._tx_depth = 0

    async def connect(self) -> None:
        if self._conn is not None:
            return
        try:
            import aiosqlite
        except ImportError:
            raise MissingDriverError(
                "SQLiteBackend needs aiosqlite: pip install 'xrepo[sqlite]'"
            ) from None
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise BackendError(
                f"SQLite {sqlite3.sqlite_version} is too old: xrepo needs 3.35+ (RETURNING)"
            )
        try:
            conn = await aiosqlite.connect(self.path)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open SQLite database {self.path!r}: {exc}") from None
        conn.row_factory = sqlite3.Row
        await conn.create_function("regexp", 2, sql_regexp, deterministic=True)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def _db(self) -> Any:
        if self._conn is None:
            await self.connect()
        return self._conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One transaction for every write on this connection inside the block (nested blocks
        join the outer one); an exception rolls back and propagates."""
        db = await self._db()
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield
            finally:
                self._tx_depth -= 1
            return
        await db.commit()  # a clean start: nothing pending belongs to this block
        await db.execute("BEGIN")
        self._tx_depth = 1
        try:
            yield
        except BaseException:
            self._tx_depth = 0
            await db.rollback()
            raise
        self._tx_depth = 0
        try:
            await db.commit()
        except sqlite3.Error as exc:
            await db.rollback()
            raise _wrap(exc, "commit") from exc

    def in_transaction(self) -> bool:
        """Whether a ``transaction()`` block is open (the connection is shared: every task's
        statements run in it)."""
        return self._tx_depth > 0

    async def _settle(self, db: Any, ok: bool) -> None:
        """Commit (or roll back) a write unless a ``transaction()`` block owns it."""
        if self._tx_depth:
            return
        await (db.commit() if ok else db.rollback())

    async def stats(self, coll: Collection) -> dict[str, Any]:
        """The database file's size (page_count × page_size; SQLite keeps one file for every
        table), for ``XRepo.get_statistics``; cardinalities are sampled by the repo."""
        pages = await self.execute("PRAGMA page_count")
        size = await self.execute("PRAGMA page_size")
        return {"storage_bytes": int(pages[0][0]) * int(size[0][0])}

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one statement and fetch all its rows (escape hatch for tests and tools)."""
        db = await self._db()
        try:
            async with db.execute(sql, list(params)) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise _wrap(exc, sql) from exc

    def _table(self, coll: Collection) -> str:
        return self.dialect.table(coll.name, coll.namespace)

    def _decode(self, coll: Collection, row: sqlite3.Row) -> Row:
        out = dict(zip(row.keys(), tuple(row), strict=True))
        for name in coll.json_fields:
            value = out.get(name)
            if isinstance(value, str):
                # Not JSON: leave it for model validation to judge.
                with contextlib.suppress(ValueError):
                    out[name] = json.loads(value)
        return out

    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        db = await self._db()
        table = self._table(coll)
        out: list[Row] = []
        try:
            for row in rows:
                sql, params = compiler.insert(
                    self.dialect, table, row, json_fields=coll.json_fields
                )
                async with db.execute(sql, params) as cur:
                    out.extend(self._decode(coll, r) for r in await cur.fetchall())
            await self._settle(db, True)
        except sqlite3.Error as exc:
            await self._settle(db, False)
            raise _wrap(exc, coll.name) from exc
        return out

    async def select(self, coll: Collection, query: Query) -> list[Row]:
        sql, params = compiler.select(self.dialect, self._table(coll), query)
        return [self._decode(coll, r) for r in await self.execute(sql, params)]

    async def count(self, coll: Collection, where: Node) -> int:
        sql, params = compiler.count(self.dialect, self._table(coll), where)
        return int((await self.execute(sql, params))[0][0])

    async def _write(self, sql: str, params: list[Any], name: str) -> int:
        db = await self._db()
        try:
            async with db.execute(sql, params) as cur:
                n = cur.rowcount
            await self._settle(db, True)
        except sqlite3.Error as exc:
            await self._settle(db, False)
            raise _wrap(exc, name) from exc
        return int(n)

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        if not changes:
            return await self.count(coll, where)
        sql, params = compiler.update(
            self.dialect, self._table(coll), changes, where, coll.json_fields
        )
        return await self._write(sql, params, coll.name)

    async def delete(self, coll: Collection, where: Node) -> int:
        sql, params = compiler.delete(self.dialect, self._table(coll), where)
        return await self._write(sql, params, coll.name)

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        sql, params = compiler.distinct(self.dialect, self._table(coll), field, where)
        return [r[0] for r in await self.execute(sql, params)]

    async def aggregate(self, coll: Collection, pipeline: Pipeline) -> list[Row]:
        """The longest SQL-expressible prefix as one SELECT, the rest in memory (see
        :mod:`xrepo.runtime.aggregate.sqlpush`).  A ``$lookup`` into a table of this database
        on top-level columns is a correlated subquery (:mod:`~xrepo.runtime.aggregate.sqljoin`);
        one left for memory reads the rows of the other table whose ``foreignField`` is one of
        the local values (``IN``, in chunks), as stored."""
        from ..aggregate import sqljoin
        from ..aggregate.sqlpush import compile_pushdown

        d = self.dialect

        async def describe(name: str) -> sqljoin.ForeignTable | None:
            schema = f"{d.quote(coll.namespace)}." if coll.namespace else ""
            kind = await self.execute(
                f"SELECT type FROM {schema}sqlite_master WHERE name = ?", [name]
            )
            cols = await self.execute(
                "SELECT name, type, pk FROM pragma_table_info(?, ?)",
                [name, coll.namespace or "main"],
            )
            table = d.table(name, coll.namespace)
            return sqljoin.sqlite_table(kind[0][0] if kind else None, cols, table, d.quote)

        foreign = await sqljoin.prepare(self, coll.namespace, pipeline, describe)
        push = compile_pushdown(pipeline, self.dialect, self._table(coll), foreign)
        raw = await self.execute(push.sql, push.params)
        docs = [push.decode(r) for r in raw]

        async def fetch(name: str, path: str, values: Sequence[Any]) -> tuple[list[Row], Any]:
            head, _, rest = path.partition(".")
            column = d.quote(head)
            prefix: list[Any] = []
            if rest:
                column = f"json_extract({column}, ?)"
                prefix = [d.json_path(tuple(rest.split(".")))]
            table = d.table(name, coll.namespace)
            scalars = [
                d.encode_scalar(v)
                for v in values
                if v is not None and not isinstance(v, dict | list)
            ]
            found: list[Row] = []
            queries = [
                (f"{column} IN ({', '.join('?' * len(chunk))})", chunk)
                for chunk in (scalars[i : i + 500] for i in range(0, len(scalars), 500))
            ]
            if any(v is None for v in values):
                queries.append((f"{column} IS NULL", []))
            for cond, args in queries:
                sql = f"SELECT * FROM {table} WHERE {cond}"
                found.extend(dict(r) for r in await self.execute(sql, [*prefix, *args]))
            return found, d.encode_scalar

        return await pipeline.resume(docs, push.pushed, fetch)


def _wrap(exc: sqlite3.Error, where: str) -> XRepoError:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, XRepoError):  # raised inside REGEXP
        return cause
    if isinstance(exc, sqlite3.IntegrityError):
        return ConstraintError(f"{where}: {exc}")
    return BackendError(f"SQLite error on {where}: {exc}")


__all__ = ["MIN_SQLITE", "SQLiteBackend"]
