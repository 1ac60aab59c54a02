"""A broker client for the front-door tests: publish requests as one broker user (with a
Keystone token when given) and wait for their verdict; read the dead letters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiormq
import msgspec

from actors.service.worker import WorkerOptions, run_worker
from actors.transport.amqp import AmqpTransport
from actors.transport.topology import (
    AUTH_TOKEN_HEADER,
    REASON_HEADER,
    rejected_requests_queue,
)
from actors.wire.events import Event, OperationFinished, RequestRejected
from actors.wire.requests import AnyRequest
from tests import broker


@asynccontextmanager
async def running_worker(options: WorkerOptions) -> AsyncIterator[str]:
    """One worker in this process until the block ends; yields its namespace (deleted after).

    A worker that fails to start raises here, not in the test's first wait.
    """
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_worker(options, stop=stop, ready=ready))
    await asyncio.wait({task, asyncio.ensure_future(ready.wait())},
                       return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        yield options.namespace
    finally:
        stop.set()
        await task
        await broker.delete_namespace(options.amqp_url, options.namespace)


class Client:
    """One broker user's view: publish requests as that user, see the verdicts."""

    def __init__(self, transport: AmqpTransport) -> None:
        self.transport = transport
        self.subscription = transport.subscribe()

    @classmethod
    async def connect(cls, url: str, namespace: str) -> Client:
        client = cls(await AmqpTransport.connect(url, namespace=namespace, client=True))
        await client.subscription.bound  # type: ignore[attr-defined]
        return client

    async def ask(self, request: AnyRequest, *, token: str | None = None) -> Event:
        """Publish ``request``; its refusal, or the end of its operation."""
        await self.transport.publish_request(json.dumps(plain(request)).encode(),
                                             request_id=request.request_id, auth_token=token)
        return await self.verdict(request.request_id)

    async def verdict(self, request_id: str) -> Event:
        async with asyncio.timeout(60):
            async for event in self.subscription:
                if event.operation_id != request_id:
                    continue
                if isinstance(event, RequestRejected | OperationFinished):
                    return event
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.subscription.close()
        await self.transport.close()


def plain(request: AnyRequest) -> dict:
    return msgspec.to_builtins(request)


async def dead_letters(url: str, namespace: str, count: int) -> list[tuple[str, str]]:
    """(request id, reason) of ``count`` messages of the rejected-requests queue; each must
    have lost any Keystone token header on its way there."""
    connection = await aiormq.connect(url)
    channel = await connection.channel()
    found: list[tuple[str, str]] = []
    async with asyncio.timeout(30):
        while len(found) < count:
            got = await channel.basic_get(rejected_requests_queue(namespace), no_ack=True)
            if got.body is None or got.delivery_tag is None:
                await asyncio.sleep(0)  # an empty get: the broker answered, ask again
                continue
            headers = dict(got.header.properties.headers or {})
            assert AUTH_TOKEN_HEADER not in headers  # a secret never kept in dead letters
            reason = headers[REASON_HEADER]
            found.append((got.header.properties.message_id or "",
                          reason.decode() if isinstance(reason, bytes) else str(reason)))
    await connection.close()
    return found
