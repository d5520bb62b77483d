"""Base classes that generated models and repos declare themselves with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class XObjPrototype(BaseModel):
    """Base of every generated (and dynamic) model.

    Fields whose Python name differs from the source name carry ``alias=<source name>``;
    both names validate, and :meth:`to_source` writes the source names back.
    """

    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        arbitrary_types_allowed=False,
    )

    @classmethod
    def from_source(cls, row: Mapping[str, Any]) -> Self:
        """Build from a row keyed by source names (as a backend returns it)."""
        return cls.model_validate(row)

    def to_source(self, *, exclude_unset: bool = False) -> dict[str, Any]:
        """Plain dict keyed by source names, Python values (for backends)."""
        return self.model_dump(by_alias=True, exclude_unset=exclude_unset)
