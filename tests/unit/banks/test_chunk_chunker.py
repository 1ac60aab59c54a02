"""Content-defined chunking: boundaries follow the content, streaming cuts like whole."""

from __future__ import annotations

import random

import pytest

from banks.chunks.chunker import ChunkerParams, StreamChunker, chunk_all

SMALL = ChunkerParams(min_size=4096, avg_size=16384, max_size=65536)


def data_of(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def test_one_byte_inserted_at_the_start_leaves_almost_every_chunk_unchanged() -> None:
    data = data_of(8 << 20)
    before = chunk_all(data, SMALL)
    after = chunk_all(b"!" + data, SMALL)
    assert len(before) > 300
    unchanged = set(before) & set(after)
    # only the first chunk can differ: the cut after it is found again, and all that follows
    assert len(unchanged) >= len(before) - 2
    assert b"".join(after) == b"!" + data


def test_a_fixed_size_split_would_not_survive_the_same_insertion() -> None:
    # the contrast that makes the test above mean something
    data = data_of(1 << 20)
    fixed = {data[i : i + 16384] for i in range(0, len(data), 16384)}
    shifted = b"!" + data
    assert not fixed & {shifted[i : i + 16384] for i in range(0, len(shifted), 16384)}


@pytest.mark.parametrize("seed", [0, 12345])
def test_streaming_in_uneven_pieces_cuts_exactly_as_the_whole_buffer(seed: int) -> None:
    data = data_of(3 << 20, seed=seed + 7)
    chooser = random.Random(seed)
    chunker = StreamChunker(SMALL, seed)
    streamed: list[bytes] = []
    offset = 0
    while offset < len(data):
        step = chooser.choice([1, 100, 4095, 70_000, 300_000])
        streamed += [bytes(c) for c in chunker.feed(data[offset : offset + step])]
        offset += step
    streamed += [bytes(c) for c in chunker.finish()]
    assert streamed == chunk_all(data, SMALL, seed)
    assert b"".join(streamed) == data


def test_chunks_keep_within_the_sizes_and_average_near_the_target() -> None:
    chunks = chunk_all(data_of(8 << 20), SMALL)
    assert all(SMALL.min_size <= len(c) <= SMALL.max_size for c in chunks[:-1])
    average = sum(map(len, chunks)) / len(chunks)
    # FastCDC's cut-point skipping makes the mean about avg_size + min_size
    assert SMALL.avg_size * 0.75 < average < (SMALL.avg_size + SMALL.min_size) * 1.5


def test_runs_of_one_byte_are_cut_at_the_maximum_size() -> None:
    chunks = chunk_all(bytes(1 << 20), SMALL)
    assert {len(c) for c in chunks[:-1]} == {SMALL.max_size}


def test_another_seed_cuts_elsewhere() -> None:
    data = data_of(2 << 20)
    assert set(chunk_all(data, SMALL, 1)) != set(chunk_all(data, SMALL, 2))


def test_empty_and_tiny_streams() -> None:
    assert chunk_all(b"", SMALL) == []
    assert chunk_all(b"x", SMALL) == [b"x"]


def test_sizes_outside_the_chunkers_limits_are_named() -> None:
    assert ChunkerParams().problem() is None
    assert "max_size" in (ChunkerParams(max_size=64 << 20).problem() or "")
    assert "grow" in (ChunkerParams(min_size=8192, avg_size=4096).problem() or "")
