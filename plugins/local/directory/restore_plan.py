"""A restore's files as a sequence of chunk jobs: each chunk fetched once, all its bytes
written in the thread that decoded it.

Walking the files in manifest order, every file's span of its chunks becomes pieces
(file, offset in the file, offset in the chunk, length); consecutive pieces of the same
chunk make one job. So a chunk of bundled small files is one job that writes all of them
(one fetch, one decode, one thread hop for dozens of files), and a large file is one job
per chunk, jobs that may run side by side. Empty files need no chunk: they ride along with
the job before them (or make a chunkless job when nothing came before).

``check_entries`` has checked every span (the offset inside the first chunk, the end in
the last), so the pieces cover each file exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from banks.chunks import ChunkRef
from plugins.local.directory.manifest import ManifestEntry
from plugins.local.directory.restored_file import RestoredFile


@dataclass(slots=True)
class Piece:
    """``length`` bytes from ``start`` in the job's chunk, written at ``at`` in ``file``."""

    file: RestoredFile
    at: int
    start: int
    length: int


@dataclass(slots=True)
class ChunkJob:
    """One chunk (None for only empty files) and what to write of it."""

    ref: ChunkRef | None
    pieces: list[Piece] = field(default_factory=list)
    size: int = 0  # bytes of files, for progress


def plan_jobs(
    files: Iterable[ManifestEntry],
    mode_of: Callable[[ManifestEntry], int],
    spanning: list[RestoredFile],
) -> Iterator[ChunkJob]:
    """The jobs restoring ``files``, in order; ``mode_of`` gives a file's mode to set.

    Files made of more than one piece (they may stay open between jobs) are appended to
    ``spanning`` as they are planned, for the restore to abandon if it fails.
    """
    job: ChunkJob | None = None
    for entry in files:
        refs = entry.chunks or []
        file = RestoredFile(entry, mode_of(entry), len(refs))
        if not refs:
            if job is None:
                job = ChunkJob(None)
            job.pieces.append(Piece(file, 0, 0, 0))
            continue
        if len(refs) > 1:
            spanning.append(file)
        start, left, at = entry.offset, entry.size, 0
        for ref in refs:
            length = min(ref.size - start, left)
            if job is None or (job.ref is not None and job.ref != ref):
                if job is not None:
                    yield job
                job = ChunkJob(ref)
            job.ref = ref
            job.pieces.append(Piece(file, at, start, length))
            job.size += length
            at, left, start = at + length, left - length, 0
    if job is not None:
        yield job
