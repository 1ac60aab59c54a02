"""A reproducible directory tree of a given size for chunk-store benchmarks and tests.

    python -m bench.dataset TARGET [--size-mb 2000] [--seed 1]

What a backup tool meets on a real machine, in proportions of the requested size:

- 50 % in a few large files (64 to 256 MiB, scaled down for small trees),
- 30 % in medium files (1 to 16 MiB),
- 20 % in many small files (1 KiB to 128 KiB, log-uniform: most are a few KiB),

spread over directories of at most 100 entries. Every second file (by bytes, about half
of each class) is *text-like*: bytes drawn from a skewed alphabet of letters, spaces and
newlines, which zstd level 3 brings to about half its size; the rest is random and does
not compress at all. Content is unique per file, so deduplication within one backup finds
nothing: what a second backup saves is all due to what the first one stored.

Bytes come from AES-256-CTR keyed by the seed (about 1 GB/s here, where ``os.urandom``
gives 0.3 GB/s), so the same seed gives the same tree on every machine, and 2 GB take a
few seconds plus the disk. Modification times are fixed in the past, so nothing looks
"just written" to a tool that distrusts fresh timestamps.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KIB = 1 << 10
MIB = 1 << 20
# letters, spaces and newlines in rough English proportions: about 2.2 bits of entropy
# per byte after zstd's entropy coding, so text-like files compress to about half
_TEXT_ALPHABET = (b"eeeeeeeetttttaaaaoooiiinnnsshhrrdl   \n" * 7)[:256]
# a fixed time in the past (2023-11-14), plus one second per file
_BASE_MTIME_NS = 1_700_000_000_000_000_000
_FILES_PER_DIRECTORY = 100
_WRITE_PIECE = 4 * MIB


@dataclass(frozen=True)
class FileSpec:
    """One file of the dataset: where, how big, and whether its bytes compress."""

    path: str
    size: int
    text: bool


def plan(total_bytes: int, seed: int = 1) -> list[FileSpec]:
    """The files of a dataset of about ``total_bytes`` bytes (exactly that many in all)."""
    chooser = random.Random(seed)
    specs: list[FileSpec] = []
    large_size = max(MIB, min(256 * MIB, total_bytes // 8))
    specs += _class_files(
        chooser, "large", total_bytes * 50 // 100, (large_size // 4, large_size)
    )
    specs += _class_files(chooser, "medium", total_bytes * 30 // 100, (MIB, 16 * MIB))
    small_budget = total_bytes - sum(spec.size for spec in specs)
    specs += _class_files(chooser, "small", small_budget, (KIB, 128 * KIB), log_uniform=True)
    return specs


def _class_files(
    chooser: random.Random,
    name: str,
    budget: int,
    bounds: tuple[int, int],
    *,
    log_uniform: bool = False,
) -> list[FileSpec]:
    specs: list[FileSpec] = []
    remaining, text = budget, False
    low, high = bounds
    while remaining > 0:
        if log_uniform:
            size = int(math.exp(chooser.uniform(math.log(low), math.log(high))))
        else:
            size = chooser.randint(low, high)
        size = min(size, remaining)
        number = len(specs)
        directory = f"{name}/d{number // _FILES_PER_DIRECTORY:04d}"
        specs.append(FileSpec(f"{directory}/f{number:06d}.{'txt' if text else 'bin'}", size, text))
        remaining -= size
        text = not text
    return specs


def content(seed: int, number: int, spec: FileSpec) -> Iterator[bytes]:
    """The bytes of file ``number`` of the dataset, a few MiB at a time."""
    key = hashlib.sha256(f"strongbox bench dataset {seed}".encode()).digest()
    # the file number in the upper half of the counter block: no two files share a keystream
    counter = (number << 64).to_bytes(16, "big")
    stream = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    left = spec.size
    while left > 0:
        piece = stream.update(bytes(min(left, _WRITE_PIECE)))
        yield piece.translate(_TEXT_ALPHABET) if spec.text else piece
        left -= len(piece)


def write_file(root: Path, seed: int, number: int, spec: FileSpec) -> None:
    """Write file ``number`` of the dataset under ``root``, with its fixed mtime."""
    path = root / spec.path
    with open(path, "wb") as handle:
        for piece in content(seed, number, spec):
            handle.write(piece)
    when = _BASE_MTIME_NS + number * 1_000_000_000
    os.utime(path, ns=(when, when))


def generate(root: Path, total_bytes: int, seed: int = 1) -> list[FileSpec]:
    """Create the dataset under ``root`` (which must not hold one already); return its plan."""
    specs = plan(total_bytes, seed)
    for directory in sorted({os.path.dirname(spec.path) for spec in specs}):
        (root / directory).mkdir(parents=True, exist_ok=True)
    for number, spec in enumerate(specs):
        write_file(root, seed, number, spec)
    return specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--size-mb", type=int, default=2000, help="10^6 bytes (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    specs = generate(args.target, args.size_mb * 1_000_000, args.seed)
    sys.stdout.write(f"{len(specs)} files, {sum(s.size for s in specs)} bytes\n")


if __name__ == "__main__":
    main()
