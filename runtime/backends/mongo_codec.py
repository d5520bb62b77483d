"""How MongoBackend decodes BSON: the codec options every read and write goes through.

Decoding happens inside the driver's C extension with a small type registry rather than a
Python walk over every document afterwards: ``Decimal128`` → ``Decimal`` and ``ObjectId`` → its
24-hex ``str`` (models hold ObjectIds as strings), UUIDs in the standard representation (Binary
subtype 4 ↔ ``uuid.UUID``), datetimes aware in UTC by default (BSON dates are UTC instants;
``tz_aware=False`` gives naive UTC datetimes for models with naive fields).
"""

from __future__ import annotations

import datetime
import decimal
import struct
from typing import Any

_UNPACK = struct.Struct("<QQ").unpack
_SPECIAL = 0x6000000000000000  # NaN, infinities and the large-coefficient encoding
_COEFFICIENT = 0x1FFFFFFFFFFFF


def decimal128_to_decimal(value: Any) -> decimal.Decimal:
    """``Decimal128.to_decimal()``, about 6× faster for ordinary values: the coefficient and
    exponent are read from the BID bits and parsed once by the C ``decimal`` module."""
    low, high = _UNPACK(value.bid)
    if high & _SPECIAL == _SPECIAL:
        result: decimal.Decimal = value.to_decimal()
        return result
    coefficient = ((high & _COEFFICIENT) << 64) | low
    exponent = ((high >> 49) & 0x3FFF) - 6176
    sign = "-" if high >> 63 else ""
    return decimal.Decimal(f"{sign}{coefficient}E{exponent}")


def _object_id_hex(value: Any) -> str:
    return value.binary.hex()  # type: ignore[no-any-return]


def codec_options(tz_aware: bool = True) -> Any:
    """The backend's ``bson.codec_options.CodecOptions``."""
    from bson.binary import UuidRepresentation
    from bson.codec_options import CodecOptions, TypeDecoder, TypeEncoder, TypeRegistry
    from bson.decimal128 import Decimal128
    from bson.objectid import ObjectId

    # The converters are the transforms themselves (no method frame per value: the C decoder
    # calls them once for every ObjectId / Decimal128 it meets).
    class DecimalDecoder(TypeDecoder):
        bson_type = Decimal128
        transform_bson = staticmethod(decimal128_to_decimal)

    class ObjectIdDecoder(TypeDecoder):
        bson_type = ObjectId
        transform_bson = staticmethod(_object_id_hex)

    class DecimalEncoder(TypeEncoder):
        python_type = decimal.Decimal

        def transform_python(self, value: Any) -> Any:
            return Decimal128(value)

    registry = TypeRegistry([DecimalDecoder(), ObjectIdDecoder(), DecimalEncoder()])
    return CodecOptions(
        document_class=dict,
        tz_aware=tz_aware,
        tzinfo=datetime.UTC if tz_aware else None,
        uuid_representation=UuidRepresentation.STANDARD,
        type_registry=registry,
    )


__all__ = ["codec_options"]
