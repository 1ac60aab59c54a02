"""``strongbox bank gc`` through the engine: a filesystem bank, the real directory plugin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors.operations.bank_gc import GcRefused, collect_bank_garbage
from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from plugins.checkpoint.checkpoint import checkpoint_lease_key
from plugins.checkpoint.graph import ResourceGraph
from tests.helpers.checkpoint_chunks import chunk_ids, stored_chunks
from tests.helpers.directory_trees import snapshot

DIRECTORY = "Strongbox::Directory"


def sections(bank: Path) -> str:
    return (
        f"plugin = directory\n[filesystem]\npath = {bank}\n"
        "[directory]\npassphrase = gc test passphrase\nchunk_min_size = 4096\n"
        "chunk_avg_size = 16384\nchunk_max_size = 65536\n"
    )


async def protect(engine: Engine, root: Path) -> str:
    result = await engine.run(ProtectRequest(resources=[ResourceRef(DIRECTORY, str(root))]),
                              timeout=60)
    assert result.status == "succeeded", result.error
    return result.checkpoint_id


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path)) / "source"
    (root / "sub").mkdir(parents=True)
    return root


async def test_gc_after_a_delete_removes_only_its_unique_chunks_and_the_other_restores(
    engine_for, tmp_path: Path, source: Path
) -> None:
    (source / "shared.bin").write_bytes(os.urandom(150_000))
    (source / "sub" / "first-only.bin").write_bytes(os.urandom(100_000))
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        first = await protect(e, source)
        (source / "sub" / "first-only.bin").unlink()
        (source / "second-only.bin").write_bytes(os.urandom(80_000))
        expected = snapshot(source)
        second = await protect(e, source)
        first_chunks, second_chunks = await chunk_ids(e, first, source), await chunk_ids(
            e, second, source)
        unique = first_chunks - second_chunks
        assert unique and first_chunks & second_chunks  # the test shares and drops chunks
        deleted = await e.run(DeleteRequest(checkpoint_id=first), timeout=60)
        assert deleted.status == "succeeded", deleted.error

        dry = await collect_bank_garbage(e, grace=0.0, dry_run=True)
        assert dry.sweep.deleted == len(unique) and await stored_chunks(e) >= unique
        report = await collect_bank_garbage(e, grace=0.0)
        assert report.checkpoints == 1 and report.marked == len(second_chunks)
        assert report.sweep.deleted == len(unique)
        assert await stored_chunks(e) == second_chunks
        # the default grace (an hour) keeps everything just written: nothing more to do
        assert (await collect_bank_garbage(e)).sweep.deleted == 0

        target = tmp_path / "target"
        restored = await e.run(RestoreRequest(
            checkpoint_id=second, parameters={DIRECTORY: {"target": str(target)}}), timeout=60)
        assert restored.status == "succeeded", restored.error
        assert snapshot(target) == expected


async def test_gc_is_refused_while_a_checkpoint_is_protected_under_a_live_lease(
    engine_for, tmp_path: Path, source: Path
) -> None:
    (source / "a.bin").write_bytes(os.urandom(50_000))
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        kept = await protect(e, source)
        store = await e.store(e.provider())
        # a protect in flight, as a worker holds it: status protecting, lease taken
        await store.create(checkpoint_id="in-flight", provider_id=e.provider().id,
                           project_id=None, graph=ResourceGraph([], []),
                           operation_id="op-in-flight", owner="worker-1")
        await store.bank.acquire_lease(checkpoint_lease_key("in-flight"), "worker-1", 60.0)
        before = await stored_chunks(e)
        with pytest.raises(GcRefused, match="in-flight"):
            await collect_bank_garbage(e, grace=0.0)
        assert await stored_chunks(e) == before
        # once the protect is gone (its lease released), the collection runs
        await store.bank.release_lease(checkpoint_lease_key("in-flight"), "worker-1")
        report = await collect_bank_garbage(e, grace=0.0)
        assert report.sweep.deleted == 0
        assert report.marked == len(await chunk_ids(e, kept, source))
