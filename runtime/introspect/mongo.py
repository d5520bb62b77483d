"""MongoDB inspector on PyMongo's async API: a deterministic sample typed field by field.

What is read, per collection and view whose name matches ``include`` and no ``exclude`` (fnmatch,
case-sensitive; ``system.*`` never):

* **Documents**: ``sample_size`` of them chosen deterministically (evenly spaced windows in
  ``_id`` order, :mod:`.mongo_sample`), or all with ``full_scan``. Re-inspecting an unchanged
  collection reads the same documents in the same order, so the snapshot is byte-identical.
* **Types** by :class:`~.memory.DocumentAccumulator` (nested documents → object fields at any
  depth, arrays → item types, several kinds → a union whose frequencies are the stats type
  histogram; ``required`` only when every sampled document has the field; null makes it
  nullable). BSON types map as :mod:`.mongo_types` tabulates. Field names are kept verbatim —
  ``.``, ``$``, spaces, non-ASCII — the generator sanitises them and aliases back.
* **Maps**: sub-documents keyed by data become ``object`` with ``map_values`` (:mod:`.mongo_maps`;
  decided from the first :data:`DETECT_DOCS` documents read).
* **Minority types**: a kind under ``minority_threshold`` of a field's values is a warning, not a
  union member (:mod:`.minority`).
* **Validator**: a ``$jsonSchema`` validator is the authoritative schema of its collection. It is
  read by ``validator_reader`` (the CLI passes
  :func:`xrepo.codegen.inspect.mongo_validator.read_validator`, which goes through the same JSON
  Schema reader as the ``jsonschema`` source kind; the runtime cannot import the compiler).
  Declared fields take the validator's types; fields seen in documents but not declared are
  added from the sample with a warning; ``_id`` comes from the sample when the validator leaves
  it implicit. The sampled stats sit beside them. Validator query operators other than
  ``$jsonSchema`` are kept as a check (relaxed extended JSON). Without a reader, the fields are
  sampled and a warning says the validator was not applied.
* **Indexes** (``_id_`` aside: it is the primary key): keys in order, unique, sparse, partial
  (``partialFilterExpression`` as relaxed extended JSON), TTL seconds; wildcard keys mark the
  index ``expression``; text indexes list their weighted fields.
* **Views**: kind ``view``, sampled like collections (the server runs their pipeline).
* **Stats** (volatile): document count, data size and average document size from ``$collStats``
  (the ``collStats`` command on servers without it); views count their documents.

The primary key is ``("_id",)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from ..schema import (
    CheckSpec,
    CollectionKind,
    CollectionSpec,
    FieldSpec,
    IndexSpec,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
)
from .base import InspectError, Progress, synchronous
from .memory import DocumentAccumulator, documents_collection, field_order
from .minority import apply_minority_threshold
from .mongo_maps import detect_maps, prepare
from .mongo_sample import Window, plan_windows, read_sample
from .mongo_types import LOSSY, BsonNotes, Path, normalise, render_path

__all__ = ["DETECT_DOCS", "ValidatorReader", "inspect_mongo", "inspect_mongo_async"]

#: Documents the map rule looks at before typing starts (all of them when the sample is smaller).
DETECT_DOCS = 10_000
SERVER_SELECTION_MS = 3000

#: ``(the $jsonSchema document, collection name) → the collection it declares``.
ValidatorReader = Callable[[Mapping[str, Any], str], CollectionSpec]


async def inspect_mongo_async(
    url: str,
    *,
    name: str,
    database: str | None = None,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    sample_size: int = 1000,
    full_scan: bool = False,
    minority_threshold: float = 0.01,
    validator_reader: ValidatorReader | None = None,
    progress: Progress | None = None,
) -> Snapshot:
    """Snapshot (source ``name``, kind ``mongo``) of one database (see the module docstring).

    ``database`` defaults to the URL's path (``mongodb://host/shop``). Problems raise
    :class:`InspectError` with one line that never contains the URL's credentials.
    """
    if sample_size < 1:
        raise InspectError(f"mongo source {name!r}: sample_size must be at least 1")
    if not 0 <= minority_threshold < 1:
        raise InspectError(
            f"mongo source {name!r}: minority_threshold must be in [0, 1) (a share of values)"
        )
    parsed = _parse_url(url, name)
    db_name = database or parsed.get("database")
    if not db_name:
        raise InspectError(
            f"mongo source {name!r}: no database: put it in the URL path "
            "(mongodb://host/<database>) or set the source's database"
        )
    client = _client(url, name, parsed)
    try:
        try:
            build = await client[db_name].command("buildInfo")
            infos = [
                info
                async for info in await client[db_name].list_collections()
                if _chosen(str(info["name"]), include, exclude)
            ]
            infos.sort(key=lambda info: str(info["name"]))
            inspector = _Inspector(
                db=client[db_name],
                sample_size=sample_size,
                full_scan=full_scan,
                minority_threshold=minority_threshold,
                validator_reader=validator_reader,
                progress=progress,
            )
            collections = [await inspector.collection(info) for info in infos]
        except InspectError:
            raise
        except Exception as exc:  # PyMongoError and its many subclasses, plus socket errors
            raise _driver_error(exc, name, db_name) from None
    finally:
        await client.close()
    version = ".".join(str(build.get("version", "")).split(".")[:2]) or None
    return Snapshot(
        source=SourceInfo(name=name, kind="mongo", server_version=version),
        collections=tuple(collections),
        warnings=tuple(sorted(set(inspector.warnings))),
    )


inspect_mongo = synchronous(inspect_mongo_async)


# -- connection ----------------------------------------------------------------------------------
def _parse_url(url: str, name: str) -> dict[str, Any]:
    try:
        from pymongo.uri_parser import parse_uri
    except ImportError:
        raise InspectError(
            f"mongo source {name!r}: pymongo is not installed (pip install 'xrepo[mongo]')"
        ) from None
    try:
        # srv URLs resolve DNS here; that is the connection's business, not the parser's
        parsed: dict[str, Any] = parse_uri(url, connect_timeout=SERVER_SELECTION_MS / 1000)
    except Exception as exc:  # InvalidURI, ConfigurationError, ValueError: never echo the URL
        raise InspectError(f"mongo source {name!r}: invalid MongoDB URL ({_short(exc)})") from None
    return parsed


def _client(url: str, name: str, parsed: Mapping[str, Any]) -> Any:
    try:
        from pymongo import AsyncMongoClient
    except ImportError:
        raise InspectError(
            f"mongo source {name!r}: pymongo is not installed (pip install 'xrepo[mongo]')"
        ) from None
    options: dict[str, Any] = {}
    if "serverselectiontimeoutms" not in {str(k).lower() for k in parsed.get("options", {})}:
        options["serverSelectionTimeoutMS"] = SERVER_SELECTION_MS  # the URL's own choice wins
    try:
        return AsyncMongoClient(
            url,
            **options,
            tz_aware=True,
            datetime_conversion="DATETIME_AUTO",
            appname="xrepo-inspect",
        )
    except Exception as exc:  # ConfigurationError / InvalidURI: their text never echoes the URL
        raise InspectError(f"mongo source {name!r}: invalid MongoDB URL ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # server selection errors append timeouts and a whole topology description
    for cut in (" (configured timeouts", ", Timeout:", ", full error:"):
        text = text.split(cut)[0]
    return text[:300]


def _driver_error(exc: Exception, name: str, database: str) -> InspectError:
    from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

    where = f"mongo source {name!r} (database {database!r})"
    if isinstance(exc, ServerSelectionTimeoutError):
        return InspectError(
            f"{where}: server not reachable ({_short(exc)}); is it running, and are the URL's "
            "host and port right?"
        )
    if isinstance(exc, OperationFailure) and exc.code in (13, 18):
        return InspectError(
            f"{where}: not allowed ({_short(exc)}); check the user in the URL and its roles "
            "(the inspector needs read and listCollections / listIndexes)"
        )
    return InspectError(f"{where}: {type(exc).__name__}: {_short(exc)}")


def _chosen(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    if name.startswith("system."):
        return False
    return any(fnmatchcase(name, p) for p in include) and not any(
        fnmatchcase(name, p) for p in exclude
    )


# -- one collection ------------------------------------------------------------------------------
class _Inspector:
    def __init__(
        self,
        *,
        db: Any,
        sample_size: int,
        full_scan: bool,
        minority_threshold: float,
        validator_reader: ValidatorReader | None,
        progress: Progress | None,
    ) -> None:
        self.db = db
        self.sample_size = sample_size
        self.full_scan = full_scan
        self.minority_threshold = minority_threshold
        self.validator_reader = validator_reader
        self.progress = progress
        self.warnings: list[str] = []
        self.read = 0

    async def collection(self, info: Mapping[str, Any]) -> CollectionSpec:
        cname = str(info["name"])
        kind: CollectionKind = "view" if info.get("type") == "view" else "collection"
        options: Mapping[str, Any] = info.get("options") or {}
        coll = self.db.get_collection(cname)
        count, size, avg = await self._storage(coll, kind)
        windows = None if self.full_scan else plan_windows(count, self.sample_size)
        docs = await self._sample(coll, cname, windows)
        self.warnings += apply_minority_threshold(docs, self.minority_threshold, where=cname)
        spec = documents_collection(docs, name=cname, kind=kind, row_estimate=count)
        fields = list(spec.fields)
        checks: list[CheckSpec] = []
        validator = options.get("validator")
        if kind == "collection" and isinstance(validator, Mapping) and validator:
            fields, checks = self._validator(cname, validator, fields)
        if kind == "collection" and not any(f.name == "_id" for f in fields):
            self.warnings.append(f"{cname}: no documents to sample; _id assumed to be an ObjectId")
            fields.append(
                FieldSpec(
                    name="_id",
                    type=TypeSpec(kind=LogicalType.OBJECT_ID),
                    nullable=False,
                    required=True,
                )
            )
        indexes = await self._indexes(coll, cname, fields) if kind == "collection" else []
        by_name = {f.name: f for f in fields}
        has_id = "_id" in by_name and (kind == "collection" or by_name["_id"].required)
        assert spec.stats is not None
        return CollectionSpec(
            name=cname,
            kind=kind,
            primary_key=("_id",) if has_id else (),
            fields=tuple(by_name[n] for n in field_order(by_name)),
            indexes=tuple(indexes),
            checks=tuple(checks),
            comment=_view_comment(options) if kind == "view" else None,
            stats=spec.stats.model_copy(update={"size_bytes": size, "avg_size_bytes": avg}),
        )

    async def _storage(self, coll: Any, kind: CollectionKind) -> tuple[int, int | None, int | None]:
        """(document count, data size, average document size) as the server reports them."""
        if kind == "view":
            return int(await coll.count_documents({})), None, None
        stats: Mapping[str, Any] | None = None
        try:
            rows = await (await coll.aggregate([{"$collStats": {"storageStats": {}}}])).to_list(1)
            stats = rows[0].get("storageStats") if rows else None
        except Exception:  # servers before $collStats, or without the privilege for it
            stats = None
        if stats is None:
            try:
                stats = await self.db.command("collStats", coll.name)
            except Exception:
                stats = None
        if stats is None or "count" not in stats:
            return int(await coll.estimated_document_count()), None, None
        size = stats.get("size")
        avg = stats.get("avgObjSize")
        return (
            int(stats["count"]),
            int(size) if isinstance(size, (int, float)) else None,
            int(avg) if isinstance(avg, (int, float)) else None,
        )

    async def _sample(
        self, coll: Any, cname: str, windows: list[Window] | None
    ) -> DocumentAccumulator:
        docs = DocumentAccumulator()
        notes = BsonNotes()
        pending: list[dict[str, Any]] | None = []

        def feed(batch: list[dict[str, Any]]) -> None:
            for doc in batch:
                docs.add(normalise(doc, (), notes))

        async for batch in read_sample(coll, windows):
            if pending is None:
                feed(batch)
            else:
                pending.extend(batch)
                if len(pending) >= DETECT_DOCS:
                    prepare(docs, detect_maps(pending))
                    feed(pending)
                    pending = None
            self.read += len(batch)
            if self.progress is not None:
                self.progress.update(self.read, None)
            del batch
        if pending is not None:
            prepare(docs, detect_maps(pending))
            feed(pending)
        self._notes(cname, notes, docs)
        return docs

    def _notes(self, cname: str, notes: BsonNotes, docs: DocumentAccumulator) -> None:
        maps = _map_paths(docs)
        collapsed: dict[tuple[str, str], int] = {}
        for (path, bson_type), n in notes.counts.items():
            key = (render_path(_collapse(path, maps)), bson_type)
            collapsed[key] = collapsed.get(key, 0) + n
        for (where, bson_type), n in sorted(collapsed.items()):
            why = LOSSY.get(bson_type, "have no logical type; typed unknown")
            self.warnings.append(f"{cname}.{where}: {n} sampled {bson_type} value(s) {why}")

    def _validator(
        self, cname: str, validator: Mapping[str, Any], sampled: list[FieldSpec]
    ) -> tuple[list[FieldSpec], list[CheckSpec]]:
        checks: list[CheckSpec] = []
        rest = {k: v for k, v in validator.items() if k != "$jsonSchema"}
        if rest:
            checks.append(CheckSpec(name="validator", expression=_ejson(rest)))
        schema = validator.get("$jsonSchema")
        if not isinstance(schema, Mapping):
            return sampled, checks
        if self.validator_reader is None:
            self.warnings.append(
                f"{cname}: has a $jsonSchema validator that was not applied (no validator "
                "reader given); fields are typed from the sample"
            )
            return sampled, checks
        try:
            declared = self.validator_reader(schema, cname)
        except InspectError:
            raise
        except Exception as exc:
            raise InspectError(
                f"{cname}: cannot read its $jsonSchema validator: {_short(exc)}"
            ) from None
        fields = list(declared.fields)
        names = {f.name for f in fields}
        for f in declared.fields:
            _unknown_warnings(f.type, f"{cname}.{f.name}", self.warnings)
        for f in sampled:
            if f.name in names:
                continue
            if f.name != "_id":
                self.warnings.append(
                    f"{cname}.{f.name}: in documents but not declared by the $jsonSchema "
                    "validator; typed from the sample"
                )
            fields.append(f)
        checks.extend(declared.checks)
        return fields, checks

    async def _indexes(self, coll: Any, cname: str, fields: list[FieldSpec]) -> list[IndexSpec]:
        out: list[IndexSpec] = []
        cursor = await coll.list_indexes()
        async for ix in cursor:
            ix_name = str(ix.get("name"))
            if ix_name == "_id_":
                continue
            key: Mapping[str, Any] = ix.get("key") or {}
            names = [str(k) for k in key]
            if "_fts" in names:  # text index: the weighted fields stand for the key
                weights: Mapping[str, Any] = ix.get("weights") or {}
                names = [n for n in names if n not in ("_fts", "_ftsx")]
                names += sorted(str(w) for w in weights)
            wildcard = any(n == "$**" or n.endswith(".$**") for n in names)
            if not wildcard:
                self._index_fields(cname, ix_name, names, fields)
            pfe = ix.get("partialFilterExpression")
            ttl = ix.get("expireAfterSeconds")
            out.append(
                IndexSpec(
                    name=ix_name,
                    fields=tuple(names),
                    unique=bool(ix.get("unique", False)),
                    partial=_ejson(pfe) if isinstance(pfe, Mapping) else None,
                    expression=wildcard,
                    sparse=bool(ix.get("sparse", False)),
                    ttl_seconds=int(ttl) if isinstance(ttl, (int, float)) else None,
                )
            )
        out.sort(key=lambda ix: ix.name)
        return out

    def _index_fields(
        self, cname: str, ix_name: str, names: list[str], fields: list[FieldSpec]
    ) -> None:
        """An index on a field the sample never saw keeps the field, typed unknown."""
        known = {f.name for f in fields}
        for n in names:
            if n not in known and n.split(".")[0] not in known:
                root = n.split(".")[0]
                self.warnings.append(
                    f"{cname}.{root}: index {ix_name!r} names it but no sampled document has "
                    "it; typed unknown"
                )
                fields.append(FieldSpec(name=root, type=TypeSpec(kind=LogicalType.UNKNOWN)))
                known.add(root)


def _view_comment(options: Mapping[str, Any]) -> str | None:
    view_on = options.get("viewOn")
    if not view_on:
        return None
    return f"view on {view_on}: {_ejson(list(options.get('pipeline') or []))}"


def _ejson(value: Any) -> str:
    from bson import json_util

    return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS, ensure_ascii=False)


def _map_paths(docs: DocumentAccumulator) -> set[Path]:
    """Places (as tagged paths) where the accumulator holds a map."""
    out: set[Path] = set()

    def document(doc: DocumentAccumulator, path: Path) -> None:
        if doc.map_values is not None:
            out.add(path)
            field(doc.map_values, (*path, ("v", "")))
        for key, acc in doc.fields.items():
            field(acc, (*path, ("k", key)))

    def field(acc: Any, path: Path) -> None:
        if acc._children is not None:
            document(acc._children, path)
        if acc.items is not None:
            field(acc.items, (*path, ("i", "")))

    document(docs, ())
    return out


def _collapse(path: Path, maps: set[Path]) -> Path:
    """A note's path with each key under a map replaced by the map's values step."""
    out: list[tuple[str, str]] = []
    for step in path:
        if step[0] == "k" and tuple(out) in maps:
            out.append(("v", ""))
        else:
            out.append(step)
    return tuple(out)


def _unknown_warnings(spec: TypeSpec, where: str, out: list[str]) -> None:
    if spec.kind == LogicalType.UNKNOWN:
        out.append(f"{where}: the $jsonSchema validator's type has no logical type; typed unknown")
    for f in spec.fields or ():
        _unknown_warnings(f.type, f"{where}.{f.name}", out)
    for child, suffix in ((spec.items, "[]"), (spec.map_values, ".*")):
        if child is not None:
            _unknown_warnings(child, where + suffix, out)
    for v in spec.variants or ():
        _unknown_warnings(v, where, out)
