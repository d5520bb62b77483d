"""PostgreSQL for the tests: the server from XREPO_TEST_PG_DSN (default: the machine's local
server, trust auth), a fresh database per use, and Chinook loaded once per session.

Locally a missing server skips with the reason; with CI=true it fails (a skipped integration
test in CI is a failed one).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("XREPO_DATASETS", ROOT.parent / "shared" / "datasets"))
CHINOOK_SQL = DATASETS / "postgres" / "chinook" / "Chinook_PostgreSql_SerialPKs.sql"


#: The generated shop repos' ``customers`` table in PostgreSQL (examples/shop.db holds it in
#: SQLite): tests run ``generated.shop.CustomerRepo`` against it.
SHOP_CUSTOMERS_SQL = """
CREATE TABLE customers (
  id serial PRIMARY KEY,
  email varchar(254) NOT NULL UNIQUE,
  full_name text NOT NULL,
  tier text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
  website text,
  created_at timestamp,
  updated_at timestamp,
  deleted_at timestamp
);
"""


def admin_dsn() -> str:
    return os.environ.get("XREPO_TEST_PG_DSN", DEFAULT_DSN)


def dsn_for(database: str) -> str:
    base = admin_dsn()
    return base.rsplit("/", 1)[0] + "/" + database


def _psql(dsn: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def server_or_skip() -> None:
    probe = _psql(admin_dsn(), "-c", "select 1")
    if probe.returncode == 0:
        return
    reason = f"PostgreSQL not reachable at {admin_dsn()}: {probe.stderr.strip()[:200]}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI must start it: see .ci/run)")
    pytest.skip(reason + " (set XREPO_TEST_PG_DSN or start the server)")


@contextmanager
def fresh_database(prefix: str = "xrepo_t") -> Iterator[str]:
    """CREATE DATABASE <unique>; yield its DSN; DROP it afterwards."""
    server_or_skip()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    done = _psql(admin_dsn(), "-c", f'CREATE DATABASE "{name}"')
    if done.returncode != 0:
        pytest.fail(f"cannot create database {name}: {done.stderr.strip()}")
    try:
        yield dsn_for(name)
    finally:
        _psql(admin_dsn(), "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sql(dsn: str, sql: str) -> None:
    done = _psql(dsn, stdin=sql)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")


def chinook_script() -> str:
    """The dataset's script minus its own DROP/CREATE DATABASE and ``\\c``: it loads into the
    database we give it (parallel runs never share one)."""
    lines = CHINOOK_SQL.read_text(encoding="utf-8").splitlines()
    keep = [ln for ln in lines if not ln.startswith(("DROP DATABASE", "CREATE DATABASE", "\\c "))]
    return "\n".join(keep) + "\n"


def load_chinook(dsn: str) -> None:
    done = _psql(dsn, stdin=chinook_script())
    if done.returncode != 0:
        raise RuntimeError(f"loading Chinook failed: {done.stderr.strip()[:500]}")
