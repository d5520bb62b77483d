"""Generation API: render → write/diff, cache, determinism, hostile names at runtime, atomicity."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from xrepo.codegen import writer
from xrepo.codegen.plan import HEADER_PREFIX, plan_source
from xrepo.codegen.plan_types import GenerateOptions
from xrepo.codegen.render import diff_tree, format_code, render_all, render_source, write_tree
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    IndexSpec,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
    dumps_snapshot,
    load_snapshot,
)

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent


def _snap(*colls: CollectionSpec, name: str = "shop", kind: str = "sqlite") -> Snapshot:
    return Snapshot(source=SourceInfo(name=name, kind=kind), collections=colls)  # type: ignore[arg-type]


def _field(name: str, kind: LogicalType = LogicalType.STR, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=TypeSpec(kind=kind), **kw)


USERS = CollectionSpec(
    name="users",
    kind="table",
    primary_key=("id",),
    fields=(
        _field("id", LogicalType.INT, nullable=False, generated="rowid"),
        _field("email", nullable=False, required=True),
        _field("removed_on", LogicalType.DATETIME),
    ),
    indexes=(IndexSpec(name="u_email", fields=("email",), unique=True),),
)


def _render(snap: Snapshot, **kw: Any) -> dict[str, str]:
    text = dumps_snapshot(snap)
    return render_source(snap, snapshot_path="schemas/shop.json", snapshot_text=text, **kw)


def test_render_source_paths_and_header() -> None:
    snap = _snap(USERS)
    files = _render(snap)
    assert sorted(files) == ["shop/__init__.py", "shop/models.py", "shop/repos.py"]
    digest = hashlib.sha256(dumps_snapshot(snap).encode()).hexdigest()
    for text in files.values():
        first = text.splitlines()[0]
        assert first.startswith(HEADER_PREFIX)
        assert "schemas/shop.json" in first and digest in first
        assert "Do not edit" in text.splitlines()[1]


def test_render_all_adds_package_init_and_separates_clashing_sources() -> None:
    a, b = _snap(USERS, name="shop"), _snap(USERS, name="Shop")
    files = render_all([(b, "schemas/b.json", "b"), (a, "schemas/a.json", "a")])
    assert "__init__.py" in files
    assert {p.split("/")[0] for p in files if "/" in p} == {"shop", "shop_2"}
    # shop_2 comes from the later snapshot path, whatever the argument order.
    assert "schemas/b.json" in files["shop_2/models.py"].splitlines()[0]


def test_create_update_variants_and_metadata() -> None:
    files = _render(_snap(USERS), options=GenerateOptions(soft_delete_field="removed_on"))
    models, repos = files["shop/models.py"], files["shop/repos.py"]
    create = models.split("class UserCreate(XObjPrototype):")[1].split("\n\n")[0]
    assert "id: int | None = None" in create  # rowid: the database assigns it
    assert "email: str\n" in create
    update = models.split("class UserUpdate(XObjPrototype):")[1].split("\n\n")[0]
    assert "email: str | None = None" in update
    assert 'soft_delete_field="removed_on"' in repos and "soft_delete=True" in repos
    assert "async def get_by_email(" in repos
    assert "class UserRepo(\n    ConnectedRepo[" in repos


def test_file_source_gets_materialized_repo() -> None:
    files = render_all(
        [
            (load_snapshot(p), "snapshots/penguins.json", p.read_text())
            for p in [GOLDEN / "csv_file" / "snapshots" / "penguins.json"]
        ]
    )
    repos = files["penguins/repos.py"]
    assert "MaterializedRepo[" in repos
    assert 'source_path = "examples/penguins.csv"' in repos
    assert "file_format = FileFormat(" in repos and 'null_tokens=("", "NA")' in repos


def test_cache_gives_identical_output_and_is_used(tmp_path: Path) -> None:
    snap = load_snapshot(GOLDEN / "sqlite_shop" / "snapshots" / "shop.json")
    plain = _render(snap)
    opts = GenerateOptions(cache_dir=tmp_path / "cache")
    assert _render(snap, options=opts) == plain
    cache_files = list((tmp_path / "cache").iterdir())
    assert len(cache_files) == 1
    assert _render(snap, options=opts) == plain  # warm
    # A damaged cache is ignored, not fatal.
    cache_files[0].write_bytes(b"garbage")
    assert _render(snap, options=opts) == plain


def test_black_always_equals_auto_on_golden_inputs() -> None:
    for snap_file in sorted(GOLDEN.glob("*/snapshots/*.json")):
        snap = load_snapshot(snap_file)
        auto = _render(snap)
        assert _render(snap, options=GenerateOptions(black="always", jobs=1)) == auto


def test_long_names_fall_back_to_black_and_stay_valid() -> None:
    long = "x" * 120
    coll = CollectionSpec(
        name="t" * 90,
        kind="table",
        fields=(_field(long + " y", nullable=False, required=True), _field("ok", LogicalType.INT)),
        indexes=(IndexSpec(name="i", fields=(long + " y",), unique=True),),
    )
    files = _render(_snap(coll))
    for text in files.values():
        compile(text, "<generated>", "exec")
        assert format_code(text) == text
    raw = _render(_snap(coll), options=GenerateOptions(black="never"))
    assert raw["shop/models.py"] != files["shop/models.py"]


def test_synthetic_variety_is_black_stable_without_black() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        bench = importlib.import_module("codegen")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    snap = bench.synthetic_snapshot(12, 14)
    files = _render(snap, options=GenerateOptions(black="never"))
    for path, text in files.items():
        assert format_code(text) == text, path


def test_plan_is_plain_data() -> None:
    snap = load_snapshot(GOLDEN / "documents" / "snapshots" / "catalog.json")
    plan = plan_source(snap, snapshot_path="s.json", snapshot_text="x", options=GenerateOptions())
    names = [m.name for c in plan.collections for m in c.models]
    assert "ProductDimensions" in names and "ProductVariant" in names
    hash(plan)  # frozen all the way down


_DETERMINISM = textwrap.dedent(
    """
    import hashlib, sys
    from pathlib import Path
    from xrepo.codegen.render import render_all
    from xrepo.runtime.schema import load_snapshot
    h = hashlib.sha256()
    for case in sorted(Path(sys.argv[1]).iterdir()):
        items = [(load_snapshot(p), p.name, p.read_text(encoding="utf-8"))
                 for p in sorted((case / "snapshots").glob("*.json"))]
        for path, text in render_all(items).items():
            h.update(path.encode() + b"\\0" + text.encode() + b"\\0")
    print(h.hexdigest())
    """
)


def test_output_is_identical_across_hash_seeds() -> None:
    digests = set()
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _DETERMINISM, str(GOLDEN)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


# -- hostile names at runtime ------------------------------------------------------------


@pytest.fixture
def hostile_pkg(tmp_path: Path) -> Any:
    shutil.copytree(GOLDEN / "hostile_names" / "expected", tmp_path / "hostile_golden")
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("hostile_golden.hostile_names")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("hostile_golden")]:
            del sys.modules[name]


def test_hostile_names_validate_and_round_trip(hostile_pkg: Any) -> None:
    snap = load_snapshot(GOLDEN / "hostile_names" / "snapshots" / "hostile.json")
    coll = snap.collection("class")
    row: dict[str, Any] = {}
    for i, f in enumerate(coll.fields):
        row[f.name] = i if f.type.kind is LogicalType.INT else f"v{i}"
    model = hostile_pkg.Class.from_source(row)
    assert model.to_source() == row
    assert model.class_ == row["class"] and model.from_ == row["from"]
    assert model.my_col == row["my_col"] and model.my_col_3 == row["My Col"]
    assert model.tri_ple_back_new == row['tri"""ple\\back\nnew']
    # Python names validate too; unknown keys are refused.
    again = hostile_pkg.Class.model_validate(model.model_dump())
    assert again == model
    with pytest.raises(ValueError):
        hostile_pkg.Class.from_source({**row, "nope": 1})
    # The enum keeps its hostile values verbatim.
    evil = hostile_pkg.DropTableX.from_source({"id": 1, 'we"ird': 'g"""h\n'})
    assert evil.to_source() == {"id": 1, 'we"ird': 'g"""h\n'}
    repo = hostile_pkg.ClassRepo
    assert repo.metadata.collection == "class"
    assert ("user_id",) in repo.metadata.unique
    assert hasattr(repo, "get_by_user_id") and hasattr(repo, "list_by_from_")


