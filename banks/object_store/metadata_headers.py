"""User metadata of an object as object-store headers, exactly as given.

S3 lower-cases ``x-amz-meta-*`` names and Swift title-cases ``X-Object-Meta-*`` names,
and both restrict the characters of values. So a bank does not send each metadata item
as its own header: it encodes the whole mapping as msgspec JSON, base64url, cut into
values of at most :data:`PIECE` characters under the header names ``sbx0``, ``sbx1``...
(after the store's own prefix). That round-trips any str names and values unchanged.

The stores cap metadata in total (S3 2 KiB, Swift 4 KiB by default), so a mapping that
encodes longer than :data:`MAX_ENCODED` is refused before any request.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import msgspec

PIECE = 200  # below Swift's 256-byte limit per metadata value
MAX_ENCODED = 1800  # below S3's 2 KiB for all user metadata, names included
NAME = "sbx"

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, str])


class MetadataTooLarge(ValueError):
    """The metadata does not fit in the store's headers."""


def encode_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The header suffixes and values (``{"sbx0": ...}``) carrying ``metadata``.

    Raises:
        TypeError: if a name or value is not a str.
        MetadataTooLarge: if it encodes longer than :data:`MAX_ENCODED` characters.
    """
    items = dict(metadata or {})
    for name, value in items.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"metadata names and values must be str, not {name!r}: {value!r}")
    if not items:
        return {}
    text = base64.urlsafe_b64encode(_encoder.encode(items)).decode()
    if len(text) > MAX_ENCODED:
        raise MetadataTooLarge(
            f"metadata encodes to {len(text)} characters, more than {MAX_ENCODED}"
        )
    return {
        f"{NAME}{index}": text[start : start + PIECE]
        for index, start in enumerate(range(0, len(text), PIECE))
    }


def decode_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """Invert :func:`encode_metadata`; ``headers`` maps lower-case suffixes to values.

    Headers that are not ours (set by another client) are ignored.
    """
    pieces: list[str] = []
    while (piece := headers.get(f"{NAME}{len(pieces)}")) is not None:
        pieces.append(piece)
    if not pieces:
        return {}
    try:
        return _decoder.decode(base64.urlsafe_b64decode("".join(pieces)))
    except (ValueError, msgspec.DecodeError):
        return {}
