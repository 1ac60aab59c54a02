"""The ``verify`` operation on the in-memory transport: a real directory checkpoint in a
filesystem bank, checked by one actor per resource; a flipped bit named by checkpoint,
resource and chunk in the resource's failure and in the operation's end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors.cli import broker as cli_broker
from actors.cli.main import build_parser
from actors.errors import RequestInvalid
from actors.operations.engine import Engine
from actors.runtime.recovery import fold
from actors.wire.events import ActivityFailed, ActivityFinished, Event, OperationFinished
from actors.wire.requests import ProtectRequest, ResourceRef, VerifyRequest, decode_request
from plugins.checkpoint.checkpoint import CheckpointIndex
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import JournalEntry
from plugins.errors import CheckpointNotFound, InvalidCheckpointState
from tests.fakes import TEST_TYPE, FakeParameters, RecordingProtection, node
from tests.helpers.checkpoint_chunks import DIRECTORY, file_chunks, flip_a_bit

TIMEOUT = 60
PASSPHRASE = "verify operation"


def sections(bank: Path) -> str:
    return (
        f"plugin = directory\n[filesystem]\npath = {bank}\n"
        f"[directory]\npassphrase = {PASSPHRASE}\nchunk_min_size = 4096\n"
        "chunk_avg_size = 16384\nchunk_max_size = 65536\n"
    )


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    first = Path(os.path.realpath(tmp_path)) / "first"
    second = Path(os.path.realpath(tmp_path)) / "second"
    for root in (first, second):
        (root / "sub").mkdir(parents=True)
        (root / "sub" / "big.bin").write_bytes(os.urandom(120_000))
    (first / "a.txt").write_text("alpha\n")
    return first, second


@pytest.fixture
def engine(engine_for, tmp_path: Path):
    def make(**host_options: object):
        return engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank"),
                          **host_options)

    return make


async def protect(e: Engine, *roots: Path) -> str:
    result = await e.run(ProtectRequest(
        resources=[ResourceRef(DIRECTORY, str(root)) for root in roots]), timeout=TIMEOUT)
    assert result.status == "succeeded", result.error
    return result.checkpoint_id


async def verify(e: Engine, request: VerifyRequest) -> tuple[OperationFinished, list[Event]]:
    """Run a verify operation, keeping its events."""
    events: list[Event] = []
    subscription = e.subscribe(request.request_id)
    await e.submit(request)
    async for event in subscription:
        events.append(event)
        if isinstance(event, OperationFinished):
            break
    await subscription.close()
    finished = events[-1]
    assert isinstance(finished, OperationFinished)
    return finished, events


async def index_of(e: Engine, checkpoint_id: str) -> CheckpointIndex:
    index, _, _ = await e.show_checkpoint(checkpoint_id)
    return index


async def test_an_intact_checkpoint_verifies_resource_by_resource_and_keeps_its_status(
    engine, roots: tuple[Path, Path]
) -> None:
    async with engine() as e:
        checkpoint = await protect(e, *roots)
        before = await index_of(e, checkpoint)
        finished, events = await verify(e, VerifyRequest(checkpoint_id=checkpoint))
        assert finished.status == "succeeded", finished.error
        assert finished.operation_type == "verify" and finished.resource_count == 2
        checked = {ev.resource_id for ev in events
                   if isinstance(ev, ActivityFinished) and ev.activity == "verify_parallel"}
        assert checked == {str(root) for root in roots}
        assert await index_of(e, checkpoint) == before  # status and times untouched


async def test_a_flipped_bit_fails_its_resource_naming_the_chunk_and_the_others_go_on(
    engine, roots: tuple[Path, Path]
) -> None:
    first, second = roots
    # one activity at a time, in node order: the second is checked after the first failed
    async with engine(max_running_activities=1) as e:
        checkpoint = await protect(e, first, second)
        bank = await e.bank(e.provider())
        [bad] = (await file_chunks(bank, checkpoint, first, PASSPHRASE))["a.txt"]
        await flip_a_bit(bank, bad)
        before = await index_of(e, checkpoint)

        finished, events = await verify(e, VerifyRequest(checkpoint_id=checkpoint))
        assert finished.status == "failed"
        assert finished.error_resource == f"{DIRECTORY}#{first}"
        for text in (f"checkpoint {checkpoint}", f"resource {DIRECTORY}#{first}",
                     f"chunk {bad}", "'a.txt'"):
            assert text in (finished.error or "")
        [failed] = [ev for ev in events if isinstance(ev, ActivityFailed)]
        assert failed.resource_id == str(first) and failed.activity == "verify_parallel"
        assert failed.failure.type == "ResourceVerificationFailed"
        assert f"chunk {bad}" in failed.failure.message
        assert f"checkpoint {checkpoint} resource {DIRECTORY}#{first}" in failed.failure.message
        # the other resource was checked to the end, not stopped by the failure
        assert any(isinstance(ev, ActivityFinished) and ev.resource_id == str(second)
                   and ev.activity == "verify_post" for ev in events)
        assert await index_of(e, checkpoint) == before  # still available, unchanged


async def test_the_sample_reaches_every_resource_and_existence_needs_no_read(
    engine, roots: tuple[Path, Path]
) -> None:
    first, _ = roots
    async with engine() as e:
        checkpoint = await protect(e, first)
        bank = await e.bank(e.provider())
        chunks = await file_chunks(bank, checkpoint, first, PASSPHRASE)
        await flip_a_bit(bank, chunks["a.txt"][0])
        unread, _ = await verify(e, VerifyRequest(checkpoint_id=checkpoint, sample=0.0))
        assert unread.status == "succeeded"  # nothing read: a flipped bit goes unseen
        gone = chunks["sub/big.bin"][-1]
        await bank.delete(f"/chunks/data/{gone[:2]}/{gone}")
        missing, _ = await verify(e, VerifyRequest(checkpoint_id=checkpoint, sample=0.0))
        assert missing.status == "failed"
        assert f"chunk {gone}: missing from the bank" in (missing.error or "")
        assert chunks["a.txt"][0] not in (missing.error or "")


async def test_a_verify_of_a_missing_or_unfinished_checkpoint_is_refused_before_it_runs(
    engine, roots: tuple[Path, Path]
) -> None:
    async with engine() as e:
        with pytest.raises(CheckpointNotFound):
            await e.submit(VerifyRequest(checkpoint_id="no-such-checkpoint"))
        store = await e.store(e.provider())
        await store.create(checkpoint_id="failed", provider_id=e.provider().id,
                           project_id=None, graph=(await e.build_graph(
                               [ResourceRef(DIRECTORY, str(roots[0]))])),
                           operation_id="op", owner="w")
        with pytest.raises(InvalidCheckpointState, match="protecting"):
            await e.submit(VerifyRequest(checkpoint_id="failed"))


def test_a_verify_request_is_checked_like_any_other() -> None:
    request = decode_request(b'{"kind": "verify", "checkpoint_id": "c1", "sample": 0.25}')
    assert isinstance(request, VerifyRequest) and request.sample == 0.25
    with pytest.raises(RequestInvalid, match="sample"):
        decode_request(b'{"kind": "verify", "checkpoint_id": "c1", "sample": 1.5}')
    with pytest.raises(RequestInvalid, match="checkpoint_id"):
        decode_request(b'{"kind": "verify"}')


def test_a_failed_resource_stops_a_protect_but_not_a_verify_taken_over() -> None:
    entries = [JournalEntry(node=-1, activity="open", state="done", at=1.0),
               JournalEntry(node=0, activity="verify_parallel", state="failed", at=2.0,
                            reason="ResourceVerificationFailed: chunk x")]
    assert not fold(entries, "verify").stopping
    protect_entries = [JournalEntry(node=e.node, activity=e.activity.replace(
        "verify", "protect"), state=e.state, at=e.at, reason=e.reason) for e in entries]
    assert fold(protect_entries, "protect").stopping


def test_verify_goes_to_the_workers_only_as_an_operation() -> None:
    parser = build_parser()
    url = ["--amqp-url", "amqp://guest:guest@127.0.0.1:5672/"]
    args = parser.parse_args([*url, "verify", "c1", "--operation", "--sample", "0.1",
                              "--request-id", "v-1", "--wait"])
    assert cli_broker.wants_broker(args)
    request = cli_broker.build_request(args)
    assert request == VerifyRequest(checkpoint_id="c1", sample=0.1, request_id="v-1")
    # without --operation it reads the bank in this process, broker or not
    assert not cli_broker.wants_broker(parser.parse_args([*url, "verify", "c1"]))


class SelfChecking(RecordingProtection):
    """A plugin without chunk lists that checks its own resources: 'server' is bad."""

    async def activity_verify_parallel(self, checkpoint, context, resource, parameters) -> None:
        self._enter(resource, f"verify_parallel sample={parameters.sample}", FakeParameters())
        if resource.id == "server":
            raise RuntimeError(f"{resource.key}: its backup is gone")


async def test_a_plugin_may_check_its_own_resources_and_one_without_a_check_passes(
    engine_for, registry
) -> None:
    registry.register_protection("self-checking", SelfChecking)
    graph = ResourceGraph([node("project"), node("server"), node("volume")], [[1, 2], [2], []])
    async with engine_for("self-checking") as e:
        protected = await e.run(ProtectRequest(resources=[]), graph=graph, timeout=TIMEOUT)
        assert protected.status == "succeeded", protected.error
        finished, _ = await verify(e, VerifyRequest(checkpoint_id=protected.checkpoint_id,
                                                    sample=0.5))
        plugin = e.provider().plugins["self-checking"]
        checks = sorted(key for key, activity in plugin.calls
                        if activity == "verify_parallel sample=0.5")
        assert checks == sorted(n.key for n in graph.nodes)  # each node, the request's sample
        assert finished.status == "failed"
        assert finished.error_resource == f"{TEST_TYPE}#server"
        assert "its backup is gone" in (finished.error or "")
    async with engine_for("recording") as e:  # no verify activity at all: nothing to check
        protected = await e.run(ProtectRequest(resources=[]), graph=graph, timeout=TIMEOUT)
        finished, _ = await verify(e, VerifyRequest(checkpoint_id=protected.checkpoint_id))
        assert finished.status == "succeeded", finished.error
