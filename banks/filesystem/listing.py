"""Listing the filesystem bank: a directory walk in key order, with prefix, marker and limit.

A directory walk is not key order (``/a-c`` sorts before ``/a/b`` because ``-`` is below
``/``). Each directory is read once, its entries are sorted by the key text they stand
for (an object ``name``, a directory ``name/``), and the walk goes depth first in that
order, which yields keys in ascending order. The walk starts at the directory of the
prefix's last ``/`` and skips subtrees that hold no key after the marker, so paging
through a large bank reads only the directories along the marker's path.

Only object files (``name~obj``) and directories whose name holds no ``~`` count; temp
files and stray files are passed over. Every function here blocks; the bank calls them
in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from banks.filesystem.atomic import TEMP_PREFIX
from banks.filesystem.object_file import OBJECT_SUFFIX


def _entries(
    directory: str, key_prefix: str, start: str, marker: str | None
) -> list[tuple[str, bool, str]]:
    """The objects and subdirectories of ``directory`` that may hold keys after ``marker``.

    Only names starting with ``start`` count. Each entry is ``(sort text, is directory,
    path)``, the sort text being the object's key or the directory's key prefix ending
    in ``/``; sorted by it, so that walking them depth first yields keys in ascending
    order. Entries wholly at or before ``marker`` are dropped here, so that paging
    through a big directory sorts only what is left of it.
    """
    found: list[tuple[str, bool, str]] = []
    try:
        with os.scandir(directory) as scan:
            for entry in scan:
                name = entry.name
                if not name.startswith(start) or name.startswith(TEMP_PREFIX):
                    continue
                if name.endswith(OBJECT_SUFFIX):
                    key = key_prefix + name[: -len(OBJECT_SUFFIX)]
                    if marker is None or key > marker:
                        found.append((key, False, entry.path))
                elif "~" not in name and entry.is_dir(follow_symlinks=False):
                    below = key_prefix + name + "/"
                    # Every key below starts with ``below``; when ``marker`` is past
                    # ``below`` without starting with it, all of them are before it.
                    if marker is None or marker < below or marker.startswith(below):
                        found.append((below, True, entry.path))
    except (FileNotFoundError, NotADirectoryError):
        # Not there (or pruned by a concurrent delete): it holds no keys.
        return []
    found.sort()
    return found


def walk_keys(objects: Path, prefix: str, marker: str | None) -> Iterator[str]:
    """Yield keys under ``prefix``, ascending, strictly after ``marker``.

    ``objects`` is the bank's ``objects`` directory; ``prefix`` has passed
    :func:`banks.keys.validate_prefix` and holds no ``//``.
    """
    parent, _, start = prefix.rpartition("/")
    directory = objects.joinpath(*parent[1:].split("/")) if parent else objects
    stack = [iter(_entries(str(directory), parent + "/", start, marker))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        text, is_dir, path = entry
        if is_dir:
            stack.append(iter(_entries(path, text, "", marker)))
        else:
            yield text


def list_keys(objects: Path, prefix: str, marker: str | None, limit: int | None) -> list[str]:
    """At most ``limit`` keys under ``prefix``, ascending, strictly after ``marker``.

    Raises:
        OSError: if a directory cannot be read.
    """
    found: list[str] = []
    if limit is not None and limit <= 0:
        return found
    for key in walk_keys(objects, prefix, marker):
        found.append(key)
        if limit is not None and len(found) >= limit:
            break
    return found
