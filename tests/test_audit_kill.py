"""A writer killed at random moments leaves no change without its entry and no entry without
its change (PostgreSQL, DatabaseAuditSink in the same database).

A child process writes through an audited ConnectedRepo in a loop — creates, and updates that
bump a row's ``version`` — and is SIGKILLed at a random moment, several times (each restart
carries on from what the database holds).  Whatever transaction was in flight is rolled back
by the server.  Then, per row: one ``create`` entry with version 0 and one ``update`` entry
for each version 1..v it reached, chained (before = after - 1); and no entry names a row that
does not exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from xrepo.runtime.backends.postgres import PostgresBackend

KILLS = 4

CHILD = r"""
import asyncio, random, sys
from typing import Any

from xrepo.runtime import ConnectedRepo, DatabaseAuditSink, RepoMetadata, XObjPrototype
from xrepo.runtime.backends.postgres import PostgresBackend


class Row(XObjPrototype):
    id: int
    version: int
    note: str


class RowUpdate(XObjPrototype):
    version: int | None = None
    note: str | None = None


class Rows(ConnectedRepo[Row, Row, RowUpdate, dict[str, Any], str]):
    model = create_model = Row
    update_model = RowUpdate
    metadata = RepoMetadata(name="rows", collection="rows", primary_key=("id",), enable_audit=True)


async def main(dsn: str, seed: int) -> None:
    rng = random.Random(seed)
    backend = PostgresBackend(dsn, min_size=1, max_size=1)
    repo = Rows(backend)
    repo.audit_sink = DatabaseAuditSink(backend)
    versions = {r.id: r.version for r in await repo.list()}
    print("ready", flush=True)
    while True:
        if not versions or rng.random() < 0.3:
            new = max(versions, default=0) + 1
            await repo.create({"id": new, "version": 0, "note": "x" * rng.randint(0, 2000)})
            versions[new] = 0
        else:
            key = rng.choice(sorted(versions))
            await repo.update(key, {"version": versions[key] + 1, "note": str(rng.random())})
            versions[key] += 1


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

DDL = "CREATE TABLE rows (id integer PRIMARY KEY, version integer NOT NULL, note text NOT NULL)"


def _run_and_kill(script: Path, dsn: str, seed: int, rng: random.Random) -> None:
    child = subprocess.Popen(
        [sys.executable, str(script), dsn, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # connected and writing from here on
        assert line.strip() == "ready", child.stderr.read() if child.stderr else ""
        time.sleep(rng.uniform(0.05, 0.3))
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL


async def _state(dsn: str) -> tuple[dict[int, int], list[tuple[str, int, dict[str, object]]]]:
    backend = PostgresBackend(dsn, min_size=1, max_size=1)
    try:
        rows = {r["id"]: r["version"] for r in await backend.fetch("SELECT id, version FROM rows")}
        log = [
            (r["operation"], json.loads(r["entity_id"]), json.loads(r["changes"]))
            for r in await backend.fetch(
                "SELECT operation, entity_id, changes FROM xrepo_audit ORDER BY seq"
            )
        ]
    finally:
        await backend.close()
    return rows, log


def test_killed_writer_leaves_changes_and_entries_paired(pg_dsn: str, tmp_path: Path) -> None:
    from pg import run_sql

    run_sql(pg_dsn, DDL)
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    rng = random.Random()
    for n in range(KILLS):
        _run_and_kill(script, pg_dsn, rng.randrange(10**9) + n, rng)
    rows, log = asyncio.run(_state(pg_dsn))
    assert len(rows) > 1 and len(log) > len(rows)  # the children did write
    by_entity: dict[int, list[tuple[str, dict[str, object]]]] = {}
    for op, entity, changes in log:
        assert entity in rows, f"entry without its change: {op} {entity}"
        by_entity.setdefault(entity, []).append((op, changes))
    for key, version in rows.items():
        entries = by_entity.get(key, [])
        assert entries, f"row {key} changed without an entry"
        (op, first), *updates = entries
        assert op == "create" and first["after"]["version"] == 0, (key, entries[0])
        got = [(c["before"]["version"], c["after"]["version"]) for _, c in updates]
        assert [op for op, _ in updates] == ["update"] * len(updates)
        assert got == [(v - 1, v) for v in range(1, version + 1)], (key, version, got)
