"""Reading a view's ``join_config``: join type, key fields per source, per-source filters.

Accepted spellings are documented on :meth:`XRepoFactory.create_view_from_resources`; every
error names the view and what to write instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from .errors import ConfigurationError
from .naming import singular_noun
from .views import JOIN_TYPES, JoinType


def join_type(name: str, config: Mapping[str, Any]) -> JoinType:
    how = config.get("type", config.get("how", "inner"))
    if how not in JOIN_TYPES:
        raise ConfigurationError(
            f"view {name!r}: join type {how!r} is not one of {', '.join(JOIN_TYPES)}"
        )
    return cast(JoinType, how)


def as_fields(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def join_keys(name: str, names: Sequence[str], config: Mapping[str, Any]) -> dict[str, list[str]]:
    if "left_on" in config or "left_key" in config:
        if len(names) != 2:
            raise ConfigurationError(f"view {name!r}: left_on/right_on join exactly two sources")
        left = config.get("left_on", config.get("left_key"))
        right = config.get("right_on", config.get("right_key"))
        return {names[0]: as_fields(left), names[1]: as_fields(right)}
    on = config.get("on")
    if on is None:
        raise ConfigurationError(f"view {name!r}: join_config needs 'on' (the join key)")
    if isinstance(on, Mapping):
        missing = [n for n in names if n not in on]
        extra = [k for k in on if k not in names]
        if missing or extra:
            raise ConfigurationError(
                f"view {name!r}: 'on' must name a key for every source {list(names)} "
                f"(missing {missing}, unknown {extra})"
            )
        return {n: as_fields(on[n]) for n in names}
    if isinstance(on, str):
        return {n: [on] for n in names}
    items = list(on)
    if items and all(isinstance(i, str) for i in items):
        return {n: list(items) for n in names}
    if len(names) == 2 and all(isinstance(i, Sequence) and len(i) == 2 for i in items):
        return {names[0]: [str(i[0]) for i in items], names[1]: [str(i[1]) for i in items]}
    raise ConfigurationError(f"view {name!r}: cannot read join key 'on': {on!r}")


def source_filters(
    name: str,
    names: Sequence[str],
    config: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> dict[str, Mapping[str, Any]]:
    aliases = {}
    for n in names:
        aliases[f"{n}_filters"] = n
        aliases.setdefault(f"{singular_noun(n)}_filters", n)
    out: dict[str, Mapping[str, Any]] = {}
    for src, flt in dict(config.get("filters", {})).items():
        if src not in names:
            raise ConfigurationError(f"view {name!r}: filters for unknown source {src!r}")
        out[src] = flt
    given = {k: v for k, v in config.items() if k.endswith("_filters")} | dict(extra)
    for key, flt in given.items():
        if key not in aliases:
            raise ConfigurationError(
                f"view {name!r}: {key!r} names no source (sources: {', '.join(names)}; "
                f"use {', '.join(sorted(aliases))})"
            )
        out[aliases[key]] = flt
    return out


__all__ = ["as_fields", "join_keys", "join_type", "source_filters"]
