"""Rare minority types reported as warnings instead of widening a field's type.

A schemaless source always holds a few odd values (a ``"N/A"`` among thousands of numbers). With
a threshold ``t``, a kind that makes up less than ``t`` of a field's non-null values, when the
field has another kind, is left out of the type and named in a warning; the stats histogram keeps
its count. Shares are counted after widening (ints inside a float field count as float), so a
field of mostly floats with a few ints stays a plain float and is never warned about. The most
frequent kind always stays, whatever the threshold.
"""

from __future__ import annotations

from .infer import FieldAccumulator
from .memory import DocumentAccumulator, field_order

__all__ = ["apply_minority_threshold"]


def apply_minority_threshold(
    docs: DocumentAccumulator, threshold: float, *, where: str
) -> list[str]:
    """Mark minority kinds on every field under ``docs``; warnings name ``where`` + the path."""
    warnings: list[str] = []
    if threshold > 0:
        _document(docs, "", threshold, where, warnings)
    return warnings


def _document(
    docs: DocumentAccumulator, prefix: str, threshold: float, where: str, out: list[str]
) -> None:
    for name in field_order(docs.fields):
        _field(docs.fields[name], f"{prefix}.{name}" if prefix else name, threshold, where, out)
    if docs.map_values is not None:
        _field(docs.map_values, f"{prefix}.*" if prefix else "*", threshold, where, out)


def _field(acc: FieldAccumulator, path: str, threshold: float, where: str, out: list[str]) -> None:
    kinds = acc.kinds()
    if len(kinds) > 1:
        histogram = acc.histogram
        non_null = acc.non_null
        counts = {k: histogram[k] for k in kinds}
        widened = None
        if "int" not in kinds and histogram["int"]:
            widened = "float" if "float" in counts else "decimal"
            counts[widened] += histogram["int"]
        keep = max(kinds, key=lambda k: (counts[k], -kinds.index(k)))
        minor = [k for k in kinds if k != keep and counts[k] < threshold * non_null]
        if minor:
            # ints were counted inside the kind they widen to: they go with it
            extra = {"int"} if widened in minor else set()
            acc.ignored_kinds = frozenset(minor) | extra
            for kind in minor:
                out.append(
                    f"{where}.{path}: {counts[kind]} of {non_null} sampled values are {kind} "
                    f"({counts[kind] / non_null:.2%}, under the minority threshold "
                    f"{threshold:g}); left out of the type"
                )
    children = acc._children
    if children is not None:
        _document(children, path, threshold, where, out)
    if acc.items is not None:
        _field(acc.items, f"{path}[]", threshold, where, out)
