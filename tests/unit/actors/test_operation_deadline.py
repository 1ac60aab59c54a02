"""Every operation ends: deadlines, lost messages and messages no handler can take."""

from __future__ import annotations

import asyncio

import pytest

from actors.errors import RequestInvalid
from actors.operations.deadlines import DEFAULT_DEADLINES, deadline_seconds
from actors.operations.engine import Engine
from actors.runtime.operation_end import DEADLINE_EXCEEDED
from actors.service.reaper import reap_overdue
from actors.transport.base import MAX_HANDLER_ATTEMPTS, MessageHandler
from actors.transport.memory import MemoryTransport
from actors.wire.messages import Cancel, Message, ParentPreDone, Start
from actors.wire.requests import ProtectRequest, decode_request
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.operation_deadline import running_deadlines
from plugins.checkpoint.operation_record import read_operation_record
from plugins.checkpoint.operation_spec import read_spec
from plugins.provider import ProviderConfigError, load_providers
from tests.conftest import write_provider
from tests.fakes import node

HANG = {"Test::Node#child": {"hang_at": "protect_parallel"}}


def family() -> ResourceGraph:
    return ResourceGraph([node("parent"), node("child"), node("sibling")], [[1, 2], [], []])


class DroppingTransport(MemoryTransport):
    """Delivers the Start and nothing after it: every other actor message is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.deadline_cancel_dropped = asyncio.Event()

    async def send_many(self, messages: list[Message]) -> None:
        for message in messages:
            await self.send(message)

    async def send(self, message: Message) -> None:
        if isinstance(message, Start):
            await super().send(message)
        elif isinstance(message, Cancel) and message.reason == DEADLINE_EXCEEDED:
            self.deadline_cancel_dropped.set()


class PoisonTransport(MemoryTransport):
    """The handler raises every time on the ParentPreDone to the child."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def consume(self, handler: MessageHandler) -> None:
        async def poisoned(message: Message):
            if isinstance(message, ParentPreDone) and message.to == 1:
                self.attempts += 1
                raise RuntimeError("poison on purpose")
            return await handler(message)
        await super().consume(poisoned)


async def test_an_operation_past_its_deadline_is_cancelled_with_deadline_exceeded(engine_for):
    async with engine_for("recording") as engine:
        result = await engine.run(ProtectRequest(resources=[], parameters=HANG, deadline=1.0),
                                  graph=family(), timeout=20)
        assert (result.status, result.error) == ("cancelled", DEADLINE_EXCEEDED)
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert (index.status, index.error) == ("error", DEADLINE_EXCEEDED)
        bank = await engine.bank(engine.provider())
        assert await running_deadlines(bank) == []  # ended: its entry is gone


async def test_the_deadline_is_stored_in_the_spec_as_an_absolute_time(engine_for):
    async with engine_for("recording") as engine:
        operation = await engine.submit(ProtectRequest(resources=[], deadline=600.0),
                                        graph=family())
        await engine.wait(operation, timeout=20)
        spec = await read_spec(await engine.bank(engine.provider()), operation)
        assert spec is not None and spec.deadline is not None
        assert spec.deadline - spec.submitted_at == pytest.approx(600.0, abs=5.0)


async def test_an_operation_whose_messages_are_all_lost_is_ended_by_the_reaper(tmp_path,
                                                                                registry):
    providers = write_provider(tmp_path / "providers", "recording")
    transport = DroppingTransport()
    async with Engine.embedded(providers, registry=registry, transport=transport) as engine:
        operation = await engine.submit(ProtectRequest(resources=[], deadline=1.0),
                                        graph=family())
        bank = await engine.bank(engine.provider())
        # the deadline's Cancel is lost too: nothing but the reaper is left to end it
        await asyncio.wait_for(transport.deadline_cancel_dropped.wait(), timeout=10)
        assert await reap_overdue(engine, grace=0.0) == [operation]
        result = await engine.wait(operation, timeout=5)
        assert (result.status, result.error) == ("cancelled", DEADLINE_EXCEEDED)
        record = await read_operation_record(bank, operation)
        assert record is not None and (record.status, record.error) == (
            "cancelled", DEADLINE_EXCEEDED)
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert (index.status, index.error) == ("error", DEADLINE_EXCEEDED)
        assert await bank.check_lease(f"/checkpoints/{index.id}/lease") is None
        assert await running_deadlines(bank) == []
        assert not engine.host.hosts(operation)
        assert await reap_overdue(engine, grace=0.0) == []  # ended once


async def test_a_message_whose_handler_always_fails_fails_the_operation_naming_it(
        tmp_path, registry):
    providers = write_provider(tmp_path / "providers", "recording")
    transport = PoisonTransport()
    async with Engine.embedded(providers, registry=registry, transport=transport) as engine:
        result = await engine.run(ProtectRequest(resources=[]), graph=family(), timeout=20)
        assert result.status == "failed"
        assert transport.attempts == MAX_HANDLER_ATTEMPTS
        assert result.error is not None
        assert result.error.startswith("MessageUndeliverable: ParentPreDone message")
        assert f"handler failed {MAX_HANDLER_ATTEMPTS} times: RuntimeError: poison" in (
            result.error)
        assert result.error_resource == "Test::Node#child"
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "error" and "poison on purpose" in (index.error or "")


def test_the_request_deadline_wins_over_the_provider_and_the_provider_over_the_default(
        tmp_path, registry):
    providers = write_provider(tmp_path / "p", "recording").parent / "p"
    conf = next(providers.glob("*.conf"))
    conf.write_text(conf.read_text().replace(
        "plugin = recording\n", "plugin = recording\ndeadline = 7200\nverify_deadline = 60\n"))
    provider = asyncio.run(load_providers(providers, registry)).default()
    assert deadline_seconds("protect", None, provider) == 7200
    assert deadline_seconds("verify", None, provider) == 60
    assert deadline_seconds("verify", 5.0, provider) == 5.0
    bare = asyncio.run(load_providers(write_provider(tmp_path / "q", "recording"),
                                      registry)).default()
    assert deadline_seconds("delete", None, bare) == DEFAULT_DEADLINES["delete"]


def test_a_bad_provider_deadline_is_an_error_naming_the_file_and_line(tmp_path, registry):
    providers = write_provider(tmp_path / "p", "recording")
    conf = next(providers.glob("*.conf"))
    conf.write_text(conf.read_text().replace("plugin = recording\n",
                                             "plugin = recording\nprotect_deadline = soon\n"))
    loaded = asyncio.run(load_providers(providers, registry))
    with pytest.raises(ProviderConfigError, match=r"test.conf:\d+: invalid value for option "
                                                  r"'protect_deadline'"):
        loaded.default()


@pytest.mark.parametrize("deadline", [0, 0.5, 8 * 24 * 3600])
def test_a_request_deadline_out_of_bounds_is_refused(deadline):
    with pytest.raises(RequestInvalid, match="deadline"):
        decode_request(f'{{"kind": "protect", "resources": [{{"type": "T", "id": "1"}}], '
                       f'"deadline": {deadline}}}'.encode())
