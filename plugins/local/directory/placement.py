"""Where each root of a restore goes, and what is checked for all roots before any is written.

A restore target given for the whole type (``--target DIR``, ``{"Strongbox::Directory":
{"target": DIR}}``) takes a checkpoint's only root as it is: its content goes straight
into ``DIR``. With several roots, each goes into a subdirectory of ``DIR`` named after
its base name (``/srv/data`` into ``DIR/data``); roots that share a base name are told
apart by ``-2``, ``-3``... in the order of their paths (``/home/data`` into ``DIR/data``,
``/srv/data`` into ``DIR/data-2``), never taking a name another root has as its own. The
names depend only on the checkpoint's roots, so restoring it again gives the same ones.
A root's own ``target`` (``Strongbox::Directory#/srv/data``) overrides its subdirectory.

Before a restore releases any root, :func:`check_roots` runs every check a root's restore
would fail on without having written anything, for all roots: the manifest is safe for its
target, the target is a directory or can be made, and with ``existing='fail'`` nothing is
in the way of any entry. Two roots whose targets overlap must not claim the same path
(unless both make it a directory), whatever ``existing`` says: they would race for it.
So a restore that would fail on its second root writes nothing for its first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plugins.local.directory.errors import DirectoryRestoreError
from plugins.local.directory.manifest import Manifest, check_entries
from plugins.local.directory.target import Existing, TargetTree

_ROOT_NAME = "root"  # the subdirectory of the root directory "/", which has no base name


def root_subdirectories(roots: Iterable[str]) -> dict[str, str]:
    """The subdirectory each root (an absolute path) takes under a shared target."""
    ordered = sorted(set(roots))
    bases = {root: os.path.basename(root.rstrip("/")) or _ROOT_NAME for root in ordered}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for root in ordered:  # each base name to the first root bearing it
        if bases[root] not in taken:
            names[root] = bases[root]
            taken.add(bases[root])
    for root in ordered:  # then the others, numbered, around every name already taken
        if root in names:
            continue
        number = 2
        while f"{bases[root]}-{number}" in taken:
            number += 1
        names[root] = f"{bases[root]}-{number}"
        taken.add(names[root])
    return names


def spread_target(target: str, roots: Sequence[str]) -> dict[str, str]:
    """Each root's own target under ``target``, shared by ``roots``: ``target`` itself for
    a single root, else a subdirectory each (:func:`root_subdirectories`)."""
    if len(set(roots)) < 2:
        return dict.fromkeys(roots, target)
    names = root_subdirectories(roots)
    return {root: os.path.join(target, names[root]) for root in roots}


@dataclass(frozen=True, slots=True)
class PlannedRoot:
    """One root of a restore: its manifest, and where and how it is to be written."""

    resource_key: str
    manifest: Manifest
    target: str
    existing: Existing


def check_roots(roots: Sequence[PlannedRoot]) -> None:
    """Every check a root's restore makes before writing, for all ``roots``. Blocking.

    Raises:
        UnsafeManifestEntry: an entry that could write outside its target.
        ManifestError: a malformed entry.
        DirectoryRestoreError: a target that cannot be made, an entry in the way
            (``existing='fail'``), or a path two roots would both write.
    """
    for root in roots:
        check_entries(root.manifest, root.resource_key, root.target)
        tree = TargetTree.probe(root.target, root.resource_key)
        if tree is None:
            continue  # to be made: nothing in it can clash
        try:
            if root.existing == "fail":
                tree.check_no_clash(root.manifest.entries)
        finally:
            tree.close()
    _check_overlaps(roots)


def _check_overlaps(roots: Sequence[PlannedRoot]) -> None:
    """Refuse two roots that would write the same path, unless both as a directory."""
    targets = [os.path.normpath(root.target) for root in roots]
    overlapping = [root for root, target in zip(roots, targets, strict=True)
                   if any(other is not root and _nested(target, other_target)
                          for other, other_target in zip(roots, targets, strict=True))]
    claims: dict[str, tuple[bool, PlannedRoot]] = {}  # path -> (a directory?, whose)
    for root in overlapping:
        target = os.path.normpath(root.target)
        for path, is_dir, entry_path in _paths(root, target):
            claimed = claims.setdefault(path, (is_dir, root))
            if claimed[1] is not root and not (is_dir and claimed[0]):
                raise DirectoryRestoreError(
                    root.resource_key, entry_path, root.target,
                    f"{claimed[1].resource_key} restores to the same path",
                )


def _nested(one: str, other: str) -> bool:
    return one == other or one.startswith(other.rstrip("/") + "/") or other.startswith(
        one.rstrip("/") + "/"
    )


def _paths(root: PlannedRoot, target: str) -> Iterable[tuple[str, bool, str]]:
    """(absolute path, a directory?, the entry's path) of everything ``root`` writes,
    its target and the target's ancestors (directories) included."""
    ancestor = target
    while True:
        yield ancestor, True, "."
        parent = os.path.dirname(ancestor)
        if parent == ancestor:
            break
        ancestor = parent
    for entry in root.manifest.entries:
        yield os.path.join(target, entry.fs_path()), entry.kind == "dir", entry.path
