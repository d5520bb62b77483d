"""Config discovery, validation errors that name file and key, kind detection, `xrepo init`."""

from __future__ import annotations

from pathlib import Path

import pytest

from xrepo.codegen.config import ConfigError, detect_kind, load_project
from xrepo.codegen.starter import write_starter


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    project = load_project(start=tmp_path)
    assert project.file is None
    assert project.schemas_dir == tmp_path.resolve() / "schemas"
    assert project.output_dir == tmp_path.resolve() / "generated"


def test_pyproject_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.xrepo]\nschemas_dir = "snap"\n'
        '[[tool.xrepo.sources]]\nname = "db"\npath = "data/app.db"\n',
        encoding="utf-8",
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    project = load_project(start=deep)
    assert project.root == tmp_path.resolve()
    assert project.schemas_dir == tmp_path.resolve() / "snap"
    assert project.config.sources[0].name == "db"


def test_pyproject_without_table_is_skipped_for_xrepo_toml(tmp_path: Path) -> None:
    (tmp_path / "xrepo.toml").write_text('output_dir = "out"\n', encoding="utf-8")
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert load_project(start=sub).output_dir == tmp_path.resolve() / "out"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[[sources]]\nname = "db"\n', ": sources[0]: give exactly one of `path`"),
        ('[[sources]]\nname = "db"\npath = "a.db"\ncolour = 1\n', "sources[0].colour: unknown key"),
        ('[[sources]]\nname = "my db"\npath = "a.db"\n', "sources[0].name"),
        ('[[sources]]\nname = "db"\npath = "a.db"\nkind = "oracle"\n', "sources[0].kind"),
        ("schemas_dir = 3\n", ": schemas_dir:"),
        (
            '[[sources]]\nname = "db"\npath = "a.db"\n[[sources]]\nname = "db"\npath = "b.db"\n',
            "used twice",
        ),
        ("sources = [\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, body: str, needle: str) -> None:
    cfg = tmp_path / "xrepo.toml"
    cfg.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(cfg)
    message = str(info.value)
    assert str(cfg) in message
    assert needle in message
    assert "\n" not in message


def test_url_env_must_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "xrepo.toml"
    cfg.write_text('[[sources]]\nname = "pg"\nurl_env = "XREPO_TEST_PG"\n', encoding="utf-8")
    project = load_project(cfg)
    monkeypatch.delenv("XREPO_TEST_PG", raising=False)
    with pytest.raises(ConfigError, match="XREPO_TEST_PG is not set"):
        project.location(project.source("pg"))
    monkeypatch.setenv("XREPO_TEST_PG", "postgresql://localhost/x")
    assert project.location(project.source("pg")) == "postgresql://localhost/x"


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("sqlite:///tmp/a.db", "sqlite"),
        ("postgresql://u@h/db", "postgres"),
        ("postgres://h/db", "postgres"),
        ("postgresql+asyncpg://h/db", "postgres"),
        ("mongodb://h:27017/db", "mongo"),
        ("mongodb+srv://cluster/db", "mongo"),
        ("redis://localhost:6379/0", "redis"),
        ("data/penguins.csv", "csv"),
        ("data/x.TSV", "csv"),
        ("a.json", "json"),
        ("a.ndjson", "json"),
        ("a.schema.json", "jsonschema"),
        ("shop.db", "sqlite"),
        ("shop.sqlite3", "sqlite"),
    ],
)
def test_detect_kind(location: str, kind: str) -> None:
    assert detect_kind(location) == kind


@pytest.mark.parametrize("location", ["ftp://x/y", "notes.txt", "README"])
def test_detect_kind_refuses_unknown(location: str) -> None:
    with pytest.raises(ConfigError, match="set `kind` explicitly"):
        detect_kind(location)


def test_init_discovers_data_files(tmp_path: Path) -> None:
    (tmp_path / "Sales 2024.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "app.db").write_bytes(b"")
    (tmp_path / "package.json").write_text("{}", encoding="utf-8")
    path, names = write_starter(tmp_path)
    assert path == tmp_path / "xrepo.toml"
    assert names == ["app", "sales_2024"]
    project = load_project(path)
    assert [(s.name, s.kind, s.path) for s in project.config.sources] == [
        ("app", "sqlite", "app.db"),
        ("sales_2024", "csv", "Sales 2024.csv"),
    ]
    with pytest.raises(ConfigError, match="already holds"):
        write_starter(tmp_path)


def test_init_appends_to_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    path, names = write_starter(tmp_path)
    assert path.name == "pyproject.toml" and names == []
    project = load_project(path)
    assert project.config.sources == ()
    assert '[project]\nname = "demo"' in path.read_text(encoding="utf-8")
