"""The request intake on an embedded engine: every refusal has a reason and an event,
duplicates are told, retries end, and a takeover keeps the operation's real start."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from actors.errors import TransportError
from actors.service.request_intake import RequestIntake
from actors.transport.base import IncomingRequest
from actors.wire.events import Event, OperationStarted, RequestDuplicate, RequestRejected
from actors.wire.messages import Start
from actors.wire.requests import CancelRequest, ProtectRequest, ResourceRef
from banks.errors import BankUnavailable
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.operation_record import (
    operation_record_key,
    read_operation_record,
    write_operation_record,
)
from plugins.checkpoint.operation_spec import read_spec, submit_lease_key
from tests.fakes import node

HANG = {"Test::Node": {"hang_at": "protect_parallel"}}


async def next_event(subscription, kind: type[Event]) -> Event:
    async with asyncio.timeout(10):
        async for event in subscription:
            if isinstance(event, kind):
                return event
    raise AssertionError("event stream closed")


async def test_a_cancel_for_an_operation_that_does_not_exist_is_rejected_with_an_event(
        engine_for) -> None:
    async with engine_for("recording") as engine:
        intake = RequestIntake(engine)
        subscription = engine.subscribe()
        verdict = await intake(IncomingRequest(msgspec.json.encode(
            CancelRequest(request_id="c-1", operation_id="no-such-operation"))))
        assert not verdict.accepted and not verdict.retry
        assert "OperationNotFound" in (verdict.reason or "")
        event = await next_event(subscription, RequestRejected)
        assert event.request_id == "c-1" and "no-such-operation" in event.reason
        await subscription.close()


async def test_a_cancel_for_an_operation_that_has_ended_is_rejected_saying_so(
        engine_for) -> None:
    async with engine_for("recording") as engine:
        request = ProtectRequest(resources=[])
        await engine.run(request, graph=ResourceGraph([node(1)], [[]]), timeout=10)
        verdict = await RequestIntake(engine)(IncomingRequest(msgspec.json.encode(
            CancelRequest(operation_id=request.request_id))))
        assert not verdict.accepted and "already ended (succeeded)" in (verdict.reason or "")


async def test_a_duplicate_request_starts_nothing_and_an_event_says_the_operation_exists(
        engine_for) -> None:
    async with engine_for("recording") as engine:
        request = ProtectRequest(resources=[ResourceRef("Test::Node", "1")], parameters=HANG)
        await engine.submit(request, graph=ResourceGraph([node(1)], [[]]))
        subscription = engine.subscribe(request.request_id)
        intake = RequestIntake(engine)
        verdict = await intake(IncomingRequest(msgspec.json.encode(request)))
        assert verdict.accepted
        event = await next_event(subscription, RequestDuplicate)
        assert (event.operation_id, event.request_kind) == (request.request_id, "protect")
        assert event.reason == "running on this worker"
        assert (intake.accepted, intake.duplicates) == (0, 1)
        await engine.cancel(request.request_id)
        await engine.wait(request.request_id, timeout=10)
        await subscription.close()


async def test_a_duplicate_of_a_request_whose_start_was_lost_starts_its_operation(
        engine_for) -> None:
    # the broker link lost between storing the spec and sending Start: the request comes
    # back (a retry) as a duplicate of an operation that never started
    async with engine_for("recording") as engine:
        transport = engine.host.transport
        send = transport.send
        lost: list[Start] = []

        async def lose_the_first_start(message) -> None:
            if isinstance(message, Start) and not lost:
                lost.append(message)
                raise TransportError("publishing 1 actor messages failed: link lost")
            await send(message)

        transport.send = lose_the_first_start  # type: ignore[method-assign]
        request = ProtectRequest(resources=[])
        graph = ResourceGraph([node(1)], [[]])
        with pytest.raises(TransportError):
            await engine.submit(request, graph=graph)
        admitted = await engine.admit(request, graph=graph)
        assert admitted.duplicate == "running on this worker"
        finished = await engine.wait(request.request_id, timeout=10)
        assert finished.status == "succeeded" and len(lost) == 1


async def test_a_request_whose_submit_lease_is_held_is_retried_not_dropped(engine_for) -> None:
    # another delivery took the lease and failed (its release failed too): this copy is
    # then the only one left, and must not be acked as a duplicate
    async with engine_for("recording") as engine:
        request = ProtectRequest(resources=[ResourceRef("Test::Node", "1")])
        engine.build_graph = _one_node  # type: ignore[method-assign]
        bank = await engine.bank(engine.provider())
        lease = submit_lease_key(request.request_id)
        await bank.acquire_lease(lease, "w-gone:attempt", 300)
        intake = RequestIntake(engine)
        body = msgspec.json.encode(request)
        held = await intake(IncomingRequest(body))
        assert held.retry and not held.accepted
        assert "being submitted by another delivery" in (held.reason or "")
        assert await read_spec(bank, request.request_id) is None
        await bank.release_lease(lease, "w-gone:attempt")  # it expired
        again = await intake(IncomingRequest(body, attempt=2))
        assert again.accepted and intake.accepted == 1
        finished = await engine.wait(request.request_id, timeout=10)
        assert finished.status == "succeeded"


async def _one_node(*_args, **_kwargs) -> ResourceGraph:
    return ResourceGraph([node(1)], [[]])


async def test_a_retryable_failure_is_retried_a_bounded_number_of_times_then_rejected(
        engine_for) -> None:
    async with engine_for("recording") as engine:
        async def unreachable(*_args, **_kwargs):
            raise BankUnavailable("bank down")

        engine.admit = unreachable  # type: ignore[method-assign]
        intake = RequestIntake(engine, max_attempts=3)
        body = json.dumps({"kind": "protect", "request_id": "r-1",
                           "resources": [{"type": "Test::Node", "id": "1"}]}).encode()
        verdicts = [await intake(IncomingRequest(body, attempt=n)) for n in (1, 2, 3)]
        assert [v.retry for v in verdicts] == [True, True, False]
        assert "gave up after 3 attempts: BankUnavailable: bank down" in (
            verdicts[-1].reason or "")


async def test_a_request_published_with_another_content_type_is_rejected(engine_for) -> None:
    async with engine_for("recording") as engine:
        verdict = await RequestIntake(engine)(IncomingRequest(
            b'{"kind": "cancel", "operation_id": "x"}', content_type="text/xml"))
        assert not verdict.accepted and "content type 'text/xml'" in (verdict.reason or "")


async def test_deeply_nested_json_is_rejected_with_an_event(engine_for) -> None:
    async with engine_for("recording") as engine:
        subscription = engine.subscribe()
        body = b'{"request_id": "deep", "kind": "protect", "extra": {"a": ' + b"[" * 10_000
        verdict = await RequestIntake(engine)(IncomingRequest(body + b"]" * 10_000 + b"}}"))
        assert "nested too deeply" in (verdict.reason or "")
        event = await next_event(subscription, RequestRejected)
        assert "nested too deeply" in event.reason
        await subscription.close()


async def test_an_operation_taken_over_keeps_its_real_start(engine_for) -> None:
    async with engine_for("recording") as engine:
        request = ProtectRequest(resources=[], parameters=HANG)
        subscription = engine.subscribe(request.request_id)
        operation_id = await engine.submit(request, graph=ResourceGraph([node(1)], [[]]))
        await next_event(subscription, OperationStarted)  # after the record is written
        await subscription.close()
        bank = engine._operation_banks[operation_id]
        record = await read_operation_record(bank, operation_id)
        assert record is not None
        record.started_at -= 100.0  # started long before this worker takes it over
        await write_operation_record(bank, record)
        taken_over = await engine.load_operation(operation_id)
        assert taken_over is not None and taken_over.started_at == record.started_at
        await bank.delete(operation_record_key(operation_id))
        spec = await read_spec(bank, operation_id)
        loaded = await engine.load_operation(operation_id)
        assert spec is not None and loaded is not None
        assert loaded.started_at == spec.submitted_at
        await engine.cancel(operation_id)