def test_hostile_collection_names_become_distinct_classes(hostile_pkg: Any) -> None:
    names = {
        cls.metadata.collection
        for cls in vars(hostile_pkg).values()
        if isinstance(cls, type) and hasattr(cls, "metadata")
    }
    snap = load_snapshot(GOLDEN / "hostile_names" / "snapshots" / "hostile.json")
    assert names == {c.name for c in snap.collections}


# -- writing ------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_write_tree_touches_only_changed_files_and_prunes_own_files(tmp_path: Path) -> None:
    files = _render(_snap(USERS))
    out = tmp_path / "gen"
    first = write_tree(out, files, prune=True)
    assert sorted(first.added) == sorted(files)
    stamp = (out / "shop/repos.py").stat().st_mtime_ns
    (out / "shop/notes.py").write_text("# mine, hand-written\n")
    (out / "old").mkdir()
    (out / "old/models.py").write_text(HEADER_PREFIX + " from x\n")
    changed = dict(files)
    changed["shop/models.py"] += "# tweak\n"
    report = write_tree(out, changed, prune=True)
    assert report.changed == ("shop/models.py",)
    assert report.removed == ("old/models.py",)
    assert (out / "shop/notes.py").exists()
    assert (out / "shop/repos.py").stat().st_mtime_ns == stamp
    assert not list(out.rglob("*.tmp"))


