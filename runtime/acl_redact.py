"""What the describing methods (``inspect_schema``, ``inspect_collection``) show a principal
with hidden fields: the same description with those fields left out, as if absent."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any


def schema_without(schema: dict[str, Any], drop: Iterable[str]) -> dict[str, Any]:
    """A JSON Schema (a model's, by alias) without the top-level properties ``drop``; the
    ``$defs`` only they referred to go too, so a hidden field's nested shape is not shown."""
    gone = set(drop)
    if not gone:
        return schema
    out = copy.deepcopy(schema)
    props = out.get("properties")
    if isinstance(props, dict):
        for name in gone:
            props.pop(name, None)
    if isinstance(out.get("required"), list):
        out["required"] = [r for r in out["required"] if r not in gone]
    defs = out.pop("$defs", None)
    if isinstance(defs, dict):
        keep: set[str] = set()
        todo = _refs(out)
        while todo:
            name = todo.pop()
            if name not in keep and name in defs:
                keep.add(name)
                todo |= _refs(defs[name])
        if keep:
            out["$defs"] = {k: v for k, v in defs.items() if k in keep}
    return out


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                found.add(ref.removeprefix("#/$defs/"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def keys_without(keys: Iterable[Sequence[str]], drop: Iterable[str]) -> list[list[str]]:
    """Index / unique key field lists, leaving out every key that names a hidden field."""
    gone = set(drop)
    return [list(k) for k in keys if not gone.intersection(k)]


__all__ = ["keys_without", "schema_without"]
