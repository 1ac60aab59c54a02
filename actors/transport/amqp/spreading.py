"""Spreading the shards over the live workers of a namespace.

Workers announce themselves on a presence exchange; each computes the same owner for
every shard from the live members (``shard_balance``). A worker that drives a shard
another should own steps to the back of that shard's line of consumers once nothing of
it is in flight, so the broker hands the shard on without losing or doubling a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage

from actors.transport.amqp.link import AmqpLink
from actors.transport.shard_balance import PRESENCE_INTERVAL, ShardState, shard_owner
from actors.transport.topology import shard_of

log = structlog.get_logger(__name__)


class ShardSpreading(AmqpLink):
    """The transport's part that keeps each shard on its owner (see the module)."""

    async def _on_delivery(self, state: ShardState, delivery: AbstractIncomingMessage) -> None:
        state.inflight += 1
        if state.activated_at is None:
            state.activated_at = time.monotonic()
        if self._members and shard_owner(state.index, self._members) != self.worker_id:
            state.wants_resubscribe = True  # we drive a shard another worker should
        state.buffer.put_nowait((self._generation, delivery))

    async def _join_presence(self) -> None:
        self._presence = await self._channel.declare_exchange(
            f"{self.namespace}.presence", aio_pika.ExchangeType.FANOUT)
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self._presence)
        await queue.consume(self._on_presence, no_ack=True)
        self._consumers.append(asyncio.create_task(self._announce(), name="presence"))

    async def _announce(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed heartbeat is only a delay
                await self._presence.publish(aio_pika.Message(self.worker_id.encode()),
                                             routing_key="")
            await asyncio.sleep(PRESENCE_INTERVAL)

    async def _on_presence(self, message: AbstractIncomingMessage) -> None:
        self._membership.saw(message.body.decode(errors="replace"), time.monotonic())

    async def _balance(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_INTERVAL / 2)
            members = self._membership.live(time.monotonic())
            if members != self._members:
                self._members = members
                log.info("cluster_members", worker=self.worker_id, members=len(members),
                         owned=sum(shard_owner(s.index, members) == self.worker_id
                                   for s in self._shards))
                for state in self._shards:
                    state.wants_resubscribe = shard_owner(state.index, members) != self.worker_id
            for state in self._shards:
                if state.wants_resubscribe and not state.moving and state.quiescent:
                    state.moving = True
                    self._track(self._resubscribe(state), name="resubscribe")

    async def _resubscribe(self, state: ShardState) -> None:
        """Step to the back of the shard's line of consumers, once nothing of it is ours."""
        try:
            if state.consumer_tag is not None:
                await state.queue.cancel(state.consumer_tag)
                state.consumer_tag = None
            # deliveries that crossed our cancel; a rare, short wait on a plain counter
            while not state.quiescent:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            index = state.index
            for handler in self._reset_handlers:
                handler(lambda operation_id, node: shard_of(operation_id, node,
                                                            self.shards) == index)
            state.activated_at = None
            state.consumer_tag = await state.queue.consume(partial(self._on_delivery, state))
            log.debug("shard_handed_on", worker=self.worker_id, shard=index)
        except Exception as error:  # the link broke meanwhile: the reset handles it
            log.info("shard_resubscribe_failed", shard=state.index, error=str(error))
        finally:
            state.wants_resubscribe = False
            state.moving = False


__all__ = ["ShardSpreading"]
