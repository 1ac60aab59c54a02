"""Spreading actor shards over the live workers, without a coordinator.

Every worker consumes every shard queue; with single-active-consumer the broker delivers
a shard to one of them (the earliest subscribed) and moves it to the next when that one
dies. That gives failover but no balance: the first worker to start would drive every
actor. So workers announce themselves on a presence exchange, each computes the owner of
every shard by rendezvous hashing over the live members, and a worker that is not a
shard's owner re-subscribes to it (going to the back of the broker's line) once it holds
no unsettled message of that shard. The owner then becomes the active consumer. A shard
is handed over only when quiescent, so no actor is ever driven by two workers at once.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

PRESENCE_INTERVAL = 1.0
PRESENCE_EXPIRY = 3.5  # missed heartbeats before a worker is taken for gone


def shard_owner(shard: int, members: list[str]) -> str:
    """The member that should drive ``shard`` (highest rendezvous weight)."""
    return max(members, key=lambda member: zlib.crc32(f"{member}:{shard}".encode()))


class Membership:
    """The workers heard from recently, this one always included."""

    def __init__(self, me: str) -> None:
        self.me = me
        self._last_seen: dict[str, float] = {}

    def saw(self, worker: str, now: float) -> None:
        """A heartbeat from ``worker``."""
        self._last_seen[worker] = now

    def live(self, now: float) -> list[str]:
        """Live members, sorted; forgets the silent ones."""
        for worker, seen in list(self._last_seen.items()):
            if now - seen > PRESENCE_EXPIRY:
                del self._last_seen[worker]
        return sorted({self.me, *self._last_seen})


@dataclass(slots=True, eq=False)
class ShardState:
    """This worker's view of one shard queue."""

    index: int
    queue: Any
    consumer_tag: str | None = None
    inflight: int = 0  # delivered to us and not yet acked or rejected
    activated_at: float | None = None  # first delivery since we (re)subscribed
    wants_resubscribe: bool = False
    moving: bool = False
    buffer: Any = None  # asyncio.Queue of deliveries, created on the consuming loop

    @property
    def quiescent(self) -> bool:
        return self.inflight == 0


def fair_share(shards: int, members: int) -> int:
    """How many shards one member drives when they are spread evenly."""
    return math.ceil(shards / max(members, 1))
