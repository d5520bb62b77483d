"""Shared pytest options and fixtures."""

from __future__ import annotations

import os

import pytest


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
