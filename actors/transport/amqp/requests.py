"""The request queue: users publish operation requests, workers take them in.

A request is acked once its handler accepted it, set aside in the rejected-requests queue
with its reason (and never its Keystone token) if refused, and requeued with a growing
pause if it must be tried again later (a bank briefly unreachable).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractIncomingMessage

from actors.errors import TransportError
from actors.transport.amqp import retry
from actors.transport.amqp.link import AmqpLink
from actors.transport.base import IncomingRequest, RequestHandler
from actors.transport.request_attempts import attempt_key
from actors.transport.topology import (
    AUTH_TOKEN_HEADER,
    PUBLISHER_HEADER,
    REASON_HEADER,
    WORKER_HEADER,
    rejected_requests_queue,
    request_queue_arguments,
    requests_queue,
)
from banks import metrics

log = structlog.get_logger(__name__)


class RequestIntake(AmqpLink):
    """The transport's part that publishes and takes in requests (see the module)."""

    async def publish_request(self, body: bytes, *, request_id: str | None = None,
                              auth_token: str | None = None) -> None:
        """Put a JSON request on the request queue and wait for the broker's confirm.

        ``auth_token``: a Keystone token, for requests to OpenStack providers.

        Raises:
            TransportError: if the broker did not take it.
        """
        try:
            await self._requests.publish(
                aio_pika.Message(body, content_type="application/json", message_id=request_id,
                                 headers={AUTH_TOKEN_HEADER: auth_token} if auth_token else {},
                                 user_id=self.user,  # the broker checks it is ours
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=requests_queue(self.namespace))
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException,
                ConnectionError) as error:
            raise TransportError(f"publishing the request failed: {type(error).__name__}: "
                                 f"{error}") from error

    async def consume_requests(self, handler: RequestHandler, *, concurrency: int = 4) -> None:
        """Carry out requests from the request queue, ``concurrency`` at a time."""
        channel = await self._connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=concurrency)
        queue = await self._declare_queue(
            requests_queue(self.namespace),
            request_queue_arguments(self.namespace, self.max_queued_requests), channel)
        self._consumers.append(asyncio.create_task(
            self._consume_requests(channel, queue, handler), name="consume-requests"))

    async def _consume_requests(self, channel: Any, queue: Any, handler: RequestHandler) -> None:
        async with queue.iterator() as deliveries:
            async for delivery in deliveries:
                self._track(self._handle_request(channel, delivery, handler), name="request")

    async def _handle_request(self, channel: Any, delivery: AbstractIncomingMessage,
                              handler: RequestHandler) -> None:
        # only a redelivered request can have been retried: hash the body only then
        key = (attempt_key(delivery.body, delivery.message_id, delivery.user_id)
               if delivery.redelivered else None)
        attempt = self._request_attempts.attempt(key) if key is not None else 1
        # a quorum queue counts deliveries over every worker: the larger count wins
        attempt = max(attempt, retry.delivery_count(delivery) + 1)
        try:
            token = (delivery.headers or {}).get(AUTH_TOKEN_HEADER)
            if isinstance(token, bytes):
                token = token.decode("ascii", "replace")
            verdict = await handler(IncomingRequest(
                delivery.body, delivery.message_id, delivery.user_id,
                token if isinstance(token, str) else None,
                content_type=delivery.content_type, attempt=attempt))
        except Exception as error:  # a bug in intake: set the request aside, keep serving
            log.exception("request_handler_failed")
            metrics.REQUESTS_REJECTED.labels("internal").inc()
            await self._reject_request(channel, delivery, f"internal error: {error}")
            return
        if verdict.retry:  # bounded: the handler rejects once ``attempt`` is too many
            key = key or attempt_key(delivery.body, delivery.message_id, delivery.user_id)
            self._request_attempts.retried(key, attempt)
            # longer each time: the retries must outlast a short outage of the bank
            # (1 + 2 + ... + 30 s), within the request queue's delivery limit
            await asyncio.sleep(min(retry.RETRY_DELAY * 2 ** (attempt - 1), retry.MAX_RETRY_DELAY))
            await self._answer(None, delivery.reject(requeue=True))
            return
        if key is not None:
            self._request_attempts.settled(key)
        if verdict.accepted:
            await self._answer(None, delivery.ack())
        else:
            await self._reject_request(channel, delivery, verdict.reason or "rejected")

    async def _reject_request(self, channel: Any, delivery: AbstractIncomingMessage,
                              reason: str) -> None:
        headers = dict(delivery.headers or {})
        headers.pop(AUTH_TOKEN_HEADER, None)  # a secret: never kept in the dead letters
        headers[REASON_HEADER] = reason[:4000]
        headers[WORKER_HEADER] = self.worker_id
        if delivery.user_id:
            headers[PUBLISHER_HEADER] = delivery.user_id
        try:
            await channel.default_exchange.publish(
                aio_pika.Message(delivery.body, headers=headers,
                                 content_type=delivery.content_type,
                                 message_id=delivery.message_id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=rejected_requests_queue(self.namespace))
        except Exception as error:  # not set aside: leave it unacked, it comes back
            log.error("request_dead_letter_failed", error=f"{type(error).__name__}: {error}")
            return
        metrics.MESSAGES_DEAD_LETTERED.labels("requests").inc()
        await self._answer(None, delivery.ack())


__all__ = ["RequestIntake"]
