"""MongoBackend on PyMongo's native async API (the ``mongo`` extra).

Everything runs on the server: filters compile to query documents (:mod:`..query.mongo`),
``find`` carries projection/sort/skip/limit, ``count_documents``, ``distinct`` and a projected
``find_one`` answer counts, distinct values and existence, writes go through ``bulk_write`` /
``update_many`` / ``delete_many``, and a compiled pipeline is sent as a pipeline.

* **Clients.** ``MongoBackend("mongodb://host/db")`` makes (and closes) its own
  ``pymongo.AsyncMongoClient``.  A client made elsewhere may be passed instead — an
  ``AsyncMongoClient``, or for compatibility a Motor ``AsyncIOMotorClient`` (deprecated
  upstream): the backend only calls ``get_database(name, codec_options=...)``, collection
  methods and sessions, and awaits results whether a method is a coroutine (PyMongo) or
  returns the awaitable / cursor itself (Motor).  Passed-in clients are never closed here.
* **Values.** See :mod:`.mongo_codec` (reads) and :func:`~xrepo.runtime.query.mongo.to_bson`
  (writes and filters); ObjectId fields (``Collection.object_ids``) are ``str`` in rows and
  ObjectId on the wire, both ways.  Rows keep only the collection's fields (a projection).
* **Inserts** are one ordered ``bulk_write`` of documents encoded once (``_id`` generated
  client-side when absent); the rows returned are those same bytes decoded, so they are exactly
  what the server stores (milliseconds, UTC).  Declared fields a row lacks are stored as null
  (as the memory and SQL backends hold them), so ``$exists`` means the same everywhere.
  All or nothing: inside a transaction the server
  undoes a failed batch; outside one, the documents that went in before the failing one are
  deleted again by ``_id``.
* **Transactions.** ``async with backend.transaction():`` starts a session and a transaction
  and binds the session in a context variable keyed by client, so every repo on that client
  (any number of backends sharing it) takes part; an exception aborts, leaving commits.  A
  nested ``transaction()`` joins the outer one.  Needs a server with transactions (a replica
  set, mongos, or SecantusDB).
* **Errors.** Duplicate key (11000) → :class:`~xrepo.runtime.errors.UniqueViolation` naming
  the index; document validation (121) → :class:`~xrepo.runtime.errors.ConstraintError` naming
  the collection; other server errors → :class:`~xrepo.runtime.errors.BackendError`.
* **Refused before sending:** ``$where``, ``$function``, ``$accumulator`` anywhere in a filter
  or pipeline (:func:`~xrepo.runtime.query.mongo.reject_code`); unknown operators never get
  this far (the query parser and pipeline compiler name them).
* ``Collection.namespace`` is ignored: the backend's database holds every collection.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    BackendError,
    ConfigurationError,
    ConstraintError,
    MissingDriverError,
    UniqueViolation,
    UnsupportedQueryError,
    XRepoError,
)
from ..query.ast import FieldRef, MatchAll, Node, Query
from ..query.mongo import MongoCompiler, object_ids_in, reject_code, to_bson, walk_values
from .base import BackendBase, Collection, Row
from .mongo_codec import codec_options

if TYPE_CHECKING:
    from ..aggregate.engine import Pipeline

#: The session of the transaction in progress, per client (``id(client)``).
_SESSIONS: contextvars.ContextVar[tuple[tuple[int, Any], ...]] = contextvars.ContextVar(
    "xrepo_mongo_sessions", default=()
)
_INDEX_NAME = re.compile(r"index: (\S+)")


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class MongoBackend(BackendBase):
    """``MongoBackend(url_or_client, database)``; ``database`` defaults to the URL's path."""

    def __init__(
        self,
        client: str | Any = "mongodb://127.0.0.1:27017",
        database: str | None = None,
        *,
        tz_aware: bool = True,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._url = client if isinstance(client, str) else None
        self._client: Any = None if isinstance(client, str) else client
        self._owned = isinstance(client, str)
        self._database = database
        self._client_options = dict(client_options or {})
        self.tz_aware = tz_aware
        self._codec: Any = None
        self._db: Any = None
        self._compilers: dict[frozenset[tuple[str, ...]], MongoCompiler] = {}

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        if self._db is not None:
            return
        try:
            from pymongo import AsyncMongoClient
        except ImportError:
            raise MissingDriverError(
                "MongoBackend needs pymongo: pip install 'xrepo[mongo]'"
            ) from None
        self._codec = codec_options(self.tz_aware)
        if self._client is None:
            options: dict[str, Any] = {"uuidRepresentation": "standard", "tz_aware": self.tz_aware}
            options.update(self._client_options)
            self._client = AsyncMongoClient(self._url, **options)
        name = self._database
        if name is None and self._url is not None:
            from pymongo.uri_parser import parse_uri

            name = parse_uri(self._url).get("database")
        if not name:
            raise ConfigurationError(
                "MongoBackend: no database given (pass database= or put it in the URL path)"
            )
        self._database = name
        self._db = self._client.get_database(name, codec_options=self._codec)

    async def close(self) -> None:
        client, self._db = self._client, None
        if self._owned and client is not None:
            self._client = None
            await _maybe(client.close())

    @property
    def client(self) -> Any:
        """The driver client (``None`` before :meth:`connect` when made from a URL)."""
        return self._client

    @property
    def database(self) -> Any:
        """The driver's database object (after :meth:`connect`)."""
        return self._db

    async def _coll(self, coll: Collection) -> Any:
        if self._db is None:
            await self.connect()
        return self._db.get_collection(coll.name)

    def in_transaction(self) -> bool:
        """Whether the current task runs inside a ``transaction()`` block on this client."""
        return self._session() is not None

    def _session(self) -> Any:
        key = id(self._client)
        for bound, session in _SESSIONS.get():
            if bound == key:
                return session
        return None

    def compiler(self, coll: Collection) -> MongoCompiler:
        found = self._compilers.get(coll.object_ids)
        if found is None:
            found = self._compilers[coll.object_ids] = MongoCompiler(coll.object_ids)
        return found

    def _filter(self, coll: Collection, where: Node) -> dict[str, Any]:
        doc = self.compiler(coll).filter(where)
        reject_code(doc, f"filter on {coll.name}")
        return doc

    @staticmethod
    def _projection(coll: Collection) -> dict[str, int] | None:
        if not coll.fields or any("." in f or f.startswith("$") or not f for f in coll.fields):
            return None
        proj = dict.fromkeys(coll.fields, 1)
        if "_id" not in proj:
            proj["_id"] = 0
        return proj

    # -- transactions ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the body in one transaction (see the module docstring)."""
        if self._db is None:
            await self.connect()
        if self._session() is not None:
            yield  # join the transaction in progress on this client
            return
        key = id(self._client)
        try:
            session = await _maybe(self._client.start_session())
        except Exception as exc:
            raise _wrap(exc, "transaction") from exc
        async with session:
            txn = await _maybe(session.start_transaction())
            try:
                async with txn:
                    token = _SESSIONS.set((*_SESSIONS.get(), (key, session)))
                    try:
                        yield
                    finally:
                        _SESSIONS.reset(token)
            except XRepoError:
                raise
            except Exception as exc:
                if _is_driver_error(exc):
                    raise _wrap(exc, "transaction") from exc
                raise

    # -- writes ----------------------------------------------------------------------------
    def _encode(self, coll: Collection, row: Mapping[str, Any]) -> Any:
        import bson
        from bson.objectid import ObjectId
        from bson.raw_bson import RawBSONDocument

        doc = to_bson(row)
        for name in coll.fields:
            doc.setdefault(name, None)
        if coll.object_ids:
            doc = object_ids_in(doc, coll.object_ids)
        if doc.get("_id") is None:
            doc.pop("_id", None)
            doc = {"_id": ObjectId(), **doc}
        return RawBSONDocument(bson.encode(doc, codec_options=self._codec))

    async def insert(self, coll: Collection, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        if not rows:
            return []
        import bson
        from pymongo import InsertOne

        c = await self._coll(coll)
        raws = [self._encode(coll, row) for row in rows]
        session = self._session()
        try:
            await c.bulk_write([InsertOne(r) for r in raws], ordered=True, session=session)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            done = _inserted_count(exc)
            if session is None and done:
                # Plain decoding keeps each _id exactly as stored (ObjectId, Binary, ...).
                ids = [bson.decode(r.raw)["_id"] for r in raws[:done]]
                await c.delete_many({"_id": {"$in": ids}})
            raise _wrap(exc, coll.name) from exc
        keep = set(coll.fields)
        out = []
        for r in raws:
            doc = bson.decode(r.raw, codec_options=self._codec)
            out.append({k: v for k, v in doc.items() if k in keep} if keep else doc)
        return out

    async def update(self, coll: Collection, where: Node, changes: Mapping[str, Any]) -> int:
        if not changes:
            return await self.count(coll, where)
        for key in changes:
            if not key or "." in key or key.startswith("$"):
                raise UnsupportedQueryError(
                    f"{coll.name}: cannot $set the field name {key!r} (contains '.' or '$')"
                )
        values = to_bson(changes)
        if coll.object_ids:
            values = object_ids_in(values, coll.object_ids)
        c = await self._coll(coll)
        flt = self._filter(coll, where)
        try:
            result = await c.update_many(flt, {"$set": values}, session=self._session())
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc
        return int(result.matched_count)

    async def delete(self, coll: Collection, where: Node) -> int:
        c = await self._coll(coll)
        flt = self._filter(coll, where)
        try:
            result = await c.delete_many(flt, session=self._session())
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc
        return int(result.deleted_count)

    # -- reads -----------------------------------------------------------------------------
    async def select(self, coll: Collection, query: Query) -> list[Row]:
        if query.limit == 0:
            return []  # MongoDB reads limit 0 as "no limit"
        compiled = self.compiler(coll).query(query)
        reject_code(compiled.filter, f"filter on {coll.name}")
        c = await self._coll(coll)
        kwargs: dict[str, Any] = {"session": self._session()}
        if compiled.sort:
            kwargs["sort"] = compiled.sort
        if compiled.skip:
            kwargs["skip"] = compiled.skip
        if compiled.limit is not None:
            kwargs["limit"] = compiled.limit
        projection = self._projection(coll)
        try:
            cursor = c.find(compiled.filter, projection, **kwargs)
            rows: list[Row] = await cursor.to_list(None)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc
        if projection is None and coll.fields:
            keep = set(coll.fields)
            rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
        return rows

    async def count(self, coll: Collection, where: Node) -> int:
        c = await self._coll(coll)
        flt = self._filter(coll, where)
        try:
            return int(await c.count_documents(flt, session=self._session()))
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc

    async def exists(self, coll: Collection, where: Node) -> bool:
        """Whether some document matches (a ``find_one`` projected to ``_id``)."""
        c = await self._coll(coll)
        flt = self._filter(coll, where)
        try:
            found = await c.find_one(flt, {"_id": 1}, session=self._session())
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc
        return found is not None

    async def distinct(self, coll: Collection, field: FieldRef, where: Node) -> list[Any]:
        """The server's ``distinct`` (array items flattened), plus ``None`` when a matching
        document holds null or lacks the field (as the other backends report it), sorted in
        MongoDB's order with null first."""
        from ..aggregate.order import order_key

        compiler = self.compiler(coll)
        path = compiler.path(field)
        flt = self._filter(coll, where)
        c = await self._coll(coll)
        session = self._session()
        try:
            values = list(await c.distinct(path, flt, session=session))
            if None not in values:
                probe = {"$and": [flt, {path: None}]} if flt else {path: None}
                if await c.find_one(probe, {"_id": 1}, session=session) is not None:
                    values.append(None)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc
        return sorted(values, key=order_key)

    # -- statistics ------------------------------------------------------------------------
    async def stats(self, coll: Collection) -> dict[str, Any]:
        """Storage and index figures for ``XRepo.get_statistics`` (cardinalities are sampled by
        the repo: MongoDB keeps no distinct-value estimates).

        * ``storage_bytes`` = data ``storageSize`` + ``totalIndexSize``, with ``document_count``
          and ``avg_object_bytes``, from the ``collStats`` command; where that command is
          refused (deprecated since MongoDB 6.2, or not granted) from the ``$collStats``
          ``storageStats`` stage.  A stage answering zero bytes for a non-empty collection
          (SecantusDB 0.7 does: its ``storageStats`` is a stub, while its ``collStats`` command
          is real) is not believed: the figure stays ``None``.  A collection that does not
          exist yet holds 0 documents in 0 bytes.
        * ``indexes``: per index ``{"scans": accesses.ops}`` from ``$indexStats`` (plus
          ``"bytes"`` from ``indexSizes``); ``index_keys`` holds each index's key document.
          SecantusDB 0.7 answers ``$indexStats`` but never counts accesses (``ops`` stays 0).
          Where ``$indexStats`` is refused, indexes carry ``"bytes"`` only.

        Nothing here raises on a refused command: the figure it would give is left ``None``.
        """
        c = await self._coll(coll)
        sizes = await self._storage(coll, c)
        index_bytes: dict[str, int] = sizes.pop("index_bytes", {})
        indexes: dict[str, dict[str, int]] = {name: {"bytes": n} for name, n in index_bytes.items()}
        keys: dict[str, dict[str, Any]] = {}
        try:
            cursor = await _maybe(c.aggregate([{"$indexStats": {}}]))
            usage: list[dict[str, Any]] = await cursor.to_list(None)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            usage = []
        for ix in usage:
            name = str(ix.get("name"))
            ops = (ix.get("accesses") or {}).get("ops")
            entry = indexes.setdefault(name, {})
            entry["scans"] = int(ops or 0)
            keys[name] = dict(ix.get("key") or {})
        return {**sizes, "indexes": indexes, "index_keys": keys}

    async def _storage(self, coll: Collection, c: Any) -> dict[str, Any]:
        """``storage_bytes``, ``document_count``, ``avg_object_bytes``, ``index_bytes``."""
        from pymongo.errors import OperationFailure

        try:
            doc = await _maybe(self._db.command("collStats", coll.name))
        except OperationFailure as exc:
            if exc.code == 26:  # NamespaceNotFound: nothing written yet
                return {"storage_bytes": 0, "document_count": 0, "avg_object_bytes": None}
            doc = None
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            doc = None
        if doc is None:
            try:
                cursor = await _maybe(c.aggregate([{"$collStats": {"storageStats": {}}}]))
                found = await cursor.to_list(None)
            except Exception as exc:
                if not _is_driver_error(exc):
                    raise
                found = []
            doc = found[0].get("storageStats") if found else None
            if doc is None:
                return {"storage_bytes": None, "document_count": None, "avg_object_bytes": None}
        count = _int_or_none(doc.get("count"))
        data = _int_or_none(doc.get("storageSize"))
        index = _int_or_none(doc.get("totalIndexSize"))
        total = None if data is None else data + (index or 0)
        if count and not total:
            total = None  # a stub answering 0 bytes for documents that exist
        avg = doc.get("avgObjSize")
        sizes = doc.get("indexSizes")
        return {
            "storage_bytes": total,
            "document_count": count,
            "avg_object_bytes": float(avg) if isinstance(avg, int | float) and avg else None,
            "index_bytes": (
                {str(k): int(v) for k, v in sizes.items() if isinstance(v, int | float)}
                if isinstance(sizes, Mapping) and total is not None
                else {}
            ),
        }

    # -- aggregation -----------------------------------------------------------------------
    def pipeline_for(self, coll: Collection, pipeline: Pipeline) -> list[dict[str, Any]]:
        """The pipeline as sent: the leading ``$match`` compiled from the AST (soft delete
        included), a ``$project`` to the model's fields under their Python names, then every
        later stage as validated, values converted for BSON."""
        stages: list[dict[str, Any]] = []
        if not isinstance(pipeline.where, MatchAll):
            stages.append({"$match": self.compiler(coll).filter(pipeline.where)})
        open_shape = pipeline.model.model_config.get("extra") == "allow"
        if pipeline.rename is not None or not open_shape:
            # The documents the pipeline sees are the model's fields, by Python name (as in the
            # memory engine): no stray ``_id`` or unmodelled keys.
            stages.append({"$project": _rename_projection(pipeline)})
        for stage in pipeline.stages[pipeline.start :]:
            stages.append({stage.op: walk_values(stage.spec, to_bson)})
        reject_code(stages, f"pipeline on {coll.name}")
        return stages

    async def aggregate(self, coll: Collection, pipeline: Pipeline) -> list[Row]:
        stages = self.pipeline_for(coll, pipeline)
        c = await self._coll(coll)
        try:
            cursor = await _maybe(c.aggregate(stages, session=self._session()))
            docs: list[Row] = await cursor.to_list(None)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            raise _wrap(exc, coll.name) from exc
        return docs

    def explain_pipeline(self, coll: Collection, pipeline: Pipeline) -> dict[str, Any]:
        """Every stage runs on the server; the pipeline as it would be sent."""
        stages = [{"index": s.index, "op": s.op, "runs_in": "server"} for s in pipeline.stages]
        return {
            "backend": type(self).__name__,
            "stages": stages,
            "server_stages": [s.op for s in pipeline.stages],
            "memory_stages": [],
            "pipeline": self.pipeline_for(coll, pipeline),
        }


def _rename_projection(pipeline: Pipeline) -> dict[str, Any]:
    """``$project`` turning a stored document into the model's Python names (the memory
    engine's renamer, on the server): nested objects and arrays of objects are rebuilt with
    ``$cond``/``$map`` only where a sub-field is renamed."""
    proj: dict[str, Any] = {}
    for py_name, info in pipeline.table.by_name.items():
        source = info.ref.path[0]
        if "." in source or source.startswith("$") or not source:
            if info.children is not None and _aliased(info.children):
                raise UnsupportedQueryError(
                    f"aggregate on MongoDB: field {py_name!r} ({source!r}) cannot be renamed"
                )
            proj[py_name] = {"$getField": {"$literal": source}}
        elif py_name == source and (info.children is None or not _aliased(info.children)):
            proj[py_name] = 1
        else:
            proj[py_name] = _value_expr(f"${source}", info, 0)
    if "_id" not in proj:
        proj["_id"] = 0
    return proj


def _value_expr(ref: str, info: Any, depth: int) -> Any:
    children = info.children
    if children is None or not _aliased(children):
        return ref
    if info.ref.array:
        var = f"x{depth}"
        item = f"$${var}"
        rebuilt = {"$cond": [_is_object(item), _shape(item, children, depth + 1), item]}
        return {
            "$cond": [{"$isArray": ref}, {"$map": {"input": ref, "as": var, "in": rebuilt}}, ref]
        }
    return {"$cond": [_is_object(ref), _shape(ref, children, depth + 1), ref]}


def _shape(base: str, table: Any, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for py_name, info in table.by_name.items():
        source = info.ref.path[0]
        if "." in source or source.startswith("$") or not source:
            raise UnsupportedQueryError(
                f"aggregate on MongoDB: nested field {source!r} cannot be addressed by path"
            )
        out[py_name] = _value_expr(f"{base}.{source}", info, depth)
    return out


def _is_object(ref: str) -> dict[str, Any]:
    return {"$eq": [{"$type": ref}, "object"]}


def _aliased(table: Any) -> bool:
    for py_name, info in table.by_name.items():
        if py_name != info.ref.path[0]:
            return True
        if info.children is not None and _aliased(info.children):
            return True
    return False


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_driver_error(exc: BaseException) -> bool:
    try:
        from pymongo.errors import PyMongoError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, PyMongoError)


def _inserted_count(exc: BaseException) -> int:
    details = getattr(exc, "details", None)
    if isinstance(details, Mapping):
        n = details.get("nInserted")
        if isinstance(n, int):
            return n
    return 0


def _first_error(exc: BaseException) -> tuple[int | None, Mapping[str, Any]]:
    details = getattr(exc, "details", None)
    if isinstance(details, Mapping):
        errors = details.get("writeErrors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return errors[0].get("code"), errors[0]
        return details.get("code", getattr(exc, "code", None)), details
    return getattr(exc, "code", None), {}


def _wrap(exc: BaseException, name: str) -> XRepoError:
    code, info = _first_error(exc)
    message = str(info.get("errmsg") or exc)
    if code in (11000, 11001):
        match = _INDEX_NAME.search(message)
        index = match.group(1) if match else None
        key = info.get("keyValue")
        shown = f" {dict(key)!r}" if isinstance(key, Mapping) else ""
        return UniqueViolation(
            f"{name}: duplicate key{shown} violates unique index {index or '?'!r}",
            constraint=index,
            table=name,
        )
    if code == 121:
        details = info.get("errInfo", {})
        return ConstraintError(
            f"{name}: document failed validation of collection {name!r}'s validator"
            f" ({message}; {details!r})",
            table=name,
        )
    return BackendError(f"MongoDB error on {name}: {message}")


__all__ = ["MongoBackend"]
