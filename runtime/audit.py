"""Durable audit sinks: an append-only JSONL file and a table / collection in the data's database.

Every sink has ``record(entries)`` and ``query(filters, limit)`` (newest first, ``filters``
matching entry attributes exactly); either may be a coroutine.  The repo seam
(``XRepo._call``) runs the write and ``record`` inside ``backend.transaction()`` when the backend
has one, so a sink that raises rolls the change back: there is no unaudited write.

* :class:`JsonlAuditSink` appends one JSON line per entry; each batch is written, flushed and
  fsynced before the write returns.
* :class:`DatabaseAuditSink` writes to the backend holding the data.  SQLite and PostgreSQL: an
  audit table (created if missing) written in the same transaction as the change.  MongoDB: an
  audit collection written in the change's transaction (``transactional=True``, a replica set or
  sharded cluster); on a standalone server (``transactional=False``) it is an ordered write made
  right after the change — a crash or a sink failure between the two can leave a change without
  its entry, and a multi-document update that stops at a duplicate key keeps the documents it
  changed before it, without entries.  An entry is never written for a change that did not
  happen.  The memory backend's ``transaction()`` is an undo log, so it rolls back like SQL.

The SQL tables are created before the write's transaction opens (``prepare``), so a write that
rolls back does not take the table with it; made inside a caller's transaction, the table is
looked for again until it has been seen outside one.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .errors import ConfigurationError, XRepoError
from .governance import AuditEntry

#: Attributes a filter may name on the database sinks (stored as their own columns / fields).
FILTERABLE = ("timestamp", "user_id", "operation", "entity_id")
COLUMNS = (*FILTERABLE, "changes", "metadata")


class AuditError(XRepoError):
    """An audit entry could not be recorded: the write it describes did not happen (or, without
    a transaction, is reported as failed)."""


class AuditSink(Protocol):
    def record(self, entries: Sequence[AuditEntry]) -> Awaitable[None] | None: ...

    def query(
        self, filters: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[AuditEntry] | Awaitable[list[AuditEntry]]: ...


async def record_entries(sink: AuditSink, entries: Sequence[AuditEntry]) -> None:
    """``sink.record`` awaited when it is a coroutine; any failure becomes :class:`AuditError`."""
    if not entries:
        return
    try:
        done = sink.record(entries)
        if inspect.isawaitable(done):
            await done
    except AuditError:
        raise
    except Exception as exc:
        raise AuditError(f"audit entry not recorded ({type(sink).__name__}): {exc}") from exc


async def query_entries(
    sink: AuditSink, filters: Mapping[str, Any] | None, limit: int | None
) -> list[AuditEntry]:
    found = sink.query(filters, limit)
    if inspect.isawaitable(found):
        return await found
    return found


def _matches(entry: AuditEntry, filters: Mapping[str, Any]) -> bool:
    for key, value in filters.items():
        if key not in AuditEntry.model_fields:
            raise ConfigurationError(
                f"audit filter {key!r}: not an AuditEntry field "
                f"(use one of {sorted(AuditEntry.model_fields)})"
            )
        got = getattr(entry, key)
        if key == "entity_id":
            got, value = _entity_key(got), _entity_key(value)
        if got != value:
            return False
    return True


def _entity_key(value: Any) -> str:
    """One comparable form for ids that may come back from JSON as lists instead of tuples."""
    return json.dumps(value, default=str, sort_keys=True)


class JsonlAuditSink:
    """Append-only JSON Lines file: one entry a line, each batch flushed and fsynced."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def record(self, entries: Sequence[AuditEntry]) -> None:
        text = "".join(entry.model_dump_json() + "\n" for entry in entries)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def query(
        self, filters: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        if not self.path.exists():
            return []
        wanted = dict(filters or {})
        hits: list[AuditEntry] = []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in reversed(list(enumerate(lines, 1))):
            if not line.strip():
                continue
            try:
                entry = AuditEntry.model_validate_json(line)
            except ValueError as exc:
                raise AuditError(f"{self.path}:{number}: not an audit entry: {exc}") from None
            if _matches(entry, wanted):
                hits.append(entry)
                if limit is not None and len(hits) >= limit:
                    break
        return hits


class DatabaseAuditSink:
    """Audit entries in the database that holds the data (SQLite, PostgreSQL, MongoDB)."""

    def __init__(
        self,
        backend: Any,
        table: str = "xrepo_audit",
        *,
        namespace: str | None = None,
        transactional: bool = True,
    ) -> None:
        if not table or "\x00" in table:
            raise ConfigurationError(f"DatabaseAuditSink: invalid audit table name {table!r}")
        self.backend = backend
        self.table = table
        self.namespace = namespace
        #: MongoDB only: write entries in the change's transaction (needs a replica set).
        self.transactional = transactional
        self._kind = _kind_of(backend)
        self._ready = False

    @property
    def in_transaction(self) -> bool:
        """Whether the seam should wrap the change and its entries in one transaction."""
        return self._kind != "mongo" or self.transactional

    # -- SQL ------------------------------------------------------------------------------
    def _name(self) -> str:
        name: str = self.backend.dialect.table(self.table, self.namespace)
        return name

    async def prepare(self) -> None:
        """Create the audit table if missing.  The seam calls this before it opens the write's
        transaction, so the table is committed on its own and outlives a rolled-back write."""
        await self._ensure()

    async def _ensure(self) -> None:
        if self._ready or self._kind == "mongo":
            return
        stamp = "TIMESTAMPTZ" if self._kind == "postgres" else "TEXT"
        key = (
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
            if self._kind == "postgres"
            else "INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        q = self.backend.dialect.quote
        cols = ", ".join(
            f"{q(c)} {t}"
            for c, t in (
                ("seq", key),
                ("timestamp", f"{stamp} NOT NULL"),
                ("user_id", "TEXT"),
                ("operation", "TEXT NOT NULL"),
                ("entity_id", "TEXT"),
                ("changes", "TEXT NOT NULL"),
                ("metadata", "TEXT NOT NULL"),
            )
        )
        await self._exec(f"CREATE TABLE IF NOT EXISTS {self._name()} ({cols})", [])
        # Made inside a transaction, the table goes again if that rolls back: look again next
        # time (IF NOT EXISTS is cheap) until it has been seen outside one.
        self._ready = not _in_transaction(self.backend)

    async def _exec(self, sql: str, params: Sequence[Any]) -> Any:
        if self._kind == "postgres":
            return await self.backend.fetch(sql, *params)
        return await self.backend.execute(sql, params)

    def _columns(self) -> str:
        q = self.backend.dialect.quote
        return ", ".join(q(c) for c in COLUMNS)

    def _ph(self, i: int) -> str:
        return f"${i}" if self._kind == "postgres" else "?"

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if self._kind == "mongo":
            await self._record_mongo(entries)
            return
        await self._ensure()
        marks = ", ".join(self._ph(i) for i in range(1, 7))
        sql = f"INSERT INTO {self._name()} ({self._columns()}) VALUES ({marks})"
        for entry in entries:
            await self._exec(sql, self._params(entry))

    def _params(self, entry: AuditEntry) -> list[Any]:
        plain = entry.model_dump(mode="json")
        stamp: Any = entry.timestamp if self._kind == "postgres" else plain["timestamp"]
        return [
            stamp,
            entry.user_id,
            entry.operation,
            _entity_key(plain["entity_id"]),
            json.dumps(plain["changes"], sort_keys=True),
            json.dumps(plain["metadata"], sort_keys=True),
        ]

    async def query(
        self, filters: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        wanted = dict(filters or {})
        for key in wanted:
            if key not in FILTERABLE:
                raise ConfigurationError(
                    f"audit filter {key!r}: DatabaseAuditSink filters on {', '.join(FILTERABLE)}"
                )
        if self._kind == "mongo":
            return await self._query_mongo(wanted, limit)
        await self._ensure()
        conds: list[str] = []
        params: list[Any] = []
        for key, value in wanted.items():
            params.append(_entity_key(value) if key == "entity_id" else value)
            conds.append(f"{self.backend.dialect.quote(key)} = {self._ph(len(params))}")
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        seq = self.backend.dialect.quote("seq")
        sql = f"SELECT {self._columns()} FROM {self._name()}{where} ORDER BY {seq} DESC"
        if limit is not None:
            params.append(int(limit))
            sql += f" LIMIT {self._ph(len(params))}"
        rows = await self._exec(sql, params)
        return [
            AuditEntry(
                timestamp=r[0],
                user_id=r[1],
                operation=r[2],
                entity_id=None if r[3] is None else json.loads(r[3]),
                changes=json.loads(r[4]),
                metadata=json.loads(r[5]),
            )
            for r in rows
        ]

    # -- MongoDB ---------------------------------------------------------------------------
    async def _collection(self) -> Any:
        if self.backend._db is None:
            await self.backend.connect()
        return self.backend._db.get_collection(self.table)

    async def _record_mongo(self, entries: Sequence[AuditEntry]) -> None:
        docs = []
        for entry in entries:
            doc = entry.model_dump(mode="json")
            doc["timestamp"] = entry.timestamp
            doc["entity_key"] = _entity_key(doc["entity_id"])
            docs.append(doc)
        coll = await self._collection()
        done = coll.insert_many(docs, ordered=True, session=self.backend._session())
        if inspect.isawaitable(done):
            await done

    async def _query_mongo(self, wanted: dict[str, Any], limit: int | None) -> list[AuditEntry]:
        flt = {
            ("entity_key" if k == "entity_id" else k): (_entity_key(v) if k == "entity_id" else v)
            for k, v in wanted.items()
        }
        coll = await self._collection()
        cursor = coll.find(flt, {"_id": 0, "entity_key": 0}).sort([("timestamp", -1), ("_id", -1)])
        if limit is not None:
            cursor = cursor.limit(int(limit))
        docs = await cursor.to_list(None) if hasattr(cursor, "to_list") else list(cursor)
        return [AuditEntry.model_validate(d) for d in docs]


def _kind_of(backend: Any) -> str:
    name = type(backend).__name__
    if name.startswith("SQLite"):
        return "sqlite"
    if name.startswith("Postgres"):
        return "postgres"
    if name.startswith("Mongo"):
        return "mongo"
    raise ConfigurationError(
        f"DatabaseAuditSink: {name} is not SQLite, PostgreSQL or MongoDB; "
        "use JsonlAuditSink or MemoryAuditSink"
    )


def _in_transaction(backend: Any) -> bool:
    """``backend.in_transaction()``; ``False`` for backends without transactions."""
    check = getattr(backend, "in_transaction", None)
    return check is not None and bool(check())


async def prepare_sink(sink: Any) -> None:
    """``sink.prepare()`` when the sink has one (creating its table before the write)."""
    prepare = getattr(sink, "prepare", None)
    if prepare is None:
        return
    try:
        done = prepare()
        if inspect.isawaitable(done):
            await done
    except Exception as exc:
        raise AuditError(f"audit sink not ready ({type(sink).__name__}): {exc}") from exc


def wants_transaction(backend: Any, sink: Any) -> bool:
    """Run write + audit in ``backend.transaction()``?  Yes wherever the backend has one, except
    MongoDB (transactions need a replica set) unless a transactional database sink asks."""
    if getattr(backend, "transaction", None) is None:
        return False
    if type(backend).__name__.startswith("Mongo"):
        return isinstance(sink, DatabaseAuditSink) and sink.in_transaction
    return True


__all__ = [
    "AuditError",
    "AuditSink",
    "DatabaseAuditSink",
    "JsonlAuditSink",
    "prepare_sink",
    "query_entries",
    "record_entries",
    "wants_transaction",
]
