"""Generation API: render → write/diff, cache, determinism, hostile names at runtime, atomicity."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from xrepo.codegen import plan as plan_module
from xrepo.codegen import writer
from xrepo.codegen.pipeline import load_snapshots
from xrepo.codegen.plan import HEADER_PREFIX, REPO_API_NAMES, finder_names, plan_source
from xrepo.codegen.plan_types import Finder, GenerateOptions
from xrepo.codegen.render import diff_tree, format_code, render_all, render_source, write_tree
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    ForeignKeySpec,
    IndexSpec,
    LogicalType,
    Snapshot,
    SnapshotError,
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
    assert model.my_col == row["my_col"] and model.my_col_2182 == row["My Col"]
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
    # UNIQUE(a, b) and a column a_and_b: two finders, two names, both callable.
    pairs = hostile_pkg.PairRepo
    assert "get_by_a_and_b" in vars(pairs) and "get_by_a_and_b_a292" in vars(pairs)
    assert inspect.signature(pairs.get_by_a_and_b).parameters.keys() >= {"a_and_b", "user_id"}
    assert list(inspect.signature(pairs.get_by_a_and_b_a292).parameters)[:3] == ["self", "a", "b"]


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


# -- names: finders, classes, stability ----------------------------------------------------


def _pairs_table(*extra: IndexSpec) -> CollectionSpec:
    return CollectionSpec(
        name="pairs",
        kind="table",
        primary_key=("id",),
        fields=(
            _field("id", LogicalType.INT, nullable=False, required=True),
            _field("a", nullable=False, required=True),
            _field("b", nullable=False, required=True),
            _field("a_and_b", nullable=False, required=True),
            _field("user_id", nullable=False, required=True),
        ),
        indexes=(
            IndexSpec(name="ab", fields=("a", "b"), unique=True),
            IndexSpec(name="a_and_b", fields=("a_and_b",), unique=True),
            *extra,
        ),
        foreign_keys=(
            ForeignKeySpec(fields=("user_id",), ref_collection="users", ref_fields=("id",)),
        ),
    )


def _finders(coll: CollectionSpec) -> dict[str, Finder]:
    plan = plan_source(
        _snap(coll), snapshot_path="s.json", snapshot_text="", options=GenerateOptions()
    )
    finders = plan.collections[0].repo.finders
    names = [f.name for f in finders]
    assert len(names) == len(set(names)), names
    return {f.name: f for f in finders}


def test_finder_names_never_collide_and_single_column_keeps_plain_name() -> None:
    finders = _finders(_pairs_table())
    assert set(finders) == {"get_by_a_and_b", "get_by_a_and_b_a292", "list_by_user_id"}
    assert [p.name for p in finders["get_by_a_and_b"].params] == ["a_and_b"]
    assert [p.name for p in finders["get_by_a_and_b_a292"].params] == ["a", "b"]
    # Order of the indexes does not matter: the hash comes from the columns, not positions.
    swapped = _pairs_table()
    swapped = swapped.model_copy(update={"indexes": tuple(reversed(swapped.indexes))})
    assert set(_finders(swapped)) == set(finders)
    # Output compiles (no redefinition) and mypy would see two distinct methods.
    files = _render(_snap(_pairs_table()))
    compile(files["shop/repos.py"], "repos.py", "exec")
    assert files["shop/repos.py"].count("async def get_by_a_and_b(") == 1


def test_finder_names_avoid_the_repo_api(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"create", "list", "find_one", "aggregate", "plan", "metadata"} <= REPO_API_NAMES
    assert {"inspect_schema", "get_statistics", "get_audit_log", "list_rows"} <= REPO_API_NAMES
    names = finder_names([(("a",), False), (("a",), True), (("a", "b"), False)])
    assert names == ["get_by_a", "list_by_a", "get_by_a_and_b"]
    # Should the API ever grow a get_by_* method, the finder steps aside (deterministically).
    monkeypatch.setattr(plan_module, "REPO_API_NAMES", REPO_API_NAMES | {"get_by_a"})
    moved = finder_names([(("a",), False), (("b",), False)])
    assert moved[0].startswith("get_by_a_") and moved[1] == "get_by_b"
    assert moved == finder_names([(("a",), False), (("b",), False)])


def test_finder_param_named_user_id_becomes_user_id_underscore_deterministically() -> None:
    for _ in range(2):
        finder = _finders(_pairs_table())["list_by_user_id"]
        assert [p.name for p in finder.params] == ["user_id_"]
        assert finder.items == (('"user_id"', "user_id_"),)
        assert "user_id=user_id" in finder.call_kwargs
    text = _render(_snap(_pairs_table()))["shop/repos.py"]
    assert '"user_id": user_id_,' in text


def _names(*colls: str) -> dict[str, str]:
    specs = [
        CollectionSpec(name=n, kind="table", fields=(_field("id", LogicalType.INT),)) for n in colls
    ]
    plan = plan_source(
        _snap(*specs), snapshot_path="s.json", snapshot_text="", options=GenerateOptions()
    )
    return {
        c.repo.attrs[3].value.split('name="', 1)[1].split('"', 1)[0]: c.repo.type_args[0]
        for c in plan.collections
    }


def test_class_names_are_stable_when_collections_are_added() -> None:
    assert _names("users") == {"users": "User"}
    both = _names("users", "user")
    # The exact form owns the plain name; the other gets a suffix from its own name.
    assert both["user"] == "User" and both["users"].startswith("User_")
    assert _names("user") == {"user": "User"}
    three = _names("My Table!", "my table", "my_table")
    assert three["my_table"] == "MyTable"
    assert three["My Table!"].startswith("MyTable_") and three["my table"].startswith("MyTable_")
    # Adding a fourth colliding one or an unrelated one renames nobody already there.
    more = _names("My Table!", "my table", "my_table", "MY-TABLE", "orders")
    assert {k: more[k] for k in three} == three
    assert _names("orders", "products") == {"orders": "Order", "products": "Product"}
    assert _names("orders", "products", "my table")["orders"] == "Order"
    # Two non-exact colliders: both suffixed, each from its own name (no positional 2, 3).
    pair = _names("My Table!", "my table")
    assert pair == {k: three[k] for k in pair}


def test_model_exports_are_stable_when_a_collection_is_added() -> None:
    before = _render(_snap(USERS))["shop/__init__.py"]
    other = CollectionSpec(name="user", kind="table", fields=(_field("id", LogicalType.INT),))
    after = _render(_snap(USERS, other))["shop/__init__.py"]
    # users was User until a table called exactly ``user`` appeared; then ``user`` owns it.
    assert '"User",' in before and '"User",' in after
    unrelated = CollectionSpec(name="audit", kind="table", fields=(_field("id", LogicalType.INT),))
    assert set(_exports(before)) <= set(
        _exports(_render(_snap(USERS, unrelated))["shop/__init__.py"])
    )


def _exports(init: str) -> list[str]:
    return [line.strip().strip('",') for line in init.split("__all__ = [", 1)[1].splitlines()[1:-1]]


# -- read models accept what the source stores ------------------------------------------------


def test_semantic_strings_are_plain_str_on_read_and_checked_on_write() -> None:
    coll = CollectionSpec(
        name="members",
        kind="table",
        primary_key=("id",),
        fields=(
            _field("id", LogicalType.INT, nullable=False, required=True),
            FieldSpec(
                name="email", type=TypeSpec(kind=LogicalType.STR, semantic="email"), nullable=False
            ),
            FieldSpec(name="site", type=TypeSpec(kind=LogicalType.STR, semantic="url")),
            FieldSpec(name="ip", type=TypeSpec(kind=LogicalType.STR, semantic="ipv4")),
            FieldSpec(name="ref", type=TypeSpec(kind=LogicalType.STR, semantic="uuid")),
            FieldSpec(
                name="emails",
                type=TypeSpec(
                    kind=LogicalType.ARRAY, items=TypeSpec(kind=LogicalType.STR, semantic="email")
                ),
            ),
        ),
    )
    plan = plan_source(
        _snap(coll), snapshot_path="s.json", snapshot_text="", options=GenerateOptions()
    )
    read, create, update = plan.collections[0].models[-3:]
    ann = {m.name: {f.name: f.annotation for f in m.fields} for m in (read, create, update)}
    assert ann["Member"] == {
        "id": "int",
        "email": "str",
        "site": "str | None",
        "ip": "str | None",
        "ref": "str | None",
        "emails": "list[str] | None",
    }
    for name in ("MemberCreate", "MemberUpdate"):
        assert "pydantic.EmailStr" in ann[name]["email"]
        assert ann[name]["site"].startswith("pydantic.AnyHttpUrl")
        assert ann[name]["ip"].startswith("ipaddress.IPv4Address")
        assert ann[name]["ref"].startswith("uuid.UUID")
        assert ann[name]["emails"].startswith("list[pydantic.EmailStr]")
    strict = plan_source(
        _snap(coll),
        snapshot_path="s.json",
        snapshot_text="",
        options=GenerateOptions(constraints_on_read=True),
    )
    assert strict.collections[0].models[-3].fields[1].annotation == "pydantic.EmailStr"


def test_one_bad_stored_value_does_not_break_reading(tmp_path: Path) -> None:
    pkg = GOLDEN / "sqlite_shop" / "expected"
    shutil.copytree(pkg, tmp_path / "shop_golden")
    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module("shop_golden.shop.models")
        row = {
            "id": 1,
            "email": "not an email",
            "name": "x",
            "balance": "1.00",
            "tier": "gold",
            "created_at": "2024-01-01T00:00:00",
            "website": "nope",
            "is_active": True,
        }
        got = models.Customer.from_source(row)
        assert got.email == "not an email" and got.website == "nope"
        with pytest.raises(ValueError):
            models.CustomerCreate.from_source(row)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("shop_golden")]:
            del sys.modules[name]


# -- unions are built from members, not by splitting spellings ---------------------------------


def test_union_with_an_array_of_a_union() -> None:
    inner = TypeSpec(
        kind=LogicalType.UNION,
        variants=(TypeSpec(kind=LogicalType.INT), TypeSpec(kind=LogicalType.STR)),
    )
    outer = TypeSpec(
        kind=LogicalType.UNION,
        variants=(
            TypeSpec(kind=LogicalType.STR),
            TypeSpec(kind=LogicalType.ARRAY, items=inner),
            TypeSpec(kind=LogicalType.INT),
            inner,  # a nested union flattens into its members (int, str: already there)
            TypeSpec(kind=LogicalType.NULL),
        ),
    )
    coll = CollectionSpec(
        name="things", kind="collection", fields=(FieldSpec(name="v", type=outer, required=True),)
    )
    plan = plan_source(
        _snap(coll, kind="mongo"),
        snapshot_path="s.json",
        snapshot_text="",
        options=GenerateOptions(),
    )
    read = plan.collections[0].models[-3]
    assert read.fields[0].annotation == "str | list[int | str] | int | None"
    files = _render(_snap(coll, kind="mongo"))
    compile(files["shop/models.py"], "models.py", "exec")
    assert "v: str | list[int | str] | int | None" in files["shop/models.py"]


# -- empty sources --------------------------------------------------------------------------


def test_snapshot_without_collections_still_renders_valid_code() -> None:
    for snap in (_snap(), _snap(CollectionSpec(name="empty", kind="collection", fields=()))):
        files = _render(snap)
        for rel, text in files.items():
            compile(text, rel, "exec")
            assert format_code(text) == text, rel
            assert "import (\n)" not in text


def test_load_snapshots_refuses_a_snapshot_without_collections(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "empty.json").write_text(dumps_snapshot(_snap(name="empty")), encoding="utf-8")
    project = SimpleNamespace(schemas_dir=schemas, root=tmp_path)
    with pytest.raises(SnapshotError) as err:
        load_snapshots(project)  # type: ignore[arg-type]
    assert err.value.location == "$.collections"
    assert "empty.json" in str(err.value) and "no collections" in str(err.value)


# -- prune removes the folders it empties --------------------------------------------------------


def test_prune_removes_directories_it_emptied_and_only_those(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    two = render_all(
        [
            (_snap(USERS, name="shop"), "schemas/shop.json", "a"),
            (_snap(USERS, name="old"), "schemas/old.json", "b"),
        ]
    )
    write_tree(out, two, prune=True)
    # Importing leaves bytecode behind: still "ours".
    (out / "old" / "__pycache__").mkdir()
    (out / "old" / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"\0")
    (out / "keep" / "deep").mkdir(parents=True)
    (out / "keep" / "deep" / "models.py").write_text(HEADER_PREFIX + " from x\n")
    (out / "keep" / "notes.txt").write_text("mine\n")
    (out / "handmade").mkdir()
    one = render_all([(_snap(USERS, name="shop"), "schemas/shop.json", "a")])
    report = write_tree(out, one, prune=True)
    assert set(report.removed) == {
        "old/__init__.py",
        "old/models.py",
        "old/repos.py",
        "keep/deep/models.py",
    }
    assert not (out / "old").exists()
    assert not (out / "keep" / "deep").exists()
    assert (out / "keep" / "notes.txt").exists()  # a hand-written file keeps its folder
    assert (out / "handmade").is_dir()  # never held generated files: left alone
    assert (out / "shop" / "models.py").exists() and out.is_dir()
