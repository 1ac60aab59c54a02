"""Byte-moving options shared by the plugins that copy image data into the bank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from banks.option_schema import OptionSchema
from plugins.errors import InvalidPluginOption

DEFAULT_CHUNK_SIZE = 1 << 20
CHUNK_BOUNDS = (64 << 10, 64 << 20)
DEFAULT_SEGMENT_SIZE = 256 << 20
SEGMENT_BOUNDS = (1 << 20, 4 << 30)


class ByteOptions(OptionSchema, frozen=True):
    """The schema of ``chunk_size`` and ``segment_size`` (see :func:`chunk_and_segment`)."""

    chunk_size: Annotated[int, msgspec.Meta(ge=CHUNK_BOUNDS[0], le=CHUNK_BOUNDS[1])] | None = None
    segment_size: (
        Annotated[int, msgspec.Meta(ge=SEGMENT_BOUNDS[0], le=SEGMENT_BOUNDS[1])] | None
    ) = None


def byte_option(config: Mapping[str, str], key: str, default: int,
                bounds: tuple[int, int]) -> int:
    """An integer byte count option within ``bounds``.

    Raises:
        InvalidPluginOption: if it is not an integer or out of bounds.
    """
    raw = config.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidPluginOption(key, f"{raw!r} is not an integer") from None
    low, high = bounds
    if not low <= value <= high:
        raise InvalidPluginOption(key, f"{value} is not in [{low}, {high}]")
    return value


def chunk_and_segment(config: Mapping[str, str]) -> tuple[int, int]:
    """``chunk_size`` (bytes per read, 64 KiB to 64 MiB, default 1 MiB) and
    ``segment_size`` (bytes per bank object, 1 MiB to 4 GiB, default 256 MiB).

    Raises:
        InvalidPluginOption: if either is out of bounds or the chunk exceeds the segment.
    """
    chunk = byte_option(config, "chunk_size", DEFAULT_CHUNK_SIZE, CHUNK_BOUNDS)
    segment = byte_option(config, "segment_size", DEFAULT_SEGMENT_SIZE, SEGMENT_BOUNDS)
    if chunk > segment:
        raise InvalidPluginOption("chunk_size", f"{chunk} exceeds segment_size {segment}")
    return chunk, segment
