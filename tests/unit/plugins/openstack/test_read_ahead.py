"""The reads of a Glance download run ahead of the store, in order, bounded, and end with it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading

import pytest

from plugins.openstack.hash_lane import HashLane
from plugins.openstack.read_ahead import read_ahead


class Source:
    """``count`` pieces read one by one in a thread, recording what was read when."""

    def __init__(self, count: int, *, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.read = 0
        self.running = 0  # reads under way (must never exceed one)
        self.most_running = 0

    async def __call__(self) -> bytes | None:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(0.001)
            if self.read == self.fail_at:
                raise OSError(f"connection reset at piece {self.read}")
            if self.read == self.count:
                return None
            self.read += 1
            return self.read.to_bytes(4, "big")
        finally:
            self.running -= 1


async def test_pieces_come_in_order_and_the_reads_stay_within_depth_ahead() -> None:
    source = Source(50)
    consumed: list[int] = []
    ahead_seen = 0
    async with contextlib.aclosing(read_ahead(source, 4)) as pieces:
        async for piece in pieces:
            consumed.append(int.from_bytes(piece, "big"))
            await asyncio.sleep(0.005)  # a slow consumer: the reader runs ahead meanwhile
            ahead_seen = max(ahead_seen, source.read - len(consumed))
    assert consumed == list(range(1, 51))
    # it did read ahead, and never held more than ``depth`` pieces (the consumer's included)
    assert ahead_seen == 4 - 1
    assert source.most_running == 1  # one read at a time: the response is not thread-safe


async def test_a_read_that_fails_is_raised_after_the_pieces_before_it() -> None:
    source = Source(50, fail_at=7)
    consumed: list[int] = []
    with pytest.raises(OSError, match="reset at piece 7"):
        async with contextlib.aclosing(read_ahead(source, 3)) as pieces:
            async for piece in pieces:
                consumed.append(int.from_bytes(piece, "big"))
    assert consumed == list(range(1, 8))


async def test_a_consumer_that_stops_early_gives_back_every_piece_and_ends_the_reads() -> None:
    source = Source(1000)
    given_back: list[bytes] = []
    async with contextlib.aclosing(read_ahead(source, 5, taken=given_back.append)) as pieces:
        async for piece in pieces:
            if piece == (3).to_bytes(4, "big"):
                break
    assert source.running == 0  # the read under way ended before the generator did
    read = source.read
    await asyncio.sleep(0.02)
    assert source.read == read  # and no read started after
    assert sorted(int.from_bytes(p, "big") for p in given_back) == list(range(1, read + 1))


async def test_the_lane_hashes_in_order_in_a_thread_of_its_own() -> None:
    pieces = [os.urandom(100_000) for _ in range(20)]
    threads: set[str] = set()

    class Recording:
        def __init__(self) -> None:
            self.digest = hashlib.sha256()

        def update(self, piece: bytes) -> None:
            threads.add(threading.current_thread().name)
            self.digest.update(piece)

    lane = HashLane(Recording())
    for piece in pieces:
        lane.update(piece)
    assert lane.result().digest.hexdigest() == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert len(threads) == 1 and threads.pop().startswith("hash-lane")
