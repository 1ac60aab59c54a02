"""Path grants: where a request may protect from and restore to, normalised before checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins.access import PathGrant, check_path, merge_forbidden
from plugins.errors import Forbidden


def test_a_granted_prefix_allows_a_path_below_it_and_returns_it_resolved(
        tmp_path: Path) -> None:
    grant = PathGrant(restore_targets=(str(tmp_path),))
    assert check_path(grant, "restore", f"{tmp_path}/a/../b", "target") == f"{tmp_path}/b"


@pytest.mark.parametrize(("path", "phrase"), [
    ("relative/dir", "is not an absolute path"),
    ("/tmp/a\x00b", "NUL byte"),
    ("/" + "x" * 5000, "longer than 4096 bytes"),
])
def test_malformed_paths_are_refused_whatever_the_grant(path: str, phrase: str) -> None:
    with pytest.raises(Forbidden, match=phrase):
        check_path(PathGrant(), "restore", path, "target")


def test_dot_dot_cannot_climb_out_of_a_granted_prefix(tmp_path: Path) -> None:
    grant = PathGrant(restore_targets=(str(tmp_path / "restore"),), holder="user 'alice'")
    with pytest.raises(Forbidden, match=r"outside what user 'alice' may restore") as caught:
        check_path(grant, "restore", f"{tmp_path}/restore/" + "../" * 20 + "etc", "target")
    assert "resolved: /etc" in str(caught.value)


def test_a_symlink_inside_a_granted_prefix_is_judged_by_where_it_points(
        tmp_path: Path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "link").symlink_to(outside)
    grant = PathGrant(restore_targets=(str(allowed),))
    with pytest.raises(Forbidden, match="outside what"):
        check_path(grant, "restore", str(allowed / "link" / "x"), "target")


def test_the_banks_storage_is_refused_inside_it_and_as_a_parent_of_it(tmp_path: Path) -> None:
    bank = tmp_path / "var" / "bank"
    grant = merge_forbidden(PathGrant(), [str(bank)])
    for target in (bank, bank / "objects", tmp_path / "var"):
        with pytest.raises(Forbidden, match="bank's own storage"):
            check_path(grant, "restore", str(target), "target")
    # a sibling is fine, and protecting a parent of the bank only reads it
    assert check_path(grant, "restore", str(tmp_path / "elsewhere"), "target")
    assert check_path(grant, "protect", str(tmp_path / "var"), "root")


def test_system_trees_are_refused_unless_a_grant_names_one(tmp_path: Path) -> None:
    grant = PathGrant(system_paths_refused=True)
    for target in ("/", "/etc", "/etc/cron.d", "/usr/local/bin", "/proc/self", "/dev/null"):
        with pytest.raises(Forbidden, match="system tree"):
            check_path(grant, "restore", target, "target")
    assert check_path(grant, "restore", str(tmp_path), "target") == os.path.realpath(tmp_path)
    named = PathGrant(restore_targets=("/etc/strongbox",), system_paths_refused=True)
    assert check_path(named, "restore", "/etc/strongbox/x", "target") == "/etc/strongbox/x"


def test_no_prefixes_means_nowhere_and_none_means_anywhere(tmp_path: Path) -> None:
    with pytest.raises(Forbidden, match=r"allowed: nowhere"):
        check_path(PathGrant(protect_roots=()), "protect", str(tmp_path), "root")
    assert check_path(PathGrant(), "protect", str(tmp_path), "root")
