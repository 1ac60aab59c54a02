"""Where each root of a restore goes, and the checks made for all roots before any write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins.local.directory.errors import DirectoryRestoreError
from plugins.local.directory.manifest import Manifest, ManifestEntry
from plugins.local.directory.placement import (
    PlannedRoot,
    check_roots,
    root_subdirectories,
    spread_target,
)


def test_roots_take_their_base_names_and_a_shared_one_is_numbered_in_path_order() -> None:
    roots = ["/srv/data", "/x/logs", "/home/me/data"]
    names = root_subdirectories(roots)
    assert names == {"/home/me/data": "data", "/srv/data": "data-2", "/x/logs": "logs"}
    assert root_subdirectories(reversed(roots)) == names  # the same, whatever the order


def test_a_numbered_name_never_takes_the_name_of_another_root() -> None:
    names = root_subdirectories(["/a/data", "/b/data", "/c/data-2", "/"])
    assert names == {"/a/data": "data", "/c/data-2": "data-2", "/b/data": "data-3",
                     "/": "root"}


def test_a_single_root_takes_a_shared_target_as_it_is() -> None:
    assert spread_target("/t", ["/srv/data"]) == {"/srv/data": "/t"}
    assert spread_target("/t", ["/srv/data", "/srv/logs"]) == {
        "/srv/data": "/t/data", "/srv/logs": "/t/logs"}


def tree(*entries: tuple[str, str]) -> Manifest:
    return Manifest(root="/protected", root_mode=0o755, root_mtime_ns=0, entries=[
        ManifestEntry(path=path, kind=kind,  # type: ignore[arg-type]
                      chunks=[] if kind == "file" else None)
        for path, kind in entries])


def planned(key: str, target: Path, *entries: tuple[str, str],
            existing: str = "fail") -> PlannedRoot:
    return PlannedRoot(key, tree(*entries), str(target), existing)  # type: ignore[arg-type]


def test_two_roots_may_share_directories_but_never_a_file(tmp_path: Path) -> None:
    one = planned("T#one", tmp_path / "t", ("docs", "dir"), ("docs/a", "file"))
    other = planned("T#other", tmp_path / "t", ("docs", "dir"), ("docs/b", "file"))
    check_roots([one, other])
    same = planned("T#same", tmp_path / "t", ("docs", "dir"), ("docs/a", "file"),
                   existing="overwrite")
    with pytest.raises(DirectoryRestoreError, match="T#one restores to the same path"):
        check_roots([one, same])
    assert not (tmp_path / "t").exists()  # a check writes nothing


def test_a_root_whose_target_lies_where_another_root_puts_a_file_is_refused(
        tmp_path: Path) -> None:
    outer = planned("T#outer", tmp_path / "t", ("sub", "file"))
    inner = planned("T#inner", tmp_path / "t" / "sub" / "deeper", ("a", "file"))
    with pytest.raises(DirectoryRestoreError,
                       match=r"'\.' of T#inner into .*: T#outer restores to the same path"):
        check_roots([outer, inner])


def test_a_target_that_cannot_be_made_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(DirectoryRestoreError, match="cannot be created"):
        check_roots([planned("T#one", tmp_path / "a-file" / "t", ("a", "file"))])


def test_with_existing_fail_a_clash_in_any_root_is_found(tmp_path: Path) -> None:
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "b").write_text("mine")
    roots = [planned("T#one", tmp_path / "one", ("a", "file")),
             planned("T#two", tmp_path / "two", ("b", "file"))]
    with pytest.raises(DirectoryRestoreError, match=r"'b' of T#two .*: already exists"):
        check_roots(roots)
    assert sorted(os.listdir(tmp_path)) == ["two"]
    check_roots([roots[0], planned("T#two", tmp_path / "two", ("b", "file"),
                                   existing="skip")])
