"""Typed surfaces of the committed generated repos: mypy --strict (the project's config,
pydantic plugin) accepts a correct program and reports each misuse on its own line — a
misspelt filter field, a wrong value type, a misspelt sort or distinct field, a bad operator
value type."""

from __future__ import annotations

import os
import re
from pathlib import Path

from typecheck import mypy_strict

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
import datetime

from generated.shop import Customer, CustomerRepo, OrderRepo
from xrepo.runtime import Page, SQLiteBackend


async def main() -> None:
    backend = SQLiteBackend("shop.db")
    customers = CustomerRepo(backend)
    orders = OrderRepo(backend)
    found = await customers.list(
        {"email": "a@example.com", "id": {"$gt": 3}, "tier__in": ["free", None]},
        sort=[("email", 1), ("id", -1)],
        limit=10,
    )
    names: list[str] = [c.full_name for c in found]
    page: Page[Customer] = await customers.page(
        {"website": None}, sort=[("full_name", -1)], limit=5
    )
    more = await customers.list(sort=[("full_name", -1)], limit=5, after=page.next_cursor)
    emails = await customers.distinct("email", {"id__gte": 1})
    recent = await orders.list(
        {"ordered_on": {"$gte": datetime.date(2024, 1, 1)}, "$or": [{"status": "paid"}]},
        sort=[("ordered_on", -1)],
    )
    one = await customers.find_one({"full_name": {"$regex": "^A", "$options": "i"}})
    print(names, more, emails, recent, one)
"""

# Each entry: (line of code, what mypy's message must name).  mypy names the TypedDict a
# filter document fails to match (inside ``F | None`` it does not single out the key).
BAD = [
    ('await repo.list({"emial": "a@example.com"})', '"CustomerFilter | None"'),
    ('await repo.list({"id": "x"})', '"CustomerFilter | None"'),
    ('await repo.list(sort=[("emial", 1)])', "'emial'"),
    ('await repo.distinct("emial")', "'emial'"),
    ('await repo.list({"id": {"$gt": "x"}})', '"CustomerFilter | None"'),
]


def _bad_program() -> tuple[str, list[int]]:
    head = [
        "from generated.shop import CustomerRepo",
        "from xrepo.runtime import SQLiteBackend",
        "",
        "",
        "async def main() -> None:",
        '    repo = CustomerRepo(SQLiteBackend("shop.db"))',
    ]
    lines = list(head)
    expected: list[int] = []
    for code, _ in BAD:
        lines.append(f"    {code}")
        expected.append(len(lines))  # 1-based line number of the statement just added
    return "\n".join(lines) + "\n", expected


def _errors(output: str, name: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line in output.splitlines():
        m = re.match(rf".*{re.escape(name)}:(\d+): error: (.*)$", line)
        if m:
            found.setdefault(int(m.group(1)), []).append(m.group(2))
    return found


def test_mypy_accepts_good_code_and_rejects_each_misuse(tmp_path: Path) -> None:
    good = tmp_path / "good_usage.py"
    bad = tmp_path / "bad_usage.py"
    good.write_text(GOOD)
    text, expected_lines = _bad_program()
    bad.write_text(text)
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    proc = mypy_strict(
        str(good),
        str(bad),
        cwd=ROOT,
        cache_dir=tmp_path / "mypy_cache",
        extra=("--show-error-codes",),
        env=env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output  # errors found, mypy itself did not crash
    assert _errors(output, good.name) == {}, output
    errors = _errors(output, bad.name)
    assert sorted(errors) == expected_lines, output
    for (code, word), line in zip(BAD, expected_lines, strict=True):
        messages = " ".join(errors[line])
        assert word in messages, (code, messages)
    # Nothing else in the output: no import failures, no notes about missing stubs.
    unexpected = [
        ln
        for ln in output.splitlines()
        if ln.strip() and bad.name not in ln and good.name not in ln
    ]
    assert unexpected == [], output
