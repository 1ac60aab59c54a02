"""A 200 MB file and 1,000 small ones through a FilesystemBank, in bounded memory."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import structlog

from tests.helpers.directory_trees import all_paths, set_times, snapshot

log = structlog.get_logger(__name__)

MIB = 1 << 20
BIG_SIZE = 200 * MIB + 12_345  # not a multiple of the chunk size, so the tail is exercised
SMALL_FILES = 1000
# Measured with the chunk store (encrypted, ~1 MiB chunks): about 39 MiB after the
# imports and a peak of about 74 MiB (chunker buffers, four chunks encoding and uploading,
# four read ahead). Reading the file whole would pass 240 MiB; the bound leaves room for
# other interpreters and allocators while catching that.
PEAK_RSS_BOUND_KIB = 100 * 1024
REPO = Path(__file__).resolve().parents[3]


def write_big_file(path: Path, size: int) -> None:
    """Write ``size`` bytes of incompressible data, one MiB at a time."""
    base = os.urandom(MIB)
    with open(path, "wb") as handle:
        written, piece_number = 0, 0
        while written < size:
            # each MiB differs, so a chunk written at the wrong offset would be caught
            piece = piece_number.to_bytes(8, "big") + base[8:]
            piece = piece[: size - written]
            handle.write(piece)
            written += len(piece)
            piece_number += 1


def build_tree(root: Path) -> None:
    """1,000 small files of various sizes in nested directories, a big file, odd entries."""
    chooser = random.Random(20240607)
    for number in range(SMALL_FILES):
        directory = root / f"d{number % 17:02d}" / f"e{number % 5}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"f{number:04d}.dat"
        path.write_bytes(chooser.randbytes(chooser.choice([0, 1, 100, 4096, 65_537])))
        path.chmod(chooser.choice([0o644, 0o600, 0o755, 0o444]))
    (root / "empty" / "deeper").mkdir(parents=True)
    (root / "link").symlink_to("d00/e0/f0000.dat")
    (root / "broken").symlink_to("/nowhere/at/all")
    write_big_file(root / "big.bin", BIG_SIZE)
    set_times(root, all_paths(root))


def test_a_200_mb_file_round_trips_byte_identical_in_bounded_memory(tmp_path: Path) -> None:
    source, bank, target = tmp_path / "source", tmp_path / "bank", tmp_path / "target"
    source.mkdir()
    build_tree(source)
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.helpers.directory_roundtrip",
            str(source),
            str(bank),
            str(target),
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    log.info("directory_round_trip_measured", **report)
    assert report["peak_rss_kib"] < PEAK_RSS_BOUND_KIB, report

    expected, restored = snapshot(source), snapshot(target)
    assert restored["big.bin"].size == BIG_SIZE
    assert len([e for e in restored.values() if e.kind == "file"]) == SMALL_FILES + 1
    assert restored["empty/deeper"].kind == "dir"
    assert restored["broken"].target == "/nowhere/at/all"
    assert restored == expected
