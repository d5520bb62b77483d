"""How ``XRepoFactory.create(**inputs)`` decides what to build: prioritised strategies.

A strategy says whether it :meth:`~CreationStrategy.matches` the inputs and builds the repo;
the factory tries them highest priority first. The built-in ones only route to the factory's
named methods, after checking that no input would be silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigurationError
from .repo_specs import spec_of
from .resources.memory import MemoryResource

if TYPE_CHECKING:
    from .factory import XRepoFactory


class CreationStrategy(Protocol):
    """One way of turning ``create(**inputs)`` into a repo."""

    name: str

    def matches(self, inputs: Mapping[str, Any]) -> bool: ...

    async def create(self, factory: XRepoFactory, inputs: Mapping[str, Any]) -> Any: ...


def _check_keys(strategy: str, inputs: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(inputs) - allowed)
    if extra:
        raise ConfigurationError(
            f"XRepoFactory.create ({strategy}): unexpected input(s) {extra}; "
            f"this pattern takes {sorted(allowed)}"
        )


class _Strategy:
    name = "?"
    needs: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()

    def matches(self, inputs: Mapping[str, Any]) -> bool:
        return all(inputs.get(k) is not None for k in self.needs)

    async def create(self, factory: XRepoFactory, inputs: Mapping[str, Any]) -> Any:
        _check_keys(self.name, inputs, set(self.allowed | self.needs))
        return await self.build(factory, dict(inputs))

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        raise NotImplementedError


class ViewStrategy(_Strategy):
    name = "view"
    needs = frozenset({"sources", "join_config"})
    allowed = frozenset({"name", "prefix", "max_rows", "stale_after", "ns", "model_name"})

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        name = inputs.pop("name", None) or "view"
        sources = inputs.pop("sources")
        join_config = inputs.pop("join_config")
        return await factory.create_view_from_resources(name, sources, join_config, **inputs)


class AggregateStrategy(_Strategy):
    name = "aggregate"
    needs = frozenset({"source_repos", "aggregation_config"})
    allowed = frozenset({"name", "stale_after", "ns", "model_name"})

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        name = inputs.pop("name", None) or "aggregate"
        return await factory.create_aggregate_repo(
            name, inputs.pop("source_repos"), inputs.pop("aggregation_config"), **inputs
        )


class ModelClassStrategy(_Strategy):
    name = "model_class"
    needs = frozenset({"model_class"})
    allowed = frozenset(
        {
            "resource",
            "collection",
            "data",
            "schema",
            "create_model",
            "update_model",
            "primary_key",
            "name",
        }
    )

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        model = inputs.pop("model_class")
        if "name" in inputs:
            inputs.setdefault("collection", inputs.pop("name"))
        return await factory.create_from_model(model, **inputs)


class ResourceStrategy(_Strategy):
    name = "resource"
    needs = frozenset({"resource"})
    allowed = frozenset(
        {"collection", "auto_generate_model", "model_name", "ns", "schema", "primary_key"}
    )

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        return await factory.create_from_resource(
            inputs.pop("resource"),
            inputs.pop("collection", None),
            bool(inputs.pop("auto_generate_model", False)),
            inputs.pop("model_name", None),
            inputs.pop("ns", None),
            **inputs,
        )


class DataStrategy(_Strategy):
    name = "data"
    needs = frozenset({"data"})
    allowed = frozenset(
        {"name", "auto_generate_model", "model_name", "ns", "primary_key", "schema", "collection"}
    )

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        name = inputs.pop("name", None) or inputs.pop("collection", None)
        return await factory.create_from_data(inputs.pop("data"), name, **inputs)


class SchemaStrategy(_Strategy):
    name = "schema"
    needs = frozenset({"schema"})
    allowed = frozenset({"collection", "auto_generate_model", "model_name", "ns", "name"})

    async def build(self, factory: XRepoFactory, inputs: dict[str, Any]) -> Any:
        spec = spec_of(inputs.pop("schema"), inputs.pop("collection", inputs.pop("name", None)))
        resource = MemoryResource({spec.name: []}, name=inputs.pop("ns", None) or "memory")
        return await factory.create_from_resource(
            resource,
            spec.name,
            bool(inputs.pop("auto_generate_model", True)),
            inputs.pop("model_name", None),
            None,
            schema=spec,
        )


BUILTIN_STRATEGIES: tuple[tuple[CreationStrategy, int], ...] = (
    (ViewStrategy(), 100),
    (AggregateStrategy(), 95),
    (ModelClassStrategy(), 90),
    (ResourceStrategy(), 80),
    (DataStrategy(), 70),
    (SchemaStrategy(), 60),
)


__all__ = [
    "BUILTIN_STRATEGIES",
    "AggregateStrategy",
    "CreationStrategy",
    "DataStrategy",
    "ModelClassStrategy",
    "ResourceStrategy",
    "SchemaStrategy",
    "ViewStrategy",
]
