"""Plan → Jinja2 templates → (black when needed) → ``{relative path: text}``.

Hot path: a collection's two chunks (its part of ``models.py`` and of ``repos.py``) are rendered
independently and cached by :func:`plan.collection_key`, so regenerating after one collection
changed re-plans and re-renders that collection only. Templates emit black-stable code (exploded
collections carry magic trailing commas; string literals use black's quote rule), so black runs
only on chunks with a line over the limit — hostile, very long names — in worker processes when
there are many.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import black
import jinja2
from black.mode import TargetVersion

from xrepo.runtime.naming import NameAllocator, allocate, snake_case
from xrepo.runtime.schema import Snapshot

from .naming import comment_text, py_str
from .plan import (
    GENERATOR_VERSION,
    HEADER_PREFIX,
    collection_key,
    collection_slices,
    header_lines,
    key_prefix,
    ordered_collections,
    plan_collection,
    str_width,
)
from .plan_types import CollectionPlan, GenerateOptions
from .writer import TreeDiff, WriteReport, diff_tree, write_tree

__all__ = [
    "GenerateOptions",
    "TreeDiff",
    "WriteReport",
    "diff_tree",
    "render_all",
    "render_source",
    "write_tree",
]

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_STDLIB = ("datetime", "decimal", "ipaddress", "typing", "uuid")


@cache
def _env() -> jinja2.Environment:
    import xrepo.templates

    folder = Path(xrepo.templates.__file__).parent
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def black_mode(options: GenerateOptions) -> black.Mode:
    return black.Mode(
        line_length=options.line_length,
        target_versions={TargetVersion.PY311},
        string_normalization=True,
        magic_trailing_comma=True,
    )


def format_code(text: str, line_length: int = 100) -> str:
    """black with our fixed mode (never the consumer's configuration)."""
    return black.format_str(text, mode=black_mode(GenerateOptions(line_length=line_length)))


def _needs_black(text: str, options: GenerateOptions) -> bool:
    if options.black == "always":
        return True
    if options.black == "never":
        return False
    limit = options.line_length
    return any(str_width(line) > limit for line in text.split("\n") if len(line) > limit // 2)


@dataclass(frozen=True)
class _Chunk:
    """A rendered collection: its text for both modules and what the module must import."""

    models: str
    repos: str
    exports: tuple[str, ...]
    repo_name: str
    model_modules: tuple[str, ...]
    model_runtime: tuple[str, ...]
    repo_modules: tuple[str, ...]
    repo_runtime: tuple[str, ...]
    repo_model_imports: tuple[str, ...]

    def to_data(self) -> tuple[object, ...]:
        return (
            self.models,
            self.repos,
            self.exports,
            self.repo_name,
            self.model_modules,
            self.model_runtime,
            self.repo_modules,
            self.repo_runtime,
            self.repo_model_imports,
        )

    @classmethod
    def from_data(cls, data: tuple[object, ...]) -> _Chunk:
        return cls(*data)  # type: ignore[arg-type]


def _render_chunk(plan: CollectionPlan) -> _Chunk:
    env = _env()
    models = env.get_template("models_chunk.py.jinja").render(c=plan).rstrip("\n")
    repos = env.get_template("repos_chunk.py.jinja").render(r=plan.repo).rstrip("\n")
    return _Chunk(
        models=models,
        repos=repos,
        exports=plan.model_exports,
        repo_name=plan.repo.name,
        model_modules=plan.model_modules,
        model_runtime=plan.model_runtime,
        repo_modules=plan.repo_modules,
        repo_runtime=plan.repo_runtime,
        repo_model_imports=plan.repo_model_imports,
    )


def _format_one(args: tuple[str, int]) -> str:
    text, line_length = args
    return format_code(text + "\n", line_length).rstrip("\n")


def _format_many(texts: Sequence[str], options: GenerateOptions) -> list[str]:
    work = [(t, options.line_length) for t in texts]
    # A worker pool costs ~100 ms to start; worth it only when black has real work to share.
    if options.jobs > 1 and len(work) >= 8:
        with ProcessPoolExecutor(max_workers=options.jobs) as pool:
            return list(
                pool.map(_format_one, work, chunksize=max(1, len(work) // (4 * options.jobs)))
            )
    return [_format_one(w) for w in work]


class _ChunkCache:
    """On-disk cache: one marshal file per output subpackage, holding only the live entries."""

    def __init__(self, folder: Path | None, name: str) -> None:
        self.path = folder / f"chunks-{name}.marshal" if folder is not None else None
        self.old: dict[str, tuple[object, ...]] = {}
        self.new: dict[str, tuple[object, ...]] = {}
        if self.path is not None and self.path.is_file():
            try:
                data = marshal.loads(self.path.read_bytes())
                if isinstance(data, dict) and data.get("version") == GENERATOR_VERSION:
                    self.old = data["chunks"]
            except (ValueError, EOFError, TypeError, KeyError, OSError):
                self.old = {}  # a damaged cache is only a slower run

    def get(self, key: str) -> _Chunk | None:
        data = self.old.get(key)
        if data is None:
            return None
        self.new[key] = data
        return _Chunk.from_data(data)

    def put(self, key: str, chunk: _Chunk) -> None:
        self.new[key] = chunk.to_data()

    def save(self) -> None:
        if self.path is None or self.new.keys() == self.old.keys():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = marshal.dumps({"version": GENERATOR_VERSION, "chunks": self.new})
        fd, tmp = tempfile.mkstemp(prefix=".chunks.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _chunks(
    snapshot: Snapshot, snapshot_text: str, package_dir: str, options: GenerateOptions
) -> list[_Chunk]:
    colls = ordered_collections(snapshot)
    names = allocate(colls, options.singularize)
    kind = snapshot.source.kind
    cache = _ChunkCache(options.cache_dir, package_dir)
    out: list[_Chunk | None] = []
    todo: list[tuple[int, str, _Chunk]] = []
    prefix = key_prefix(kind, options)
    slices: Sequence[str | None] = [None] * len(colls)
    if options.cache_dir is not None:
        slices = collection_slices(snapshot, snapshot_text) or slices
    for coll, n, spec_text in zip(colls, names, slices, strict=True):
        key = collection_key(coll, n, prefix, spec_text) if options.cache_dir is not None else ""
        hit = cache.get(key) if key else None
        if hit is None:
            todo.append((len(out), key, _render_chunk(plan_collection(coll, n, kind, options))))
        out.append(hit)
    pending: list[tuple[int, str, bool]] = []
    for i, _key, chunk in todo:
        if _needs_black(chunk.models, options):
            pending.append((i, chunk.models, True))
        if _needs_black(chunk.repos, options):
            pending.append((i, chunk.repos, False))
    formatted = _format_many([p[1] for p in pending], options)
    fixed: dict[tuple[int, bool], str] = {
        (i, is_models): text for (i, _, is_models), text in zip(pending, formatted, strict=True)
    }
    for i, key, chunk in todo:
        models = fixed.get((i, True), chunk.models)
        repos = fixed.get((i, False), chunk.repos)
        done = _Chunk(models, repos, *chunk.to_data()[2:])  # type: ignore[arg-type]
        out[i] = done
        if key:
            cache.put(key, done)
    cache.save()
    return [c for c in out if c is not None]


@dataclass(frozen=True)
class _Module:
    header: tuple[str, ...]
    docstring: str
    import_blocks: tuple[tuple[str, ...], ...]
    chunks: tuple[str, ...]

    @property
    def body(self) -> str:
        """Imports and chunks with the blank lines black wants between them."""
        imports = "\n\n".join("\n".join(block) for block in self.import_blocks)
        parts = [imports]
        for i, chunk in enumerate(self.chunks):
            # Black wants two blank lines before a definition (or a comment leading one) and
            # exactly one before any other statement; the "\n" put before the body already
            # gives one after the docstring when there are no imports.
            is_def = chunk.startswith(("class ", "def ", "async def ", "#", "@"))
            if i > 0:
                gap = "\n\n\n"
            elif imports:
                gap = "\n\n\n" if is_def else "\n\n"
            else:
                gap = "\n" if is_def else ""
            parts.append(gap)
            parts.append(chunk)
        text = "".join(parts)
        return "\n" + text + "\n" if text else ""


def _from_import(module: str, names: Iterable[str]) -> tuple[str, ...]:
    items = sorted(set(names))
    return (f"from {module} import (", *(f"    {n}," for n in items), ")")


def _import_blocks(
    modules: Iterable[str], runtime: Iterable[str], local: Mapping[str, Iterable[str]]
) -> tuple[tuple[str, ...], ...]:
    mods = set(modules)
    blocks: list[tuple[str, ...]] = []
    std = tuple(f"import {m}" for m in _STDLIB if m in mods)
    if std:
        blocks.append(std)
    if "pydantic" in mods:
        blocks.append(("import pydantic",))
    runtime_names = sorted(set(runtime))
    if runtime_names:
        blocks.append(_from_import("xrepo.runtime", runtime_names))
    local_lines: list[str] = []
    for module, names in sorted(local.items()):
        wanted = list(names)
        if wanted:  # ``from m import ()`` is a SyntaxError: a source without collections
            local_lines.extend(_from_import(module, wanted))
    if local_lines:
        blocks.append(tuple(local_lines))
    return tuple(blocks)


def _doc(text: str) -> str:
    """Text safe inside a one-line docstring, whatever quotes or backslashes it holds."""
    return comment_text(text).replace('"', "'")


def _render_module(module: _Module) -> str:
    return _env().get_template("module.py.jinja").render(m=module)


def _all_list(names: Sequence[str]) -> str:
    if not names:
        return "__all__: list[str] = []"
    inner = "".join(f"    {py_str(n)},\n" for n in sorted(names))
    return f"__all__ = [\n{inner}]"


def render_source(
    snapshot: Snapshot,
    *,
    snapshot_path: str,
    snapshot_text: str,
    package: str = "generated",
    options: GenerateOptions = GenerateOptions(),  # noqa: B008 - frozen, never mutated
    package_dir: str | None = None,
) -> dict[str, str]:
    """One snapshot → ``<source>/models.py``, ``<source>/repos.py``, ``<source>/__init__.py``.

    Paths are relative to the output directory; ``snapshot_path`` is named in every header as
    given (posix, relative), with the sha256 of ``snapshot_text``.
    """
    folder = package_dir or snake_case(snapshot.source.name)
    chunks = _chunks(snapshot, snapshot_text, folder, options)
    header = header_lines(snapshot_path, snapshot_text)
    source = _doc(snapshot.source.name)
    models = _Module(
        header,
        f"Models of source {source} ({snapshot.source.kind}).",
        _import_blocks(
            (m for c in chunks for m in c.model_modules),
            (r for c in chunks for r in c.model_runtime),
            {},
        ),
        tuple(c.models for c in chunks),
    )
    repos = _Module(
        header,
        f"Repositories of source {source} ({snapshot.source.kind}).",
        _import_blocks(
            (m for c in chunks for m in c.repo_modules),
            (r for c in chunks for r in c.repo_runtime),
            {".models": [n for c in chunks for n in c.repo_model_imports]},
        ),
        tuple(c.repos for c in chunks),
    )
    exported_models = [n for c in chunks for n in c.exports]
    exported_repos = [c.repo_name for c in chunks]
    init = _Module(
        header,
        f"Source {source}: typed models and repositories (package {_doc(package)}).",
        _import_blocks((), (), {".models": exported_models, ".repos": exported_repos}),
        (_all_list([*exported_models, *exported_repos]),),
    )
    return {
        f"{folder}/models.py": _render_module(models),
        f"{folder}/repos.py": _render_module(repos),
        f"{folder}/__init__.py": _render_module(init),
    }


def render_all(
    items: Sequence[tuple[Snapshot, str, str]],
    *,
    package: str = "generated",
    options: GenerateOptions = GenerateOptions(),  # noqa: B008 - frozen, never mutated
) -> dict[str, str]:
    """Every snapshot ``(snapshot, snapshot_path, snapshot_text)`` plus the package ``__init__``.

    Two sources whose names sanitise alike get distinct folders (``shop``, ``shop_2``) in the
    order of their snapshot paths.
    """
    files: dict[str, str] = {}
    dirs = NameAllocator()
    ordered = sorted(items, key=lambda it: it[1])
    sources: list[str] = []
    for snapshot, path, text in ordered:
        folder = dirs.take(snake_case(snapshot.source.name))
        sources.append(folder)
        files.update(
            render_source(
                snapshot,
                snapshot_path=path,
                snapshot_text=text,
                package=package,
                options=options,
                package_dir=folder,
            )
        )
    digest = hashlib.sha256(
        "\n".join(f"{p}\0{hashlib.sha256(t.encode()).hexdigest()}" for _, p, t in ordered).encode()
    ).hexdigest()
    top = _Module(
        (
            f"{HEADER_PREFIX} from {len(ordered)} snapshot(s) (sha256 {digest}).",
            "# Do not edit: re-run `xrepo generate`.",
        ),
        f"Generated package {_doc(package)}: subpackages {_doc(', '.join(sources))}.",
        (),
        (),
    )
    files["__init__.py"] = _render_module(top)
    return dict(sorted(files.items()))
