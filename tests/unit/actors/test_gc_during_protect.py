"""Garbage collection running during a protect loses nothing.

Real protects of a directory tree through the chunk store, into a filesystem bank, with
``strongbox bank gc`` running at the same time. The bank holds one write half-way when
the test says so (``GatedBank``), which makes each interleaving happen for certain:

- a collection started while a protect writes chunks: refused, or (with ``wait``) run
  after it, keeping the old chunks the protect reused;
- a protect started while a collection sweeps: held back until the sweep ends, then it
  uploads again what was collected;
- a protect held back too long: fails naming the lease.

Afterwards every checkpoint verifies clean and restores byte-identical.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from actors.operations.bank_gc import GcRefused, collect_bank_garbage
from actors.operations.checkpoint_verify import verify_checkpoint
from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.chunks.collection_lease import GC_LEASE_KEY, hold_collection_lease
from banks.chunks.layout import DATA_PREFIX
from plugins.checkpoint.checkpoint import checkpoint_lease_key
from plugins.errors import CheckpointNotFound
from tests.helpers.checkpoint_chunks import chunk_ids, stored_chunks
from tests.helpers.directory_trees import snapshot
from tests.helpers.gated_bank import GatedBank
from tests.helpers.sealed_banks import unsealed

DIRECTORY = "Strongbox::Directory"
STEP_TIMEOUT = 60  # a bound on each wait, so a broken guard fails instead of hanging


def sections(bank: Path) -> str:
    return (
        f"plugin = directory\n[gated]\npath = {bank}\n"
        "[directory]\npassphrase = gc during protect\nchunk_min_size = 4096\n"
        "chunk_avg_size = 16384\nchunk_max_size = 65536\n"
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path)) / "source"
    (root / "sub").mkdir(parents=True)
    (root / "kept.bin").write_bytes(os.urandom(150_000))
    (root / "sub" / "dropped.bin").write_bytes(os.urandom(100_000))
    (root / "small.txt").write_text("small\n")
    return root


@pytest.fixture
def engine(engine_for, registry, tmp_path: Path):
    registry.register_bank("gated", GatedBank)

    def make(**host_options: object):
        return engine_for("noop", bank="gated", sections=sections(tmp_path / "bank"),
                          **host_options)

    return make


def protect_request(root: Path, checkpoint_id: str | None = None) -> ProtectRequest:
    return ProtectRequest(resources=[ResourceRef(DIRECTORY, str(root))],
                          checkpoint_id=checkpoint_id)


async def protect(e: Engine, root: Path) -> str:
    result = await e.run(protect_request(root), timeout=STEP_TIMEOUT)
    assert result.status == "succeeded", result.error
    return result.checkpoint_id


async def protect_then_delete(e: Engine, root: Path) -> set[str]:
    """Protect ``root`` and delete the checkpoint: its chunks are garbage, still stored."""
    first = await protect(e, root)
    old = await chunk_ids(e, first, root)
    result = await e.run(DeleteRequest(checkpoint_id=first), timeout=STEP_TIMEOUT)
    assert result.status == "succeeded", result.error
    return old


async def gated_bank(e: Engine) -> GatedBank:
    bank = unsealed(await e.bank(e.provider()))
    assert isinstance(bank, GatedBank)
    return bank


async def assert_intact(e: Engine, checkpoint_id: str, root: Path, target: Path) -> None:
    """The checkpoint verifies clean, every chunk read, and restores byte-identical."""
    report = await verify_checkpoint(e, checkpoint_id, sample=1.0)
    assert report.ok, [p.describe() for p in report.problems]
    assert report.chunks == len(await chunk_ids(e, checkpoint_id, root))
    restored = await e.run(RestoreRequest(
        checkpoint_id=checkpoint_id, parameters={DIRECTORY: {"target": str(target)}}),
        timeout=STEP_TIMEOUT)
    assert restored.status == "succeeded", restored.error
    assert snapshot(target) == snapshot(root)


async def test_a_collection_started_mid_protect_waits_and_keeps_the_chunks_it_reused(
    engine, source: Path, tmp_path: Path
) -> None:
    async with engine() as e:
        bank = await gated_bank(e)
        old = await protect_then_delete(e, source)
        (source / "sub" / "dropped.bin").unlink()
        (source / "new.bin").write_bytes(os.urandom(120_000))  # chunks to upload
        bank.hold_puts_of = DATA_PREFIX
        protecting = asyncio.create_task(
            e.run(protect_request(source, "second"), timeout=STEP_TIMEOUT * 2))
        async with asyncio.timeout(STEP_TIMEOUT):
            await bank.reached.wait()  # mid-protect: lease held, chunks being written

        with pytest.raises(GcRefused, match="second"):
            await collect_bank_garbage(e, grace=0.0)
        lease = checkpoint_lease_key("second")
        looked = bank.lease_checks[lease]
        collecting = asyncio.create_task(collect_bank_garbage(e, grace=0.0, wait=STEP_TIMEOUT))
        async with asyncio.timeout(STEP_TIMEOUT):
            await bank.lease_checked(lease, looked)  # it saw the protect: it waits
        assert not collecting.done()
        bank.release.set()

        result = await protecting
        assert result.status == "succeeded", result.error
        report = await collecting
        second = await chunk_ids(e, "second", source)
        reused, unique_to_first = old & second, old - second
        assert reused and unique_to_first  # the test covers both kinds of old chunk
        assert report.checkpoints == 1 and report.marked == len(second)
        assert report.sweep.deleted == len(unique_to_first)
        assert await stored_chunks(e) == second
        await assert_intact(e, "second", source, tmp_path / "restored")


async def test_a_protect_started_mid_collection_waits_then_uploads_what_was_collected(
    engine, source: Path, tmp_path: Path
) -> None:
    async with engine() as e:
        bank = await gated_bank(e)
        old = await protect_then_delete(e, source)
        bank.hold_deletes_of = DATA_PREFIX
        collecting = asyncio.create_task(collect_bank_garbage(e, grace=0.0))
        async with asyncio.timeout(STEP_TIMEOUT):
            await bank.reached.wait()  # mid-sweep: the mark found nothing, deletes begin

        # the same tree again: without the guard it would reuse every chunk being deleted
        looked = bank.lease_checks[GC_LEASE_KEY]
        protecting = asyncio.create_task(
            e.run(protect_request(source, "second"), timeout=STEP_TIMEOUT * 2))
        async with asyncio.timeout(STEP_TIMEOUT):
            await bank.lease_checked(GC_LEASE_KEY, looked)  # it met the collection's lease
        assert not protecting.done()
        store = await e.store(e.provider())
        with pytest.raises(CheckpointNotFound):
            await store.read_index("second")  # held back before anything was written
        bank.release.set()

        report = await collecting
        assert report.sweep.deleted == len(old)
        result = await protecting
        assert result.status == "succeeded", result.error
        second = await chunk_ids(e, "second", source)
        assert second == old  # the same content: the same chunks, stored once more
        assert await stored_chunks(e) == second
        await assert_intact(e, "second", source, tmp_path / "restored")


async def test_a_protect_held_back_too_long_fails_naming_the_lease(
    engine, source: Path, tmp_path: Path
) -> None:
    async with engine(gc_wait=0.3) as e:
        bank = await gated_bank(e)
        async with hold_collection_lease(bank) as lease:
            result = await e.run(protect_request(source, "held"), timeout=STEP_TIMEOUT)
        assert result.status == "failed"
        assert GC_LEASE_KEY in (result.error or "") and lease.owner in (result.error or "")
        assert "garbage collection" in (result.error or "")
        assert await bank.check_lease(checkpoint_lease_key("held")) is None
        assert await stored_chunks(e) == set()  # nothing was written
        # once the collection is over, the same protect runs
        checkpoint = await protect(e, source)
        await assert_intact(e, checkpoint, source, tmp_path / "restored")


async def test_a_protect_cancelled_while_held_back_ends_cancelled_having_written_nothing(
    engine, source: Path
) -> None:
    async with engine(gc_wait=600.0) as e:  # far longer than the test may take
        bank = await gated_bank(e)
        async with hold_collection_lease(bank):
            looked = bank.lease_checks[GC_LEASE_KEY]
            operation = await e.submit(protect_request(source, "cancelled"))
            async with asyncio.timeout(STEP_TIMEOUT):
                await bank.lease_checked(GC_LEASE_KEY, looked)  # it is waiting
            await e.cancel(operation)
            result = await e.wait(operation, timeout=STEP_TIMEOUT)
        assert result.status == "cancelled"
        assert await bank.check_lease(checkpoint_lease_key("cancelled")) is None
        store = await e.store(e.provider())
        with pytest.raises(CheckpointNotFound):
            await store.read_index("cancelled")
        assert await stored_chunks(e) == set()
