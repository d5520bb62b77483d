"""Third opinion: mongomock (a test-only peer, pinned 4.3.0) agrees with the memory engine on
pipelines whose semantics both implement (documents without aliases; results compared as sets
where MongoDB leaves the order unspecified)."""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from pydantic import Field

from xrepo.runtime import MaterializedRepo, RepoMetadata, XObjPrototype


class Doc(XObjPrototype):
    id: int
    g: str | None = None
    n: int | None = None
    x: float | None = None
    tags: list[str] = Field(default_factory=list)


class Docs(MaterializedRepo[Doc, Doc, Doc, dict[str, Any], str]):
    model = create_model = update_model = Doc
    metadata = RepoMetadata(name="docs", collection="docs", primary_key=("id",))


DATA = [
    {"id": 1, "g": "a", "n": 3, "x": 1.5, "tags": ["p", "q"]},
    {"id": 2, "g": "b", "n": None, "x": 2.0, "tags": []},
    {"id": 3, "g": "a", "n": 1, "x": None, "tags": ["q"]},
    {"id": 4, "g": None, "n": 7, "x": 0.5, "tags": ["r", "p"]},
    {"id": 5, "g": "b", "n": 2, "x": 4.0, "tags": ["p"]},
]
PIPELINES: list[list[dict[str, Any]]] = [
    [{"$match": {"n": {"$gte": 2}}}, {"$sort": {"n": -1}}, {"$project": {"_id": 0, "id": 1}}],
    [{"$group": {"_id": "$g", "s": {"$sum": "$n"}, "a": {"$avg": "$x"}, "c": {"$sum": 1}}}],
    [{"$group": {"_id": "$g", "lo": {"$min": "$n"}, "hi": {"$max": "$x"}}}],
    [{"$sort": {"id": 1}}, {"$group": {"_id": "$g", "ids": {"$push": "$id"},
                                       "f": {"$first": "$n"}, "l": {"$last": "$x"}}}],
    [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}}],
    [{"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": True}},
     {"$project": {"_id": 0, "id": 1, "tags": 1}}],
    [{"$addFields": {"y": {"$multiply": ["$n", 2]}}}, {"$match": {"y": {"$gt": 3}}},
     {"$project": {"_id": 0, "id": 1, "y": 1}}],
    [{"$project": {"_id": 0, "id": 1, "big": {"$cond": [{"$gt": ["$n", 2]}, "yes", "no"]},
                   "label": {"$concat": ["$g", "-x"]}}}],
    [{"$match": {"g": "a"}}, {"$count": "total"}],
    [{"$sort": {"x": 1, "id": 1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"_id": 0, "id": 1}}],
]  # fmt: skip


def key(row: dict[str, Any]) -> str:
    return repr(sorted(row.items(), key=lambda kv: kv[0]))


@pytest.mark.parametrize("pipeline", PIPELINES, ids=[str(i) for i in range(len(PIPELINES))])
async def test_memory_engine_agrees_with_mongomock(pipeline: list[dict[str, Any]]) -> None:
    coll = mongomock.MongoClient().db.docs
    coll.insert_many([{**d, "_id": d["id"]} for d in DATA])
    theirs = list(coll.aggregate(pipeline))
    ours = await Docs(DATA).aggregate(pipeline)
    ordered = any("$sort" in s for s in pipeline) and not any("$group" in s for s in pipeline)
    # our rows carry no _id unless a stage makes one; mongomock's documents always have it
    if not any("$group" in s for s in pipeline) and not any("$project" in s for s in pipeline):
        theirs = [{k: v for k, v in r.items() if k != "_id"} for r in theirs]
    if ordered:
        assert ours == theirs
    else:
        assert sorted(map(key, ours)) == sorted(map(key, theirs))
