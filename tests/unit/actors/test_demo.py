"""The main job: the demo round trip, and a comparison that does catch differences."""

from __future__ import annotations

import os
import shutil

from actors.cli.main import main
from actors.operations.demo import compare_trees, make_sample_tree


def test_the_demo_protects_and_restores_the_sample_tree_identically(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("STRONGBOX_BANK_PATH", raising=False)
    assert main(["demo", "--work", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    assert "identical: 211 entries compared" in out
    assert (tmp_path / "work" / "bank").is_dir()


def test_the_comparison_names_a_changed_byte_mode_mtime_or_link(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    make_sample_tree(original, large_mib=1)
    shutil.copytree(original, copy, symlinks=True)
    for path in [original, *original.rglob("*")]:  # copytree does not keep directory mtimes
        twin = copy / path.relative_to(original)
        if not path.is_symlink():
            stat = path.stat()
            os.utime(twin, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert compare_trees(original, copy) == []
    (copy / "docs" / "readme.txt").write_text("Strongbox keeps this file safe!\n")
    os.utime(
        copy / "docs" / "readme.txt", ns=(0, (original / "docs" / "readme.txt").stat().st_mtime_ns)
    )
    (copy / "run.sh").chmod(0o644)
    (copy / "dangling").unlink()
    (copy / "dangling").symlink_to("elsewhere")
    (copy / "empty").rmdir()
    problems = "\n".join(compare_trees(original, copy))
    for name in ("docs/readme.txt", "run.sh", "dangling", "missing from the restore: empty"):
        assert name in problems