def test_write_tree_failure_leaves_old_tree_and_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "gen"
    write_tree(out, {"a/x.py": "old x\n", "a/y.py": "old y\n"}, prune=False)
    before = _tree(out)
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(writer.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        write_tree(out, {"a/x.py": "new x\n", "a/y.py": "new y\n"}, prune=True)
    assert _tree(out) == before


def test_write_tree_rejects_escaping_paths(tmp_path: Path) -> None:
    for bad in ("../x.py", "/etc/x.py", "a/../../x.py"):
        with pytest.raises(writer.OutputPathError):
            write_tree(tmp_path, {bad: "x"}, prune=False)


def test_diff_tree_reports_changed_missing_stale(tmp_path: Path) -> None:
    files = _render(_snap(USERS))
    assert set(diff_tree(tmp_path, files).missing) == set(files)
    write_tree(tmp_path, files, prune=False)
    assert diff_tree(tmp_path, files).clean
    (tmp_path / "shop/models.py").write_text(files["shop/models.py"] + "x = 1\n")
    (tmp_path / "gone.py").write_text(HEADER_PREFIX + "\n")
    (tmp_path / "mine.py").write_text("print('hand written')\n")
    tree = diff_tree(tmp_path, files)
    assert list(tree.changed) == ["shop/models.py"]
    assert "-x = 1" in tree.changed["shop/models.py"]
    assert list(tree.stale) == ["gone.py"]
    assert not tree.missing


def test_parallel_black_matches_in_process() -> None:
    colls = tuple(
        CollectionSpec(
            name=f"c{i}_" + "w" * 95,
            kind="table",
            fields=(_field("v" * 110, nullable=False, required=True),),
        )
        for i in range(5)
    )
    serial = _render(_snap(*colls), options=GenerateOptions(jobs=1))
    assert _render(_snap(*colls), options=GenerateOptions(jobs=2)) == serial


def test_incremental_with_cache_equals_fresh_render(tmp_path: Path) -> None:
    snap = load_snapshot(GOLDEN / "sqlite_shop" / "snapshots" / "shop.json")
    opts = GenerateOptions(cache_dir=tmp_path / "cache")
    _render(snap, options=opts)
    orders = snap.collection("orders")
    changed = snap.model_copy(
        update={
            "collections": tuple(
                c.model_copy(update={"fields": (*c.fields, _field("coupon"))}) if c is orders else c
                for c in snap.collections
            )
        }
    )
    warm = _render(changed, options=opts)
    assert warm == _render(changed)
    assert "coupon: str | None = None" in warm["shop/models.py"]
