"""Atomic, durable replacement of a file: the filesystem bank's one way to write.

Writes go to a temp file in the target's own directory, are fsynced, renamed over the
target with ``os.replace`` and the directory is fsynced, so a reader or a crash sees the
old file or the new one, never a part. Object files (:mod:`banks.filesystem.object_file`, and
streamed by :mod:`banks.filesystem.put_stream`) and lease records
(:mod:`banks.filesystem.leases`) are all written this way.

A temp file is named ``~tmp-<hex>``; ``~`` cannot occur in a key, so a temp file is never
taken for an object. One left by a crash stays on disk until removed by hand.

Every function here blocks; the bank calls them in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

TEMP_PREFIX = "~tmp-"
# A concurrent delete may prune the directory between our mkdir and our open; retry.
_CREATE_ATTEMPTS = 5
FILE_MODE = 0o600  # backups hold other people's data: readable by the bank's user only
DIR_MODE = 0o700


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data``; ``os.write`` may write less than asked."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents, fsyncing each parent that gained one.

    ``os.makedirs`` does not fsync, so after a crash a new directory (and the object
    renamed into it) could vanish although the write had returned.
    """
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path)) from None
            continue
        fsync_dir(path.parent)


def create_temp(directory: Path) -> tuple[int, Path]:
    """Create a fresh temp file in ``directory`` (making it if needed)."""
    for attempt in range(_CREATE_ATTEMPTS):
        temp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileNotFoundError:
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
            ensure_dir(directory)
            continue
        return fd, temp
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def discard(fd: int | None, temp: Path) -> None:
    """Close and remove a temp file after a failed write; never raises."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(temp)


def commit(fd: int, temp: Path, target: Path) -> None:
    """fsync and close ``fd``, rename ``temp`` over ``target``, fsync the directory.

    On failure the temp file is removed.
    """
    close_attempted = False
    try:
        os.fsync(fd)
        # A failed close still frees the descriptor; never close it twice.
        close_attempted = True
        os.close(fd)
        os.replace(temp, target)
    except BaseException:
        discard(None if close_attempted else fd, temp)
        raise
    fsync_dir(target.parent)


def replace_file(target: Path, *parts: bytes) -> None:
    """Write ``parts`` one after another as the new content of ``target``, atomically."""
    fd, temp = create_temp(target.parent)
    try:
        for data in parts:
            write_all(fd, data)
    except BaseException:
        discard(fd, temp)
        raise
    commit(fd, temp, target)
