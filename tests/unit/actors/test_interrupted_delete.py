"""A delete cut off after it purged a checkpoint's data, and a protect's worker that comes
back after another operation took its checkpoint over: neither may strand the checkpoint.

Found by the chaos suite (seed 20261206): a worker SIGSTOPped past its lease came back
and marked ``error`` the checkpoint a delete had made ``deleting``; the delete's purge had
removed the graph, its seal was refused, and from then on every delete of the checkpoint
and every ``bank gc`` of the bank failed on it (``CheckpointNotFound``): the bank filled.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors.operations.bank_gc import collect_bank_garbage
from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.store import CheckpointStore
from plugins.errors import InvalidCheckpointState
from tests.helpers.checkpoint_chunks import stored_chunks
from tests.unit.actors.test_bank_gc import protect, sections


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path)) / "source"
    root.mkdir()
    (root / "data.bin").write_bytes(os.urandom(120_000))
    return root


async def protected(engine: Engine, source: Path) -> tuple[str, CheckpointStore]:
    """A checkpoint of ``source``, and the store it is in."""
    return await protect(engine, source), await engine.store(engine.provider())


async def test_a_delete_cut_off_after_its_purge_can_be_finished_and_gc_runs_past_it(
    engine_for, tmp_path: Path, source: Path
) -> None:
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        checkpoint_id, store = await protected(e, source)
        # what a delete that failed after its purge leaves: the index alone, in error
        await store.transition(checkpoint_id, CheckpointStatus.DELETING)
        await store.purge_data(checkpoint_id)
        await store.transition(checkpoint_id, CheckpointStatus.ERROR, error="bank full")
        assert await stored_chunks(e)  # its chunks wait for a collection

        report = await collect_bank_garbage(e, grace=0.0)  # was CheckpointNotFound
        assert report.checkpoints == 1 and report.marked == 0
        assert await stored_chunks(e) == set()

        deleted = await e.run(DeleteRequest(checkpoint_id=checkpoint_id), timeout=60)
        assert deleted.status == "succeeded", deleted.error  # was CheckpointNotFound
        assert (await store.read_index(checkpoint_id)).status == CheckpointStatus.DELETED
        assert await store.list(None) == []


async def test_a_protect_ends_its_checkpoint_only_from_protecting(
    engine_for, tmp_path: Path, source: Path
) -> None:
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        checkpoint_id, store = await protected(e, source)
        await store.transition(checkpoint_id, CheckpointStatus.DELETING)  # a delete took it
        # the late protect's end, as its worker would write it on coming back
        with pytest.raises(InvalidCheckpointState, match="no longer protecting"):
            await store.transition(checkpoint_id, CheckpointStatus.ERROR, error="late",
                                   only_from=CheckpointStatus.PROTECTING)
        assert (await store.read_index(checkpoint_id)).status == CheckpointStatus.DELETING
        # the delete's own end goes through
        await store.transition(checkpoint_id, CheckpointStatus.ERROR, error="its own",
                               only_from=CheckpointStatus.DELETING)
        assert (await store.read_index(checkpoint_id)).status == CheckpointStatus.ERROR
