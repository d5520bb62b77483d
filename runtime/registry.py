"""ModelRegistry: the models a program uses, generated (static) or dynamic, per collection.

Keyed by ``(namespace, collection)``. Dynamic models are reused while the collection's schema
is unchanged: the registry keeps the content hash of the spec they were built from
(:func:`~xrepo.runtime.dynamic.schema_hash`, stats excluded) and builds new ones only when it
differs — so repeated ``create_from_resource`` calls hand out the very same classes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .dynamic import DynamicModels, ModelGenerator, schema_hash
from .errors import ConfigurationError
from .model import XObjPrototype
from .schema import CollectionSpec

Key = tuple[str | None, str]


@dataclass(frozen=True)
class RegisteredModel:
    namespace: str | None
    collection: str
    model: type[XObjPrototype]
    create_model: type[XObjPrototype] | None
    update_model: type[XObjPrototype] | None
    schema: CollectionSpec | None
    auto_generated: bool
    schema_hash: str | None
    #: Dynamic entries: every model built for the collection (nested, enums...).
    dynamic: DynamicModels | None = None


class ModelRegistry:
    def __init__(self, generator: ModelGenerator | None = None) -> None:
        self.generator = generator or ModelGenerator()
        self._entries: dict[Key, RegisteredModel] = {}
        self._lock = threading.Lock()
        #: How many times a dynamic model was built (reuse is observable in tests).
        self.generated_count = 0

    def register_generated_model(
        self,
        model: type[XObjPrototype],
        *,
        collection: str | None = None,
        namespace: str | None = None,
        create_model: type[XObjPrototype] | None = None,
        update_model: type[XObjPrototype] | None = None,
        schema: CollectionSpec | None = None,
    ) -> RegisteredModel:
        """Register a generated (static) or hand-written model for a collection.

        ``collection`` defaults to ``model.Meta.collection`` when the model has a ``Meta``.
        A static model replaces any dynamic one registered for the same collection.
        """
        meta = getattr(model, "Meta", None)
        name = collection or getattr(meta, "collection", None)
        if name is None:
            raise ConfigurationError(
                f"register_generated_model({model.__name__}): pass collection=... "
                "(the model has no Meta.collection)"
            )
        ns = namespace if namespace is not None else getattr(meta, "ns", None)
        entry = RegisteredModel(
            namespace=ns,
            collection=name,
            model=model,
            create_model=create_model,
            update_model=update_model,
            schema=schema,
            auto_generated=False,
            schema_hash=schema_hash(schema) if schema is not None else None,
        )
        with self._lock:
            self._entries[(ns, name)] = entry
        return entry

    def dynamic_models(
        self, spec: CollectionSpec, *, namespace: str | None = None, model_name: str | None = None
    ) -> DynamicModels:
        """The dynamic models of ``spec``, reused when one with the same schema is registered."""
        key = (namespace if namespace is not None else spec.namespace, spec.name)
        digest = schema_hash(spec)
        with self._lock:
            entry = self._entries.get(key)
            if (
                entry is not None
                and entry.auto_generated
                and entry.schema_hash == digest
                and (model_name is None or entry.model.__name__ == model_name)
            ):
                assert entry.dynamic is not None
                return entry.dynamic
            models = self.generator.generate(spec, model_name=model_name, ns=key[0])
            self.generated_count += 1
            self._entries[key] = RegisteredModel(
                namespace=key[0],
                collection=spec.name,
                model=models.model,
                create_model=models.create_model,
                update_model=models.update_model,
                schema=spec,
                auto_generated=True,
                schema_hash=digest,
                dynamic=models,
            )
            return models

    def entry(self, collection: str, namespace: str | None = None) -> RegisteredModel:
        try:
            return self._entries[(namespace, collection)]
        except KeyError:
            known = ", ".join(sorted(_label(k) for k in self._entries)) or "none"
            raise ConfigurationError(
                f"no model registered for {_label((namespace, collection))} (registered: {known})"
            ) from None

    def get_model(self, collection: str, namespace: str | None = None) -> type[XObjPrototype]:
        return self.entry(collection, namespace).model

    def get_schema(self, collection: str, namespace: str | None = None) -> CollectionSpec | None:
        return self.entry(collection, namespace).schema

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, sorted by (namespace, collection)."""
        return [self._entries[k] for k in sorted(self._entries, key=lambda k: (k[0] or "", k[1]))]

    def is_auto_generated(self, collection: str, namespace: str | None = None) -> bool:
        return self.entry(collection, namespace).auto_generated

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def _label(key: Key) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


__all__ = ["ModelRegistry", "RegisteredModel"]
