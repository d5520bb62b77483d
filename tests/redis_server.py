"""Redis for the tests: XREPO_TEST_REDIS_URL (default: the machine's server on 127.0.0.1:6379).
Each test gets its own key prefix (never FLUSHDB: the server may be shared); locally an
unreachable server skips with the reason, with CI=true it fails."""

from __future__ import annotations

import os
import uuid

import pytest

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    return os.environ.get("XREPO_TEST_REDIS_URL", DEFAULT_URL)


def server_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=2).ping()
    except Exception as exc:  # any connection failure means: no usable server
        reason = f"Redis not reachable at {redis_url()}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must start it: see .ci/run)")
        pytest.skip(reason)


def unique_prefix() -> str:
    return f"xrepo_t_{uuid.uuid4().hex[:10]}:"


def delete_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url())
    batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
    while batch:
        client.delete(*batch[:1000])
        batch = batch[1000:]
