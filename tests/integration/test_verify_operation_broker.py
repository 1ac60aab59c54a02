"""The verify operation over the real broker: two worker processes, a directory checkpoint
in a shared filesystem bank, a request published like any client would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors.wire.events import ActivityFailed, ActivityFinished, Event
from actors.wire.requests import ProtectRequest, ResourceRef, VerifyRequest
from plugins.checkpoint.checkpoint import CheckpointStatus
from tests import broker
from tests.cluster.cluster import Cluster
from tests.helpers.checkpoint_chunks import DIRECTORY, file_chunks, flip_a_bit

pytestmark = pytest.mark.broker

DIRECTORY_OPTIONS = ("\n[directory]\npassphrase = verify over the broker\n"
                     "chunk_min_size = 4096\nchunk_avg_size = 16384\nchunk_max_size = 65536\n")


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


def tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "big.bin").write_bytes(os.urandom(150_000))
    (root / "a.txt").write_text(f"{root.name}\n")
    return Path(os.path.realpath(root))


async def test_verify_on_workers_names_the_flipped_bit_and_leaves_the_checkpoint_as_it_was(
        amqp_url: str, tmp_path: Path) -> None:
    first, second = tree(tmp_path / "first"), tree(tmp_path / "second")
    running = Cluster(amqp_url, broker.new_namespace(), tmp_path, plugin="directory")
    with (running.providers / "cluster.conf").open("a") as conf:
        conf.write(DIRECTORY_OPTIONS)
    # the store is encrypted: the engine's objects are sealed with its keys
    running.passphrase = "verify over the broker"
    try:
        running.start_worker()
        running.start_worker()
        await running.connect()
        await running.wait_ready()
        await running.wait_balanced()
        protected = await running.run(ProtectRequest(
            resources=[ResourceRef(DIRECTORY, str(first)), ResourceRef(DIRECTORY, str(second))]))
        assert protected.status == "succeeded", protected.error
        checkpoint = protected.checkpoint_id
        store = await running.store()

        intact = await running.run(VerifyRequest(checkpoint_id=checkpoint))
        assert intact.status == "succeeded", intact.error
        assert intact.operation_type == "verify" and intact.resource_count == 2

        bank = await running.bank()
        [bad] = (await file_chunks(bank, checkpoint, first, "verify over the broker"))["a.txt"]
        await flip_a_bit(bank, bad)
        before = await store.read_index(checkpoint)
        events: list[Event] = []
        finished = await running.run(VerifyRequest(checkpoint_id=checkpoint, sample=1.0),
                                     events=events)
        assert finished.status == "failed"
        assert finished.error_resource == f"{DIRECTORY}#{first}"
        assert f"checkpoint {checkpoint}" in (finished.error or "")
        assert f"chunk {bad}" in (finished.error or "")
        [failed] = [e for e in events if isinstance(e, ActivityFailed)]
        assert failed.resource_id == str(first)
        assert (f"checkpoint {checkpoint} resource {DIRECTORY}#{first} failed verification"
                in failed.failure.message)
        assert f"chunk {bad}" in failed.failure.message
        assert failed.worker in running.workers
        assert any(isinstance(e, ActivityFinished) and e.resource_id == str(second)
                   and e.activity == "verify_parallel" for e in events)
        after = await store.read_index(checkpoint)
        assert after.status == CheckpointStatus.AVAILABLE and after == before
    finally:
        await running.close()
