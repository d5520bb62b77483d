"""BSON values as the python values the document accumulator types, and how each maps.

PyMongo decodes most BSON types to plain python already (``tz_aware=True`` on the client makes
dates aware UTC datetimes). The rest is converted here, before inference:

============================  ============  ==================================================
BSON type                     logical type  why
============================  ============  ==================================================
ObjectId                      object_id     its own vocabulary kind
Decimal128                    decimal       exact decimal, kept exact
date                          datetime      ``tz_aware=True``: BSON dates are UTC instants
date out of python's range    datetime      same BSON type; the value is clamped, not typed
int32 / Int64                 int           python ints are unbounded
double                        float
binData subtype 3 / 4         uuid          legacy and standard UUIDs (byte order is the
                                            driver's ``uuidRepresentation`` business)
binData other subtypes        bytes
regex                         str           the pattern; flags are dropped (warning)
timestamp                     datetime      its seconds, UTC; the increment is dropped
                                            (warning). Timestamps are replication
                                            internals; a stored one is almost always a
                                            "when" to the application.
symbol                        str           a deprecated spelling of string
javascript, code w/ scope,    unknown       nothing in the vocabulary holds them faithfully:
minKey, maxKey, DBRef,                      warned, never guessed
dbPointer, undefined
============================  ============  ==================================================

Lossy and unknown mappings are recorded as :class:`BsonNotes` (path → BSON type → count) so the
inspector can name the field in a warning.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..files import ObjectIdText

__all__ = [
    "ITEMS",
    "VALUES",
    "BsonNotes",
    "Opaque",
    "Path",
    "Step",
    "is_data_key",
    "normalise",
    "render_path",
]

#: One step into a document: ``("k", name)`` a field, ``ITEMS`` an array's items, ``VALUES`` the
#: values of a map. Field names are data (``[]``, ``*`` and ``.`` are legal in them), so steps
#: are tagged rather than spelled.
Step = tuple[str, str]
Path = tuple[Step, ...]
ITEMS: Step = ("i", "")
VALUES: Step = ("v", "")

_PLAIN = (str, int, float, bool, type(None), datetime, bytes)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: BSON type name → why it is typed the way it is, for the warning.
LOSSY = {
    "regex": "typed str (the pattern); regex flags are not kept",
    "timestamp": "typed datetime (its seconds, UTC); the increment is not kept",
}


class Opaque:
    """A BSON value with no logical type; :func:`~.infer.kind_of` calls it ``unknown``."""

    __slots__ = ("bson_type",)

    def __init__(self, bson_type: str) -> None:
        self.bson_type = bson_type


class BsonNotes:
    """Counts of lossy or unknown BSON values by field path."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[Path, str]] = Counter()

    def note(self, path: Path, bson_type: str) -> None:
        self.counts[(path, bson_type)] += 1


def render_path(path: Path) -> str:
    """``address.city``, ``tags[]``, ``translations.*`` (the stats block's spelling)."""
    out = ""
    for tag, name in path:
        if tag == "k":
            out = f"{out}.{name}" if out else name
        elif tag == "i":
            out += "[]"
        else:
            out = f"{out}.*" if out else "*"
    return out


def normalise(value: Any, path: Path, notes: BsonNotes) -> Any:
    """``value`` with BSON-only types replaced by the python values inference understands."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Mapping):
        if type(value).__name__ == "RawBSONDocument":  # pragma: no cover - not decoded raw
            value = dict(value.items())
        return {k: normalise(v, (*path, ("k", str(k))), notes) for k, v in value.items()}
    if isinstance(value, list):
        item_path = (*path, ITEMS)
        return [normalise(v, item_path, notes) for v in value]
    return _scalar(value, path, notes)


def _scalar(value: Any, path: Path, notes: BsonNotes) -> Any:
    name = type(value).__name__
    if name == "ObjectId":
        return ObjectIdText(str(value))
    if name == "Decimal128":
        decimal: Decimal = value.to_decimal()
        return decimal
    if name == "Binary":
        if value.subtype in (3, 4) and len(value) == 16:
            return uuid.UUID(bytes=bytes(value))
        return bytes(value)
    if name == "Code":  # a str subclass: must be caught before the str check below
        notes.note(path, "javascript")
        return Opaque("javascript")
    if name == "Regex":
        notes.note(path, "regex")
        pattern = value.pattern
        return pattern.decode("utf-8", "replace") if isinstance(pattern, bytes) else str(pattern)
    if name == "Timestamp":
        notes.note(path, "timestamp")
        stamp: datetime = value.as_datetime()
        return stamp
    if name == "DatetimeMS":  # a date beyond python's datetime range
        return _EPOCH
    if isinstance(value, (bool, int, float, str, datetime, bytes)):  # Int64, SON-less subclasses
        return value
    if isinstance(value, (uuid.UUID, Decimal)):
        return value
    bson_type = {"MinKey": "minKey", "MaxKey": "maxKey", "DBRef": "dbPointer/DBRef"}.get(name, name)
    notes.note(path, bson_type)
    return Opaque(bson_type)


# Keys that are data rather than names: numbers, hex ids (ObjectIds included), UUIDs, language /
# region / currency codes (``en``, ``pt-BR``, ``zh_Hant``, ``EUR``) and prefixed ids
# (``user_42``, ``sku-0042``).
_DATA_KEY = re.compile(
    r"-?\d+"
    r"|[0-9a-fA-F]{8,}"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}"
    r"|[A-Za-z]{1,12}[-_:]?\d+"
)


def is_data_key(key: str) -> bool:
    return _DATA_KEY.fullmatch(key) is not None
