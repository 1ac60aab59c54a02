"""Handling one shard's deliveries: decode, hand to the actors, ack once settled.

A delivery is acked only when the work its messages started has settled; a handler that
fails is retried through the broker a bounded number of times, then the delivery is set
aside in the dead letters with the reason and its operations are failed: no actor
message is ever silently lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import structlog
from aio_pika.abc import AbstractIncomingMessage

from actors.errors import MessageDecodeError, OperationUnavailable
from actors.transport.amqp import retry
from actors.transport.amqp.link import AmqpLink
from actors.transport.base import MAX_HANDLER_ATTEMPTS, MessageHandler
from actors.transport.shard_balance import ShardState
from actors.transport.topology import ATTEMPTS_HEADER, REASON_HEADER, WORKER_HEADER, dead_letters
from actors.wire.messages import Message, decode_messages
from banks import metrics

log = structlog.get_logger(__name__)


class ShardDeliveries(AmqpLink):
    """The transport's part that carries out a shard's deliveries (see the module)."""

    async def _deliver(self, state: ShardState, delivery: AbstractIncomingMessage,
                       handler: MessageHandler) -> None:
        try:
            batch = decode_messages(delivery.body)
        except MessageDecodeError as error:
            log.error("actor_message_undecodable", queue=delivery.routing_key,
                      reason=error.reason, size=len(error.raw))
            metrics.MESSAGES_DEAD_LETTERED.labels("actors").inc()
            await self._answer(state, delivery.reject(requeue=False))  # to the dead letters
            return
        settlements: list[Awaitable[None]] = []
        given_up: list[tuple[Message, str]] = []
        for message in batch:
            try:
                settled = await handler(message)
            except OperationUnavailable as error:
                # its bank is unreachable: keep the message for later, not for the void
                log.warning("actor_message_requeued", operation_id=message.operation_id,
                            error=str(error))
                metrics.MESSAGES_REQUEUED.inc()
                await asyncio.sleep(retry.RETRY_DELAY)
                await self._answer(state, delivery.reject(requeue=True))
                return
            except Exception as error:
                # A handler bug: try the delivery again (the broker counts it in
                # x-delivery-count; the actors ignore what they have already seen), then
                # set it aside and fail its operation: a message is never silently lost.
                attempt = retry.delivery_count(delivery) + 1
                reason = f"{type(error).__name__}: {error}"
                log.exception("message_handler_failed", kind=type(message).__name__,
                              operation_id=message.operation_id, node=message.to,
                              attempt=attempt, attempts=MAX_HANDLER_ATTEMPTS)
                if attempt < MAX_HANDLER_ATTEMPTS:
                    await asyncio.sleep(retry.RETRY_DELAY)
                    await self._answer(state, delivery.reject(requeue=True))
                    return
                given_up.append((message, f"handler failed {attempt} times: {reason}"))
                continue
            if settled is not None:
                settlements.append(settled)
        if given_up and not await self._set_aside(state, delivery, given_up):
            return
        if not settlements:
            await self._answer(state, delivery.ack())
            return
        self._track(self._ack_when_settled(state, delivery, settlements))

    async def _set_aside(self, state: ShardState, delivery: AbstractIncomingMessage,
                         given_up: list[tuple[Message, str]]) -> bool:
        """Dead-letter a delivery with the reason, and fail the operations it was for.

        Returns whether that worked; if not, the delivery is requeued (and counted).
        """
        reason = "; ".join(f"{type(m).__name__} to {m.operation_id}/{m.to}: {why}"
                           for m, why in given_up)
        try:
            await self._publish(dead_letters(self.namespace), "", delivery.body,
                                persistent=True, mandatory=False,
                                headers={REASON_HEADER: reason[:4000],
                                         WORKER_HEADER: self.worker_id,
                                         ATTEMPTS_HEADER: retry.delivery_count(delivery) + 1})
            for message, why in given_up:
                log.error("actor_message_dead_lettered", operation_id=message.operation_id,
                          node=message.to, kind=type(message).__name__, reason=why)
                await self.give_up(message, why)
        except Exception as error:  # not set aside: it comes back, and is counted
            log.error("actor_dead_letter_failed", error=f"{type(error).__name__}: {error}")
            await self._answer(state, delivery.reject(requeue=True))
            return False
        return True

    async def _ack_when_settled(self, state: ShardState, delivery: AbstractIncomingMessage,
                                settlements: list[Awaitable[None]]) -> None:
        outcomes = await asyncio.gather(*settlements, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, asyncio.CancelledError):
                return  # the work was dropped (link lost, shutdown): let it be redelivered
            if isinstance(outcome, BaseException):
                log.error("settlement_failed", error=f"{type(outcome).__name__}: {outcome}")
        await self._answer(state, delivery.ack())


__all__ = ["ShardDeliveries"]
