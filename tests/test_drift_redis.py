"""Scripted drift on Redis hashes: key patterns are collections, hash fields are fields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from drift_cli import baseline, live_check, write_config


def _hset_all(r: redis.Redis, prefix: str, n: int, **values: str) -> None:
    for i in range(n):
        r.hset(f"{prefix}user:{i}", mapping=values)


SCENARIOS: dict[
    str, tuple[Callable[[redis.Redis, str], object], set[tuple[str, str | None, str, str]]]
] = {
    "a hash field appears on some keys": (
        lambda r, p: _hset_all(r, p, 5, nickname="nick"),
        {
            ("user:{id}", "nickname", "additive", "field_added"),
        },
    ),
    "a hash field disappears": (
        lambda r, p: [r.hdel(f"{p}user:{i}", "age") for i in range(20)],
        {("user:{id}", "age", "breaking", "field_removed")},
    ),
    "a hash field's values change type": (
        lambda r, p: _hset_all(r, p, 20, age="unknown"),
        {
            ("user:{id}", "age", "breaking", "type"),
            ("user:{id}", "age", "statistical", "type_share"),
        },
    ),
    "a new key pattern": (
        lambda r, p: [r.hset(f"{p}session:{i}", mapping={"user": "1"}) for i in range(3)],
        {("session:{id}", None, "additive", "collection_added")},
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_redis_drift(
    scenario: str,
    redis_prefix: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, prefix = redis_prefix
    mutate, expected = SCENARIOS[scenario]
    r = redis.Redis.from_url(url)
    for i in range(20):
        r.hset(f"{prefix}user:{i}", mapping={"name": f"u{i}", "age": str(20 + i)})
    monkeypatch.setenv("XREPO_DRIFT_REDIS", url)
    write_config(
        tmp_path,
        f'name = "cache"\nkind = "redis"\nurl_env = "XREPO_DRIFT_REDIS"\nprefix = "{prefix}"',
    )
    baseline(tmp_path)
    mutate(r, prefix)
    code, changes = live_check(tmp_path)
    assert changes == expected
    assert code == 1
