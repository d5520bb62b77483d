"""Shared pytest options and fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import settings

# CI runs the same generated examples every time (a red CI is then reproducible and a green one
# stays green); local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*/expected from the current generator (or XREPO_REGEN_GOLDEN=1)",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return (
        bool(request.config.getoption("--regen-golden"))
        or os.environ.get("XREPO_REGEN_GOLDEN") == "1"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print case counts that test modules collect (``terminal_report()`` in the module),
    whether or not output capture is on."""
    for name, module in sorted(sys.modules.items()):
        report = getattr(module, "terminal_report", None)
        if name.startswith("test_") and callable(report):
            for line in report():
                terminalreporter.write_line(line)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    from pg import fresh_database

    with fresh_database() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def chinook_dsn() -> Iterator[str]:
    """Chinook (../shared/datasets) loaded once per session into its own database. Read-only
    by convention: tests that write use ``pg_dsn`` or a transaction they roll back."""
    from pg import fresh_database, load_chinook

    with fresh_database("xrepo_chinook") as dsn:
        load_chinook(dsn)
        yield dsn


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """A MongoDB server for the session (see tests/mongo.py)."""
    from mongo import mongo_server

    with mongo_server() as url:
        yield url


@pytest.fixture
def mongo_db(mongo_url: str) -> Iterator[tuple[str, str]]:
    """(url, database name) of a fresh database for one test, dropped afterwards."""
    from mongo import scratch_database

    with scratch_database(mongo_url) as db:
        yield db


@pytest.fixture(scope="session")
def mongo_datasets(mongo_url: str) -> Iterator[tuple[str, str]]:
    """(url, database) holding books, restaurant, grades and products from ../shared/datasets.
    Read-only by convention."""
    from mongo import load_dataset, scratch_database

    with scratch_database(mongo_url, "xrepo_datasets") as (url, name):
        load_dataset(url, name, ("books", "restaurant", "grades", "products"))
        yield url, name


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(url, key prefix) unique to one test; its keys are deleted afterwards."""
    from redis_server import delete_prefix, redis_url, server_or_skip, unique_prefix

    server_or_skip()
    prefix = unique_prefix()
    yield redis_url(), prefix
    delete_prefix(prefix)
