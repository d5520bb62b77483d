"""MongoDB for the tests: XREPO_TEST_MONGO_URL when set (a real mongod works), otherwise a
SecantusDB server (a MongoDB wire-protocol server from PyPI, test dependency only) started for
the session on a free port and stopped by PID.

Locally an unusable server skips with the reason; with CI=true it fails.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("XREPO_DATASETS", ROOT.parent / "shared" / "datasets"))
MONGO_FILES = DATASETS / "mongo"


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(port: int, proc: subprocess.Popen[bytes], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def mongo_server() -> Iterator[str]:
    """Yield a MongoDB URL for the whole session."""
    url = os.environ.get("XREPO_TEST_MONGO_URL")
    if url:
        yield url
        return
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    if not Path(exe).exists():
        _fail_or_skip(
            "no XREPO_TEST_MONGO_URL and secantusd-py is not installed (pip install -e '.[dev]')"
        )
    port = _free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            ":memory:",
            "--cache-size",
            "256M",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not _wait(port, proc):
            _fail_or_skip(f"SecantusDB did not start on port {port}")
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def database_name(prefix: str = "xrepo_t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextmanager
def scratch_database(url: str, prefix: str = "xrepo_t") -> Iterator[tuple[str, str]]:
    """(url, name) of a database nothing else uses, dropped when the block ends."""
    from pymongo import MongoClient

    name = database_name(prefix)
    try:
        yield url, name
    finally:
        with MongoClient(url) as client:
            client.drop_database(name)


def from_bson(value: Any) -> Any:
    """A value read back from MongoDB as the other backends give it: BSON has no date type,
    so a ``date`` comes back from a pipeline as midnight UTC."""
    if isinstance(value, datetime.datetime):
        assert value.time() == datetime.time(0) and value.utcoffset() == datetime.timedelta(0)
        return value.date()
    if isinstance(value, dict):
        return {k: from_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_bson(v) for v in value]
    return value


def load_dataset(client_url: str, database: str, names: tuple[str, ...]) -> None:
    """Load the dataset files (extended JSON, one document per line) with PyMongo, synchronously."""
    from bson import json_util
    from pymongo import MongoClient

    with MongoClient(client_url) as client:
        db = client[database]
        for name in names:
            lines = (MONGO_FILES / f"{name}.json").read_text(encoding="utf-8").splitlines()
            docs = [json_util.loads(line) for line in lines if line.strip()]
            db[name].insert_many(docs, ordered=True)
