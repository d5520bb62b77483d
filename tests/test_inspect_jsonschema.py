"""The ``jsonschema`` source kind: schema documents written here, read through DCG's parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xrepo.codegen.inspect.jsonschema import inspect_jsonschema
from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.schema import (
    CollectionSpec,
    FieldSpec,
    LogicalType,
    Snapshot,
    TypeSpec,
    dumps_snapshot,
)

STR = TypeSpec(kind=LogicalType.STR)
INT = TypeSpec(kind=LogicalType.INT)

ADDRESS_FILE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "zip": {"type": "string", "maxLength": 10},
                "country": {"$ref": "#/$defs/Country"},
            },
            "required": ["city"],
        },
        "Country": {"type": "string", "enum": ["FR", "DE"]},
    },
}

PERSON = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Person",
    "description": "Someone we know.",
    "type": "object",
    "required": ["id", "email", "kind"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "email": {"type": "string", "format": "email", "description": "where to write"},
        "home": {"type": "string", "format": "uri"},
        "born": {"type": "string", "format": "date"},
        "seen": {"type": "string", "format": "date-time"},
        "wakes": {"type": "string", "format": "time"},
        "ip4": {"type": "string", "format": "ipv4"},
        "ip6": {"type": "string", "format": "ipv6"},
        "age": {"type": ["integer", "null"]},
        "height": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        "handle": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "nick": {"type": "string", "maxLength": 12, "default": "none"},
        "active": {"type": "boolean", "default": True},
        "kind": {"enum": ["admin", "user"]},
        "level": {"$ref": "#/$defs/Level"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "scores": {"type": "array", "items": {"type": ["number", "null"]}},
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "address": {"$ref": "address.json#/$defs/Address"},
        "previous": {"anyOf": [{"$ref": "address.json#/$defs/Address"}, {"type": "null"}]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extra": {"type": "object", "additionalProperties": True},
        "geo": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}},
            "required": ["lat", "lng"],
        },
        "pets": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
        "contact": {"oneOf": [{"$ref": "#/$defs/Phone"}, {"$ref": "#/$defs/Mail"}]},
        "badge": {"allOf": [{"$ref": "#/$defs/Phone"}, {"$ref": "#/$defs/Mail"}]},
        "manager": {"$ref": "#"},
        "anything": {},
    },
    "$defs": {
        "Level": {"type": "integer", "enum": [1, 2, 3]},
        "Phone": {
            "type": "object",
            "properties": {"number": {"type": "string"}},
            "required": ["number"],
        },
        "Mail": {"type": "object", "properties": {"mailbox": {"type": "string"}}},
        "Employee": {
            "allOf": [
                {"$ref": "#/$defs/Phone"},
                {
                    "type": "object",
                    "properties": {"salary": {"type": "string", "format": "decimal"}},
                    "required": ["salary"],
                },
            ]
        },
        "TreeNode": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/TreeNode"}},
                "parent": {"$ref": "#/$defs/TreeNode"},
            },
        },
    },
}


def _write(directory: Path, name: str, document: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def schema_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("schemas")
    _write(directory, "address.json", ADDRESS_FILE)
    return _write(directory, "person.json", PERSON)


@pytest.fixture(scope="module")
def snap(schema_path: Path) -> Snapshot:
    return inspect_jsonschema(schema_path, name="people")


@pytest.fixture(scope="module")
def person(snap: Snapshot) -> CollectionSpec:
    return snap.collection("Person")


def _t(c: CollectionSpec, name: str) -> TypeSpec:
    return c.field(name).type


def test_collections_root_and_object_definitions(snap: Snapshot) -> None:
    # the root (by its title) and each *object* definition of the root document; enums,
    # scalar definitions and other files' definitions are only nested types
    assert [c.name for c in snap.collections] == ["Employee", "Mail", "Person", "Phone", "TreeNode"]
    assert {c.kind for c in snap.collections} == {"collection"}
    assert snap.source.kind == "jsonschema" and snap.source.name == "people"
    assert snap.collection("Person").comment == "Someone we know."


def test_fields_in_declared_order(person: CollectionSpec) -> None:
    assert [f.name for f in person.fields] == list(PERSON["properties"])


def test_formats(person: CollectionSpec) -> None:
    assert _t(person, "id") == TypeSpec(kind=LogicalType.UUID)
    assert _t(person, "email") == TypeSpec(kind=LogicalType.STR, semantic="email")
    assert _t(person, "home") == TypeSpec(kind=LogicalType.STR, semantic="url")
    assert _t(person, "born") == TypeSpec(kind=LogicalType.DATE)
    assert _t(person, "seen") == TypeSpec(kind=LogicalType.DATETIME, tz_aware=True)
    assert _t(person, "wakes") == TypeSpec(kind=LogicalType.TIME)
    assert _t(person, "ip4") == TypeSpec(kind=LogicalType.STR, semantic="ipv4")
    assert _t(person, "ip6") == TypeSpec(kind=LogicalType.STR, semantic="ipv6")
    assert _t(person, "nick") == TypeSpec(kind=LogicalType.STR, max_length=12)
    assert _t(person, "anything") == TypeSpec(kind=LogicalType.JSON)


def test_required_nullable_and_defaults(person: CollectionSpec) -> None:
    email, age, height, nick = (person.field(n) for n in ("email", "age", "height", "nick"))
    assert (email.required, email.nullable) == (True, False)
    assert email.comment == "where to write"
    assert (age.required, age.nullable, age.type) == (False, True, INT)
    assert (height.nullable, height.type) == (True, TypeSpec(kind=LogicalType.FLOAT))
    assert (nick.required, nick.nullable, nick.default) == (False, False, '"none"')
    assert person.field("active").default == "true"


def test_unions(person: CollectionSpec) -> None:
    assert _t(person, "handle") == TypeSpec(kind=LogicalType.UNION, variants=(INT, STR))
    assert person.field("handle").nullable is False
    contact = _t(person, "contact")
    assert contact.kind == LogicalType.UNION
    assert [tuple(f.name for f in v.fields or ()) for v in contact.variants or ()] == [
        ("number",),
        ("mailbox",),
    ]


def test_enums(person: CollectionSpec) -> None:
    assert _t(person, "kind") == TypeSpec(kind=LogicalType.ENUM, enum_values=("admin", "user"))
    assert _t(person, "level") == TypeSpec(kind=LogicalType.ENUM, enum_values=(1, 2, 3))


def test_arrays(person: CollectionSpec) -> None:
    assert _t(person, "tags") == TypeSpec(kind=LogicalType.ARRAY, items=STR)
    assert _t(person, "scores") == TypeSpec(
        kind=LogicalType.ARRAY,
        items=TypeSpec(
            kind=LogicalType.UNION,
            variants=(TypeSpec(kind=LogicalType.FLOAT), TypeSpec(kind=LogicalType.NULL)),
        ),
    )
    assert _t(person, "matrix") == TypeSpec(
        kind=LogicalType.ARRAY, items=TypeSpec(kind=LogicalType.ARRAY, items=INT)
    )
    pets = _t(person, "pets")
    assert pets.items is not None and pets.items.kind == LogicalType.OBJECT
    assert pets.items.fields == (FieldSpec(name="name", type=STR, nullable=False),)


def test_maps(person: CollectionSpec) -> None:
    assert _t(person, "labels") == TypeSpec(kind=LogicalType.OBJECT, map_values=STR)
    assert _t(person, "extra") == TypeSpec(
        kind=LogicalType.OBJECT, map_values=TypeSpec(kind=LogicalType.JSON)
    )


def test_nested_objects_and_refs_to_another_file(person: CollectionSpec) -> None:
    assert _t(person, "geo").fields == (
        FieldSpec(name="lat", type=TypeSpec(kind=LogicalType.FLOAT), nullable=False, required=True),
        FieldSpec(name="lng", type=TypeSpec(kind=LogicalType.FLOAT), nullable=False, required=True),
    )
    address = _t(person, "address")
    assert address.kind == LogicalType.OBJECT
    assert address.fields == (
        FieldSpec(name="city", type=STR, nullable=False, required=True),
        FieldSpec(name="zip", type=TypeSpec(kind=LogicalType.STR, max_length=10), nullable=False),
        FieldSpec(
            name="country",
            type=TypeSpec(kind=LogicalType.ENUM, enum_values=("FR", "DE")),
            nullable=False,
        ),
    )
    previous = person.field("previous")
    assert previous.nullable is True and previous.type == address


def test_all_of_merges_fields(snap: Snapshot, person: CollectionSpec) -> None:
    employee = snap.collection("Employee")
    assert [(f.name, f.required, f.type.kind) for f in employee.fields] == [
        ("number", True, LogicalType.STR),
        ("salary", True, LogicalType.DECIMAL),
    ]
    badge = _t(person, "badge")
    assert [f.name for f in badge.fields or ()] == ["number", "mailbox"]


def test_recursion_becomes_json_with_a_warning(snap: Snapshot, person: CollectionSpec) -> None:
    tree = snap.collection("TreeNode")
    assert _t(tree, "children") == TypeSpec(
        kind=LogicalType.ARRAY, items=TypeSpec(kind=LogicalType.JSON)
    )
    assert _t(tree, "parent") == TypeSpec(kind=LogicalType.JSON)
    assert _t(person, "manager") == TypeSpec(kind=LogicalType.JSON)
    assert "TreeNode.parent: recursive reference to TreeNode typed as json" in snap.warnings
    assert any(w.startswith("Person.manager: recursive reference") for w in snap.warnings)
    assert list(snap.warnings) == sorted(snap.warnings)


def test_draft7_definitions_and_untitled_root(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "orders.json",
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "lines": {"type": "array", "items": {"$ref": "#/definitions/Line"}},
                "state": {"$ref": "#/definitions/State"},
                "code": {"$ref": "#/definitions/Code"},
            },
            "definitions": {
                "Line": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                    "required": ["sku"],
                },
                "State": {"enum": ["open", "closed", None]},
                "Code": {"type": "string", "maxLength": 4},
            },
        },
    )
    snap = inspect_jsonschema(path, name="orders")
    assert [c.name for c in snap.collections] == ["Line", "orders"]  # root named by file stem
    root = snap.collection("orders")
    lines = _t(root, "lines")
    assert lines.items is not None and [f.name for f in lines.items.fields or ()] == ["sku", "qty"]
    state = root.field("state")
    assert state.type.enum_values == ("open", "closed") and state.nullable is True
    assert _t(root, "code") == TypeSpec(kind=LogicalType.STR, max_length=4)


def test_schema_without_objects_has_no_collections(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.json", {"type": "string"})
    assert inspect_jsonschema(path, name="s").collections == ()


def test_deterministic(schema_path: Path) -> None:
    first = dumps_snapshot(inspect_jsonschema(schema_path, name="people"))
    second = dumps_snapshot(inspect_jsonschema(schema_path, name="people"))
    assert first == second


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match=r"nope\.json.*does not exist"):
        inspect_jsonschema(tmp_path / "nope.json", name="x")


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"type": ', encoding="utf-8")
    with pytest.raises(InspectError, match=r"broken\.json: cannot read JSON Schema"):
        inspect_jsonschema(path, name="x")


def test_missing_ref_file_names_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "dangling.json",
        {"type": "object", "properties": {"a": {"$ref": "elsewhere.json#/$defs/A"}}},
    )
    with pytest.raises(InspectError, match=r"dangling\.json: .*elsewhere\.json"):
        inspect_jsonschema(path, name="x")


def test_hostile_names_keep_their_spelling(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "h.json",
        {
            "type": "object",
            "properties": {
                "class": {"type": "string"},
                "my field": {"type": "integer"},
                "a-b": {"type": "integer"},
                "a_b": {"type": "string"},
                "naïve": {"type": "boolean"},
                "x": {"$ref": "#/$defs/my%20def"},
                "y": {"$ref": "#/$defs/a~1b"},
            },
            "$defs": {
                "my def": {"type": "object", "properties": {"q": {"type": "string"}}},
                "a/b": {"type": "object", "properties": {"r": {"type": "string"}}},
            },
        },
    )
    snap = inspect_jsonschema(path, name="h")
    assert [c.name for c in snap.collections] == ["a/b", "h", "my def"]
    root = snap.collection("h")
    assert [f.name for f in root.fields] == ["class", "my field", "a-b", "a_b", "naïve", "x", "y"]
    assert [f.name for f in _t(root, "x").fields or ()] == ["q"]


def test_title_clashing_with_a_definition_is_an_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "clash.json",
        {
            "title": "Thing",
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "$defs": {"Thing": {"type": "object", "properties": {"b": {"type": "integer"}}}},
        },
    )
    with pytest.raises(InspectError, match=r"clash\.json: .*'Thing'"):
        inspect_jsonschema(path, name="c")


def test_same_bytes_whatever_the_hash_seed(schema_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path;"
        "from xrepo.codegen.inspect.jsonschema import inspect_jsonschema;"
        "from xrepo.runtime.schema import dumps_snapshot;"
        "sys.stdout.write(dumps_snapshot(inspect_jsonschema(Path(sys.argv[1]), name='people')))"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, str(schema_path)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1")
    ]
    assert (
        outputs[0] == outputs[1] == dumps_snapshot(inspect_jsonschema(schema_path, name="people"))
    )
