"""Code generation benchmark: xrepo's generator against datamodel-code-generator (DCG).

A synthetic snapshot of N collections × M fields (every logical scalar type, enums, foreign keys,
unique indexes) is generated three ways, in one process, each timed once:

* full: load the snapshot, render models + repos with a cold chunk cache, write to a temp dir;
* incremental: one collection changed, same output dir, chunk cache warm;
* DCG: models alone from the equivalent JSON Schema, DCG's default formatting (black).

It prints the times and the two ratios the issue sets goals for (full ≤ 0.5× DCG, incremental
≤ 5% of full). ``--collections 20 --fields 5`` is a smoke run that finishes in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from xrepo.codegen.plan_types import GenerateOptions
from xrepo.codegen.render import render_all, write_tree
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    ForeignKeySpec,
    IndexSpec,
    LogicalType,
    Snapshot,
    SourceInfo,
    TypeSpec,
    dumps_snapshot,
    load_snapshot,
)

_KINDS: list[tuple[TypeSpec, dict[str, Any]]] = [
    (TypeSpec(kind=LogicalType.STR, max_length=120), {"type": "string", "maxLength": 120}),
    (TypeSpec(kind=LogicalType.INT), {"type": "integer"}),
    (TypeSpec(kind=LogicalType.FLOAT), {"type": "number"}),
    (TypeSpec(kind=LogicalType.BOOL), {"type": "boolean"}),
    (TypeSpec(kind=LogicalType.DECIMAL, precision=12, scale=2), {"type": "number"}),
    (TypeSpec(kind=LogicalType.DATE), {"type": "string", "format": "date"}),
    (TypeSpec(kind=LogicalType.DATETIME, tz_aware=True), {"type": "string", "format": "date-time"}),
    (TypeSpec(kind=LogicalType.UUID), {"type": "string", "format": "uuid"}),
    (TypeSpec(kind=LogicalType.STR, semantic="email"), {"type": "string", "format": "email"}),
    (TypeSpec(kind=LogicalType.JSON), {}),
    (TypeSpec(kind=LogicalType.STR), {"type": "string"}),
]
_ENUM = ("new", "active", "suspended", "closed")


def synthetic_snapshot(collections: int, fields: int, *, variant: int = 0) -> Snapshot:
    """Deterministic; ``variant`` changes one field of collection 0 (the incremental case)."""
    colls: list[CollectionSpec] = []
    for c in range(collections):
        fs = [
            FieldSpec(
                name="id",
                type=TypeSpec(kind=LogicalType.INT),
                nullable=False,
                generated="autoincrement",
            )
        ]
        for i in range(1, fields):
            name = f"field_{i}"
            if i == 1:
                ts = TypeSpec(kind=LogicalType.STR, max_length=200)
                name = "code"
            elif i == 2 and c > 0:
                ts = TypeSpec(kind=LogicalType.INT)
                name = "parent_id"
            elif i % 7 == 3:
                ts = TypeSpec(kind=LogicalType.ENUM, enum_values=_ENUM)
            else:
                ts = _KINDS[(c + i) % len(_KINDS)][0]
            if c == 0 and i == fields - 1 and variant:
                name = f"changed_{variant}"
            fs.append(FieldSpec(name=name, type=ts, nullable=i % 3 == 0, required=i % 3 != 0))
        fks: tuple[ForeignKeySpec, ...] = ()
        if c > 0 and fields > 2:
            fks = (
                ForeignKeySpec(
                    fields=("parent_id",), ref_collection=f"table_{c - 1:04d}", ref_fields=("id",)
                ),
            )
        idx = (IndexSpec(name=f"u_{c}", fields=("code",), unique=True),) if fields > 1 else ()
        colls.append(
            CollectionSpec(
                name=f"table_{c:04d}",
                kind="table",
                primary_key=("id",),
                fields=tuple(fs),
                indexes=idx,
                foreign_keys=fks,
            )
        )
    return Snapshot(source=SourceInfo(name="bench", kind="sqlite"), collections=tuple(colls))


def json_schema(snapshot: Snapshot) -> dict[str, Any]:
    """The same collections as a JSON Schema document with one definition each."""
    by_type = {k.model_dump_json(): js for k, js in _KINDS}
    defs: dict[str, Any] = {}
    for coll in snapshot.collections:
        props: dict[str, Any] = {}
        for f in coll.fields:
            if f.type.kind is LogicalType.ENUM:
                js: dict[str, Any] = {"type": "string", "enum": list(_ENUM)}
            elif f.type.kind is LogicalType.INT:
                js = {"type": "integer"}
            else:
                js = dict(by_type.get(f.type.model_dump_json(), {"type": "string"}))
            props[f.name] = {"anyOf": [js, {"type": "null"}]} if f.nullable else js
        defs[coll.name] = {
            "type": "object",
            "properties": props,
            "required": [f.name for f in coll.fields if f.required],
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "title": "Bench",
        "type": "object",
    }


def _ours(snap_file: Path, out: Path, cache: Path) -> tuple[float, float, int]:
    """(total seconds, of which loading/validating the snapshot, bytes of code)."""
    t0 = time.perf_counter()
    text = snap_file.read_text(encoding="utf-8")
    snap = load_snapshot(snap_file)
    loaded = time.perf_counter() - t0
    files = render_all(
        [(snap, "schemas/bench.json", text)], options=GenerateOptions(cache_dir=cache)
    )
    write_tree(out, files, prune=True)
    return time.perf_counter() - t0, loaded, sum(len(t) for t in files.values())


def _dcg(schema_file: Path, out: Path) -> float:
    from datamodel_code_generator import (  # type: ignore[attr-defined]
        DataModelType,
        InputFileType,
        generate,
    )

    t0 = time.perf_counter()
    generate(
        schema_file,
        input_file_type=InputFileType.JsonSchema,
        output=out,
        output_model_type=DataModelType.PydanticV2BaseModel,
    )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--collections", type=int, default=1000)
    ap.add_argument("--fields", type=int, default=20)
    ap.add_argument("--skip-dcg", action="store_true", help="only time xrepo")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xrepo-bench-") as tmp:
        root = Path(tmp)
        snap_file = root / "bench.json"
        snap_file.write_text(
            dumps_snapshot(synthetic_snapshot(args.collections, args.fields)), encoding="utf-8"
        )
        out, cache = root / "generated", root / ".xrepo-cache"
        full, full_load, size = _ours(snap_file, out, cache)
        snap_file.write_text(
            dumps_snapshot(synthetic_snapshot(args.collections, args.fields, variant=1)),
            encoding="utf-8",
        )
        incr, incr_load, _ = _ours(snap_file, out, cache)
        print(f"snapshot: {args.collections} collections x {args.fields} fields")
        print(
            f"xrepo full generation (models + repos, cold cache): {full:8.3f} s"
            f"  ({size / 1e6:.1f} MB of code)"
        )
        print(f"xrepo incremental (1 collection changed, warm):     {incr:8.3f} s")
        print(f"  of which load_snapshot (pydantic validation):     {incr_load:8.3f} s")
        print(f"ratio incremental / full: {incr / full:.3f}  (goal <= 0.05)")
        gen_full, gen_incr = full - full_load, incr - incr_load
        print(f"ratio excluding snapshot load: {gen_incr / gen_full:.3f}")
        if not args.skip_dcg:
            schema_file = root / "bench.schema.json"
            schema_file.write_text(
                json.dumps(json_schema(load_snapshot(snap_file))), encoding="utf-8"
            )
            dcg = _dcg(schema_file, root / "dcg_models.py")
            print(f"datamodel-code-generator, models only:             {dcg:8.3f} s")
            print(f"ratio xrepo full / DCG: {full / dcg:.3f}  (goal <= 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
