"""Redis inspector: patterns, id types, typed hash strings, JSON strings, other Redis types, TTL
statistics, the SCAN budget (counted commands), declared patterns, determinism, errors."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.introspect.redis import (
    PatternConfig,
    inspect_redis,
    inspect_redis_async,
    inspect_redis_detailed,
    redis_value_kind,
)
from xrepo.runtime.introspect.redis_patterns import (
    KeyPattern,
    PatternSyntaxError,
    glob_escape,
    group_keys,
    segment_is_id,
)
from xrepo.runtime.schema import FieldSpec, LogicalType, TypeSpec, dumps_snapshot


class CountingPipeline(Pipeline):
    """Counts every queued command by name and every round trip (``execute`` / immediate)."""

    counter: Counter[str]

    def pipeline_execute_command(self, *args: Any, **options: Any) -> Any:
        self.counter[str(args[0]).upper()] += 1
        return super().pipeline_execute_command(*args, **options)

    async def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        self.counter[str(args[0]).upper()] += 1
        self.counter["round_trips"] += 1
        return await super().immediate_execute_command(*args, **options)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self.command_stack:
            self.counter["round_trips"] += 1
            if self.is_transaction or self.explicit_transaction:
                self.counter["transactions"] += 1  # MULTI ... EXEC, sent with the batch
        return await super().execute(raise_on_error)


class CountingRedis(aioredis.Redis):
    """A redis.asyncio client that counts commands (``calls``) and round trips."""

    calls: Counter[str]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Any:
        pipe = CountingPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.counter = self.calls
        return pipe

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls[str(args[0]).upper()] += 1
        self.calls["round_trips"] += 1
        if str(args[0]).upper() == "EVAL":
            self.calls["EVAL_KEYS"] += int(args[2])  # keys the script reads
        return await super().execute_command(*args, **options)


def counting_client(url: str) -> CountingRedis:
    client = CountingRedis.from_url(url, decode_responses=False)
    client.calls = Counter()
    return client


@pytest.fixture
async def redis_db(redis_prefix: tuple[str, str]) -> AsyncIterator[tuple[Any, str, str]]:
    url, prefix = redis_prefix
    client = aioredis.from_url(url)
    yield client, url, prefix
    await client.aclose()


USER_IDS = range(1, 31)
DOC_IDS = [uuid.UUID(int=i) for i in range(1, 13)]


async def populate(client: Any, p: str) -> None:
    pipe = client.pipeline(transaction=False)
    for i in USER_IDS:
        user = {
            "name": f"user {i}",
            "age": str(20 + i),
            "score": f"{i * 1.5}",
            "active": "true" if i % 2 else "false",
            "born": f"1990-01-{i % 28 + 1:02d}",
            "seen": f"2024-05-01T10:00:{i % 60:02d}+00:00",
            "prefs": json.dumps({"theme": "dark", "size": i}),
        }
        if i % 3 == 0:
            user["nickname"] = f"nick{i}"
        pipe.hset(f"{p}user:{i}", mapping=user)
        if i <= 10:
            pipe.expire(f"{p}user:{i}", 1000 + i * 10)
    for n, doc_id in enumerate(DOC_IDS):
        doc = {"title": f"doc {n}", "pages": n, "published": "2023-02-03", "tags": ["a", "b"]}
        pipe.set(f"{p}doc:{doc_id}", json.dumps(doc))
    for n in range(12):
        pipe.set(f"{p}counter:page{n:02d}x", str(n * 7))  # str ids by variation (12 > 10)
        pipe.sadd(f"{p}team:{n}:members", "a", "b")
        pipe.zadd(f"{p}board:{n}", {"x": 1.0})
        pipe.rpush(f"{p}queue:{n}", "job")
    pipe.set(f"{p}config", "plain text")
    await pipe.execute()


async def test_patterns_types_fields_and_ttl(redis_db: tuple[Any, str, str]) -> None:
    client, url, p = redis_db
    await populate(client, p)
    snap = await inspect_redis_async(url, name="cache", prefix=p)
    names = [c.name for c in snap.collections]
    assert names == [
        "board:{id}", "config", "counter:{id}", "doc:{id}", "queue:{id}", "team:{id}:members",
        "user:{id}",
    ]  # fmt: skip
    assert snap.source.kind == "redis" and snap.warnings == ()
    kinds = {c.name: redis_value_kind(c) for c in snap.collections}
    assert kinds == {
        "board:{id}": "zset", "config": "string", "counter:{id}": "string", "doc:{id}": "json",
        "queue:{id}": "list", "team:{id}:members": "set", "user:{id}": "hash",
    }  # fmt: skip

    user = snap.collection("user:{id}")
    assert user.kind == "key_pattern" and user.namespace == p and user.primary_key == ("id",)
    types = {f.name: f.type.kind for f in user.fields}
    assert user.fields[0].name == "id" and user.fields[0].source_type == "key"
    assert types == {
        "id": LogicalType.INT, "active": LogicalType.BOOL, "age": LogicalType.INT,
        "born": LogicalType.DATE, "name": LogicalType.STR, "nickname": LogicalType.STR,
        "prefs": LogicalType.OBJECT, "score": LogicalType.FLOAT, "seen": LogicalType.DATETIME,
    }  # fmt: skip
    assert user.field("seen").type.tz_aware is True
    nick = user.field("nickname")
    assert not nick.required and nick.nullable  # absent in 2 of 3 hashes
    assert user.field("age").required and not user.field("age").nullable
    assert user.stats is not None and user.stats.row_estimate == 30 and user.stats.sampled == 30
    assert user.stats.fields["nickname"].presence_ratio == round(10 / 30, 4)
    assert user.stats.fields["prefs.size"].type_histogram == {"int": 30}
    ttl = user.stats.ttl
    assert ttl is not None and ttl.share == round(10 / 30, 4)
    assert ttl.min_seconds == 1010 and ttl.max_seconds == 1100 and ttl.median_seconds == 1055

    doc = snap.collection("doc:{id}")
    assert doc.field("id").type.kind == LogicalType.UUID
    assert {f.name: f.type.kind for f in doc.fields[1:]} == {
        "pages": LogicalType.INT, "published": LogicalType.DATE, "tags": LogicalType.ARRAY,
        "title": LogicalType.STR,
    }  # fmt: skip
    assert doc.stats is not None and doc.stats.ttl is not None and doc.stats.ttl.share == 0.0

    counter = snap.collection("counter:{id}")
    assert counter.field("id").type.kind == LogicalType.STR
    assert counter.field("value").type.kind == LogicalType.INT
    team = snap.collection("team:{id}:members")
    assert team.field("id").type.kind == LogicalType.INT
    assert team.field("members").type.items == TypeSpec(kind=LogicalType.STR)
    board = snap.collection("board:{id}")
    assert board.field("members").source_type == "zset"
    assert snap.collection("config").primary_key == ()


async def test_budget_is_respected_and_reported(redis_db: tuple[Any, str, str]) -> None:
    client, url, p = redis_db
    pipe = client.pipeline(transaction=False)
    for i in range(5000):
        pipe.hset(f"{p}item:{i}", mapping={"n": str(i)})
    await pipe.execute()
    counting = counting_client(url)
    try:
        result = await inspect_redis_detailed(
            url, name="big", prefix=p, scan_budget=1000, scan_count=300, client=counting
        )
    finally:
        await counting.aclose()
    calls = counting.calls
    assert result.budget_reached and result.keys_examined == 1000
    # TYPE + PTTL of each key: in a Lua call per batch (or a pipeline where scripting is off)
    assert calls["EVAL_KEYS"] + calls["TYPE"] == 1000 and calls["HGETALL"] <= 1000
    assert calls["KEYS"] == 0 and calls["SCAN"] == result.scan_calls
    # pipelined: one round trip per batch of keys, not one per key
    assert calls["round_trips"] <= calls["SCAN"] + 10
    snap = result.snapshot
    assert snap.warnings[0].startswith("scan budget reached: examined 1000 keys")
    item = snap.collection("item:{id}")
    assert item.stats is not None and item.stats.row_estimate == 1000

    full = await inspect_redis_detailed(url, name="big", prefix=p, sample_per_pattern=50)
    assert not full.budget_reached and full.keys_examined == 5000
    stats = full.snapshot.collection("item:{id}").stats
    assert stats is not None and stats.row_estimate == 5000 and stats.sampled == 50


async def test_declared_patterns_take_precedence(redis_db: tuple[Any, str, str]) -> None:
    client, url, p = redis_db
    for i in range(3):
        await client.hset(f"{p}acct:{i}:x", mapping={"balance": "10.50", "owner": "o"})
    schema = {"type": "object", "properties": {"balance": {"type": "string"}}}
    seen: list[tuple[Mapping[str, Any], str]] = []

    def reader(value_schema: Mapping[str, Any], pattern: str) -> Sequence[FieldSpec]:
        seen.append((value_schema, pattern))
        return [
            FieldSpec(name="code", type=TypeSpec(kind=LogicalType.STR)),
            FieldSpec(name="balance", type=TypeSpec(kind=LogicalType.DECIMAL), required=True),
        ]

    declared = [
        PatternConfig("acct:{code}", schema=schema),
        PatternConfig("order:{id}", kind="json"),
    ]
    snap = await inspect_redis_async(
        url, name="s", prefix=p, patterns=declared, schema_reader=reader
    )
    assert seen == [(schema, "acct:{code}")]
    acct = snap.collection("acct:{code}")  # declared: "acct:0:x" is its key "0:x"
    assert [f.name for f in acct.fields] == ["code", "balance"]
    assert acct.field("code").type.kind == LogicalType.STR and acct.primary_key == ("code",)
    assert acct.field("balance").type.kind == LogicalType.DECIMAL  # the schema, not "10.50"
    order = snap.collection("order:{id}")
    assert redis_value_kind(order) == "json" and order.stats is not None
    assert order.stats.row_estimate == 0
    assert "order:{id}: declared, but no key of it was found" in snap.warnings

    unread = await inspect_redis_async(url, name="s", prefix=p, patterns=declared[:1])
    assert any("no schema reader was given" in w for w in unread.warnings)
    assert unread.collection("acct:{code}").field("balance").type.kind == LogicalType.DECIMAL

    with pytest.raises(InspectError, match="bad placeholder"):
        await inspect_redis_async(url, name="s", patterns=[PatternConfig("acct:{1x}")])


async def test_inspection_is_deterministic(redis_db: tuple[Any, str, str]) -> None:
    client, url, p = redis_db
    await populate(client, p)
    first = dumps_snapshot(await inspect_redis_async(url, name="c", prefix=p))
    second = dumps_snapshot(await inspect_redis_async(url, name="c", prefix=p))
    assert first == second


def test_sync_wrapper_and_unreachable_server(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    snap = inspect_redis(url, name="empty", prefix=prefix)
    assert snap.collections == ()
    with pytest.raises(InspectError) as info:
        inspect_redis("redis://:secret@127.0.0.1:1/0", name="down")
    message = str(info.value)
    assert "\n" not in message and "down: cannot reach Redis" in message
    assert "secret" not in message


# -- patterns (no server) ---------------------------------------------------------------------


def test_key_pattern_syntax_and_matching() -> None:
    pat = KeyPattern.parse("we*rd{{x}}:{owner}:item:{id}")
    assert pat.placeholders == ("owner", "id") and pat.text == "we*rd{{x}}:{owner}:item:{id}"
    assert pat.key({"owner": "a?", "id": "7"}, "p:") == "p:we*rd{x}:a?:item:7"
    assert pat.parse_key("p:we*rd{x}:a?:item:7", "p:") == {"owner": "a?", "id": "7"}
    assert pat.parse_key("p:weXrd{x}:a:item:7", "p:") is None
    assert pat.glob("p[1]:") == r"p\[1\]:we\*rd{x}:*:item:*"
    assert pat.glob("", {"owner": "a*"}) == r"we\*rd{x}:a\*:item:*"
    assert glob_escape("a\\b?") == "a\\\\b\\?"
    for bad in ["", "a:{", "a:{}", "a}", "{a}{b}", "{a}:{a}"]:
        with pytest.raises(PatternSyntaxError):
            KeyPattern.parse(bad)


def test_grouping_rules() -> None:
    keys = [f"user:{i}" for i in range(5)] + [f"user:{i}:cart" for i in range(3)]
    keys += [f"s:{w}" for w in ["ann", "bob", "cy", "dee", "ed", "flo", "gus", "hal", "ivy", "jo"]]
    keys += ["s2:ann", "s2:bob"]  # too few distinct values: two literal keys
    keys += [f"o:{'5f1d7a0b9c8e7f6a5b4c3d2e'[:-1]}{i}" for i in range(3)]
    keys += ["acct:007", "acct:12"]  # leading zeros: str, not int
    groups = group_keys(keys)
    assert sorted(groups) == [
        "acct:{id}", "o:{id}", "s2:ann", "s2:bob", "s:{id}", "user:{id}", "user:{id}:cart",
    ]  # fmt: skip
    assert groups["user:{id}"].id_types == {"id": "int"}
    assert groups["s:{id}"].id_types == {"id": "str"} and len(groups["s:{id}"].keys) == 10
    assert groups["o:{id}"].id_types == {"id": "str"}
    assert groups["acct:{id}"].id_types == {"id": "str"}
    assert group_keys(["a:1:b:2"])["a:{a_id}:b:{id}"].id_types == {"a_id": "int", "id": "int"}
    assert segment_is_id("deadbeef1") and not segment_is_id("cafebabe") and segment_is_id("-3")
    assert not segment_is_id("page")
