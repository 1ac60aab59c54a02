"""Waiting for an operation that may end on another worker.

Three sources, first one wins: this worker's own result (its operation actor ran here),
the ``OperationFinished`` event from the event exchange, and the operation record in the
bank, polled slowly because events travel without confirms and a subscriber that joined
late has missed them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from actors.transport.base import EventSubscription
from actors.wire.events import OperationFinished
from plugins.checkpoint.operation_record import OperationRecord

RecordReader = Callable[[], Awaitable[OperationRecord | None]]

RECORD_POLL_INTERVAL = 1.0


def finished_from_record(record: OperationRecord) -> OperationFinished:
    """The OperationFinished event an ended operation's record stands for."""
    return OperationFinished(
        operation_id=record.id, operation_type=record.type, checkpoint_id=record.checkpoint_id,
        status=record.status, error=record.error, error_resource=record.error_resource,
        resource_count=record.resource_count, abort_failures=record.abort_failures,
        duration=(record.finished_at or record.started_at) - record.started_at)


async def _from_events(subscription: EventSubscription) -> OperationFinished:
    async for event in subscription:
        if isinstance(event, OperationFinished):
            return event
    raise RuntimeError("event stream closed")  # let another source answer


async def _from_record(read: RecordReader, interval: float) -> OperationFinished:
    while True:
        record = await read()
        if record is not None and record.status != "running":
            return finished_from_record(record)
        await asyncio.sleep(interval)


async def wait_for_end(operation_id: str, local: asyncio.Future[OperationFinished],
                       subscription: EventSubscription, read_record: RecordReader,
                       poll_interval: float = RECORD_POLL_INTERVAL) -> OperationFinished:
    """The operation's end, from whichever source reports it first."""
    async with subscription:
        sources: list[asyncio.Future[OperationFinished]] = [
            asyncio.ensure_future(asyncio.shield(local)),
            asyncio.ensure_future(_from_events(subscription)),
            asyncio.ensure_future(_from_record(read_record, poll_interval)),
        ]
        try:
            while True:
                done, _ = await asyncio.wait(sources, return_when=asyncio.FIRST_COMPLETED)
                for source in done:
                    if not source.cancelled() and source.exception() is None:
                        return source.result()
                sources = [s for s in sources if not s.done()]
                if not sources:
                    raise RuntimeError(f"no source can tell when operation {operation_id} ends")
        finally:
            for source in sources:
                source.cancel()
            for source in sources:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await source
