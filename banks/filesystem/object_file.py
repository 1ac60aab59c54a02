"""The filesystem bank's object file: one file holding an object's metadata and data.

One file holds metadata and data, so that one ``os.replace`` publishes both at once (a
sidecar would need two renames, and a reader could pair new data with old metadata)::

    b"SBX1"                 magic and format version
    4 bytes, big-endian     length N of the header
    N bytes                 msgpack header {"metadata": {str: str}}
    the rest                the object's bytes

``head`` reads only the header; the size is the file size less the header.

An object file is named after the last segment of its key with the suffix ``~obj``
(:func:`object_path`; the module docstring of :mod:`banks.filesystem.bank` tells the
key-to-path rule). It is written through a temp file (:mod:`banks.filesystem.atomic`),
so a reader sees the old object or the new one, never a part.

Every function here blocks; the bank calls them in a worker thread.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec
import structlog

from banks.errors import InvalidKey
from banks.filesystem.atomic import fsync_dir, replace_file
from banks.keys import validate_key

log = structlog.get_logger(__name__)

OBJECT_SUFFIX = "~obj"
# NAME_MAX is 255 bytes on every common filesystem; leave room for the suffix.
MAX_SEGMENT_LENGTH = 255 - len(OBJECT_SUFFIX)

_MAGIC = b"SBX1"
_HEADER_LENGTH = struct.Struct(">I")
_PREAMBLE = len(_MAGIC) + _HEADER_LENGTH.size
# A header is a few metadata strings; a bigger length means a corrupt file, not a read.
_MAX_HEADER = 1 << 20


class Header(msgspec.Struct):
    """The msgpack header of an object file."""

    metadata: dict[str, str] = msgspec.field(default_factory=dict)


_header_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(Header)


class CorruptObject(Exception):
    """An object file without a valid header (internal; mapped to BankError)."""


def object_path(objects: Path, key: str) -> Path:
    """The object file of ``key`` under the bank's ``objects`` directory.

    Raises:
        InvalidKey: if the key breaks the key rules or a segment is too long.
    """
    validate_key(key)
    segments = key[1:].split("/")
    for segment in segments:
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(key, f"a segment is longer than {MAX_SEGMENT_LENGTH} characters")
    return objects.joinpath(*segments[:-1], segments[-1] + OBJECT_SUFFIX)


def encode_header(metadata: Mapping[str, str] | None) -> bytes:
    """The preamble and header of an object file.

    Raises:
        TypeError: if a metadata name or value is not a str; checked here because
            such a header would encode but never decode, making the object unreadable.
    """
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"bank metadata must map str to str, not {name!r}: {value!r}")
    raw = _header_encoder.encode(Header(metadata=dict(metadata or {})))
    return _MAGIC + _HEADER_LENGTH.pack(len(raw)) + raw


def read_header(fd: int) -> tuple[Header, int]:
    """Read the header at the start of the open file ``fd``; return it and its end offset.

    Raises:
        CorruptObject: if the file does not start with a valid header.
    """
    preamble = os.pread(fd, _PREAMBLE, 0)
    if len(preamble) < _PREAMBLE or not preamble.startswith(_MAGIC):
        raise CorruptObject("no object header")
    (length,) = _HEADER_LENGTH.unpack_from(preamble, len(_MAGIC))
    if length > _MAX_HEADER:
        raise CorruptObject(f"header length {length} is implausible")
    raw = os.pread(fd, length, _PREAMBLE)
    if len(raw) < length:
        raise CorruptObject("truncated object header")
    try:
        header = _header_decoder.decode(raw)
    except msgspec.DecodeError as err:
        raise CorruptObject(f"unreadable object header: {err}") from None
    return header, _PREAMBLE + length


def write_object(target: Path, header: bytes, data: bytes) -> None:
    """Replace the object file ``target`` with ``header`` (from :func:`encode_header`) and
    ``data``, atomically."""
    replace_file(target, header, data)


def read_object(path: Path) -> bytes:
    """The data of the object file ``path``, without its header.

    Raises:
        CorruptObject: if the file does not start with a valid header.
    """
    with open(os.open(path, os.O_RDONLY), "rb", buffering=0) as file:
        _, offset = read_header(file.fileno())
        file.seek(offset)
        return file.read()


def read_object_into(path: Path, reserve: Callable[[int], memoryview]) -> memoryview:
    """The data of the object file ``path``, read into ``reserve(its size)``.

    For a reader that reuses its buffers: a fresh chunk-sized ``bytes`` per read costs
    an mmap, a page fault per 4 KiB and an munmap. Returns the part of the buffer filled
    (the whole data: an object file is replaced by rename, never changed in place).

    Raises:
        CorruptObject: if the file does not start with a valid header.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _, offset = read_header(fd)
        buffer = reserve(max(0, os.fstat(fd).st_size - offset))
        filled = 0
        while filled < len(buffer):
            count = os.preadv(fd, [buffer[filled:]], offset + filled)
            if count == 0:
                break
            filled += count
        return buffer[:filled]
    finally:
        os.close(fd)


def open_object(path: Path) -> tuple[int, int]:
    """Open the object file ``path``; return the descriptor and the offset of its data.

    Raises:
        CorruptObject: if the file does not start with a valid header (the file is
            closed again).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        _, offset = read_header(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd, offset


def head_object(path: Path) -> tuple[Header, int, float]:
    """The header, data size and modification time of the object file ``path``.

    Raises:
        CorruptObject: if the file does not start with a valid header.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        header, offset = read_header(fd)
        stat = os.fstat(fd)
    finally:
        os.close(fd)
    return header, stat.st_size - offset, stat.st_mtime


def delete_object(path: Path, objects: Path, bank: str) -> None:
    """Remove the object file ``path`` and prune the directories it leaves empty.

    A missing file is not an error. ``objects`` is the bank's ``objects`` directory, never
    pruned; ``bank`` names the bank in log events.
    """
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    # Prune directories the delete left empty, so that deleted checkpoints do not
    # leave a tree of empty directories; stop at the first one that is not empty.
    directory = path.parent
    while directory != objects:
        try:
            os.rmdir(directory)
        except OSError:
            break
        directory = directory.parent
    try:
        fsync_dir(directory)
    except OSError:
        # The unlink is done; durability of the directory entry is best effort.
        log.warning("bank_delete_fsync_failed", bank=bank, directory=str(directory))
