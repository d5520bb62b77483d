"""A MongoDB collection's ``$jsonSchema`` validator, read through the ``jsonschema`` source path.

The MongoDB inspector lives in the runtime, which must not import the compiler; the CLI hands it
:func:`read_validator` as its ``validator_reader``. The validator is translated into standard JSON
Schema and parsed by the same datamodel-code-generator reader as a ``jsonschema`` source
(:func:`.jsonschema.read_root_fields`), so both kinds type the same schema the same way.

``bsonType`` (a name or a list of names) becomes:

==========================  ===========================================================
bsonType                    logical type
==========================  ===========================================================
double, number              float
int, long                   int
decimal                     decimal
string, symbol, regex       str (regex: the pattern; see mongo_types)
bool                        bool
null                        makes the field nullable
object / array              nested object / array (properties, items… as JSON Schema)
objectId                    object_id
date, timestamp             datetime, timezone-aware (BSON dates are UTC)
binData                     bytes
javascript, minKey, maxKey, unknown (the inspector warns)
dbPointer, undefined
==========================  ===========================================================

A list of names is a union; keywords that only constrain one JSON type (``properties``,
``items``, ``maxLength``…) go to the member of that type. ``not`` is dropped (it excludes
values, it does not type them). The top-level fields carry the validator's ``bsonType``
spelling as ``source_type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from xrepo.runtime.introspect.base import InspectError
from xrepo.runtime.schema import CollectionSpec

from .jsonschema import read_root_fields

__all__ = ["read_validator", "to_json_schema"]

_DATE = {"type": "string", "format": "date-time"}
_BSON: dict[str, dict[str, Any]] = {
    "double": {"type": "number"},
    "number": {"type": "number"},
    "int": {"type": "integer"},
    "long": {"type": "integer"},
    "decimal": {"customTypePath": "decimal.Decimal"},
    "string": {"type": "string"},
    "symbol": {"type": "string"},
    "regex": {"type": "string"},
    "bool": {"type": "boolean"},
    "null": {"type": "null"},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "objectId": {"customTypePath": "bson.ObjectId"},
    "date": _DATE,
    "timestamp": _DATE,
    "binData": {"type": "string", "format": "binary"},
}
_OPAQUE = {
    "javascript": "Code",
    "javascriptWithScope": "Code",
    "minKey": "MinKey",
    "maxKey": "MaxKey",
    "dbPointer": "DBRef",
    "undefined": "Undefined",
}
_JSON_TYPE = {
    "object": "object",
    "array": "array",
    "string": "string",
    "symbol": "string",
    "regex": "string",
    "double": "number",
    "number": "number",
    "int": "number",
    "long": "number",
    "decimal": "number",
}
# keywords that only constrain one JSON type: with a bsonType list they go to that member
_KEYWORDS = {
    "object": {
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "minProperties",
        "maxProperties",
        "dependencies",
    },
    "array": {"items", "additionalItems", "minItems", "maxItems", "uniqueItems"},
    "string": {"minLength", "maxLength", "pattern"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
}
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf")


def read_validator(schema: Mapping[str, Any], collection: str) -> CollectionSpec:
    """The collection a ``$jsonSchema`` document declares (its root object's properties)."""
    if not isinstance(schema, Mapping):
        raise InspectError(f"{collection}: the $jsonSchema validator is not a document")
    label = f"{collection} $jsonSchema validator"
    text = json.dumps(to_json_schema(schema, root=True), default=str)
    fields, _ = read_root_fields(text, label=label)
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        fields = tuple(
            f.model_copy(update={"source_type": _bson_type(properties.get(f.name))}) for f in fields
        )
    return CollectionSpec(name=collection, kind="collection", fields=fields)


def _bson_type(node: Any) -> str | None:
    if not isinstance(node, Mapping):
        return None
    spelled = node.get("bsonType", node.get("type"))
    if isinstance(spelled, str):
        return spelled
    if isinstance(spelled, list) and all(isinstance(t, str) for t in spelled):
        return "|".join(spelled)
    return None


def to_json_schema(node: Any, *, root: bool = False) -> Any:
    """A ``$jsonSchema`` node as standard JSON Schema (see the module docstring)."""
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("bsonType", "not"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {str(k): to_json_schema(v) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_json_schema(v) for v in value]
        elif key in ("items", "additionalItems"):
            items = [to_json_schema(v) for v in value] if isinstance(value, list) else value
            out[key] = to_json_schema(items) if isinstance(items, Mapping) else items
        elif key == "additionalProperties" and isinstance(value, Mapping):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    bson = node.get("bsonType")
    if isinstance(bson, list) and len(bson) == 1:
        bson = bson[0]
    if isinstance(bson, str):
        out.update(_member(bson))
    elif isinstance(bson, list):
        members = []
        for name in bson:
            member = _member(str(name))
            group = _JSON_TYPE.get(str(name))
            for keyword in _KEYWORDS.get(group or "", ()):
                if keyword in out:
                    member[keyword] = out[keyword]
            members.append(member)
        for keywords in _KEYWORDS.values():
            for keyword in keywords:
                out.pop(keyword, None)
        out["anyOf"] = members
    if root and "type" not in out and "properties" in out:
        out["type"] = "object"
    return out


def _member(bson_type: str) -> dict[str, Any]:
    known = _BSON.get(bson_type)
    if known is not None:
        return dict(known)
    # no logical type: a class name the reader does not know is typed unknown (and warned)
    return {"customTypePath": f"bson.{_OPAQUE.get(bson_type, 'Unknown')}"}
