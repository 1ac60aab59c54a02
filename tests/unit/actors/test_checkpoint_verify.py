"""``strongbox verify``: a protected tree in a filesystem bank, intact and with a bit flipped;
checked in this process, and (``--operation``) as a verify operation on actors."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from actors.cli.main import main
from banks.chunks import ChunkStore, ChunkStoreSettings
from banks.chunks.layout import chunk_key
from banks.filesystem.bank import FilesystemBank
from banks.filesystem.object_file import object_path
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.local.directory.manifest_chunks import StoredManifest
from tests.helpers.checkpoint_chunks import stored_manifest
from tests.helpers.sealed_banks import sealed_view

DIRECTORY = "Strongbox::Directory"
PASSPHRASE = "verify test passphrase"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("STRONGBOX_PROVIDER", "STRONGBOX_PROVIDERS_DIR", "STRONGBOX_LOG_LEVEL",
                 "STRONGBOX_AMQP_URL", "STRONGBOX_PASSPHRASE", "STRONGBOX_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)  # main() configures logging for the whole process


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "big.bin").write_bytes(os.urandom(200_000))
    (root / "empty.txt").write_bytes(b"")
    return Path(os.path.realpath(root))


@pytest.fixture
def cli(tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    providers = tmp_path / "providers"
    providers.mkdir()
    (providers / "local.conf").write_text(
        "[provider]\nname = VerifyTest\nid = verify-test\ndescription = verify test\n"
        "bank = filesystem\nplugin = directory\n\n"
        f"[filesystem]\npath = {tmp_path / 'bank'}\n\n"
        f"[directory]\npassphrase = {PASSPHRASE}\nchunk_min_size = 4096\n"
        "chunk_avg_size = 16384\nchunk_max_size = 65536\n\n"
        f"[protectable:{DIRECTORY}]\nroots = {data}\n")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--providers-dir", str(providers), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def protect(cli: Cli, root: Path) -> str:
    code, out, err = cli("protect", f"{DIRECTORY}#{root}")
    assert code == 0, err
    return str(json.loads(out.splitlines()[-1])["checkpoint_id"])


def read_manifest_of(bank_dir: Path, checkpoint_id: str, root: Path) -> StoredManifest:
    """The manifest of ``root`` in the checkpoint, read through the store with its key."""

    async def read() -> StoredManifest:
        bank = await FilesystemBank.open({"path": str(bank_dir)})
        try:
            settings = ChunkStoreSettings.from_options({"passphrase": PASSPHRASE}, "test")
            store = await ChunkStore.open(bank, settings, create=False)
            sealed = await sealed_view(bank, PASSPHRASE)
            return await stored_manifest(sealed, store, checkpoint_id, root)
        finally:
            await bank.close()

    return asyncio.run(read())


def chunks_of(bank_dir: Path, checkpoint_id: str, root: Path) -> dict[str, list[str]]:
    """File path -> its chunk ids, read from the manifest in the bank."""
    manifest = read_manifest_of(bank_dir, checkpoint_id, root).manifest
    return {e.path: [ref.id for ref in e.chunks or ()] for e in manifest.entries
            if e.kind == "file"}


def flip_last_bit(bank_dir: Path, chunk_id: str) -> None:
    path = object_path(bank_dir / "objects", chunk_key(chunk_id))
    content = bytearray(path.read_bytes())
    content[-1] ^= 0x01
    path.write_bytes(bytes(content))


def test_verify_passes_on_an_intact_checkpoint_and_reads_every_chunk(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    checkpoint = protect(cli, data)
    code, out, err = cli("verify", checkpoint)
    assert code == 0, err
    chunks = chunks_of(tmp_path / "bank", checkpoint, data)
    distinct = {c for ids in chunks.values() for c in ids}
    # the manifest's own chunks count too
    distinct |= set(read_manifest_of(tmp_path / "bank", checkpoint, data).chunks)
    assert len(chunks["sub/big.bin"]) > 1  # small chunks: the test covers several
    assert f"1 resource(s), {len(distinct)} chunk(s) referenced, 100% read, 0 problem(s)" in out
    code, out, _ = cli("--json", "verify", checkpoint, "--sample", "0.5")
    assert code == 0
    report = json.loads(out)
    assert report["problems"] == [] and report["sample"] == 0.5


def test_a_flipped_bit_is_named_with_checkpoint_resource_and_chunk_and_exits_1(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    checkpoint = protect(cli, data)
    [bad] = chunks_of(tmp_path / "bank", checkpoint, data)["a.txt"]
    flip_last_bit(tmp_path / "bank", bad)
    code, out, err = cli("verify", checkpoint)
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("BAD ")]
    assert f"checkpoint {checkpoint}" in line
    assert f"resource {DIRECTORY}#{data}" in line
    assert f"chunk {bad}" in line and "'a.txt'" in line
    assert "failed verification: 1 problem(s) in 1 resource(s)" in err
    code, out, _ = cli("--json", "verify", checkpoint)
    assert code == 1
    [problem] = json.loads(out.splitlines()[0])["problems"]
    assert (problem["checkpoint"], problem["resource"], problem["chunk"]) == (
        checkpoint, f"{DIRECTORY}#{data}", bad)


def test_a_missing_chunk_and_a_missing_manifest_are_both_reported(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    checkpoint = protect(cli, data)
    gone = chunks_of(tmp_path / "bank", checkpoint, data)["sub/big.bin"][0]
    object_path(tmp_path / "bank" / "objects", chunk_key(gone)).unlink()
    code, out, _ = cli("verify", checkpoint, "--sample", "0")  # existence needs no read
    assert code == 1
    assert f"chunk {gone}: missing from the bank" in out
    manifest_file(tmp_path / "bank", checkpoint, data).unlink()
    code, out, _ = cli("verify", checkpoint)
    assert code == 1
    assert "manifest of" in out and "missing" in out


def test_a_sample_outside_0_to_1_is_bad_usage(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("verify", "whatever", "--sample", "1.5")
    assert exit_info.value.code == 2


def test_verify_operation_shows_events_and_exits_1_naming_the_chunk(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    checkpoint = protect(cli, data)
    code, out, err = cli("verify", checkpoint, "--operation", "--request-id", "verify-1")
    assert code == 0, err
    last = json.loads(out.splitlines()[-1])
    assert (last["kind"], last["operation_id"], last["status"]) == (
        "operation_finished", "verify-1", "succeeded")
    [bad] = chunks_of(tmp_path / "bank", checkpoint, data)["a.txt"]
    flip_last_bit(tmp_path / "bank", bad)
    code, out, err = cli("verify", checkpoint, "--operation", "--sample", "1")
    assert code == 1
    assert f"verify failed at {DIRECTORY}#{data}" in err and f"chunk {bad}" in err
    events = [json.loads(line) for line in out.splitlines()]
    [failed] = [e for e in events if e["kind"] == "activity_failed"]
    assert f"checkpoint {checkpoint} resource {DIRECTORY}#{data}" in failed["failure"]["message"]
    code, out, _ = cli("--json", "checkpoints", "show", checkpoint)
    assert code == 0 and json.loads(out)["index"]["status"] == "available"


def test_bank_gc_from_the_cli_reclaims_a_deleted_checkpoints_chunks(
    cli: Cli, data: Path
) -> None:
    checkpoint = protect(cli, data)
    code, out, err = cli("--json", "bank", "gc", "--grace", "0")
    assert code == 0, err
    kept = json.loads(out)
    assert kept["checkpoints"] == 1 and kept["sweep"]["deleted"] == 0
    code, _, err = cli("delete", checkpoint)
    assert code == 0, err
    code, out, err = cli("bank", "gc", "--grace", "0")
    assert code == 0, err
    assert f"deleted                          {kept['sweep']['stored']}" in out
    with pytest.raises(SystemExit) as exit_info:
        cli("bank", "gc", "--grace", "-1")
    assert exit_info.value.code == 2


def manifest_key(bank_dir: Path, checkpoint_id: str, root: Path) -> str:
    """The bank key of the manifest's pointer: its section is named by a keyed hash."""

    async def key() -> str:
        bank = await FilesystemBank.open({"path": str(bank_dir)})
        try:
            sealed = await sealed_view(bank, PASSPHRASE)
            prefix = resource_section_prefix(sealed, checkpoint_id, f"{DIRECTORY}#{root}")
            return prefix + "/manifest"
        finally:
            await bank.close()

    return asyncio.run(key())


def manifest_file(bank_dir: Path, checkpoint_id: str, root: Path) -> Path:
    return object_path(bank_dir / "objects", manifest_key(bank_dir, checkpoint_id, root))


def test_a_pointer_copied_from_an_older_checkpoint_fails_verify_and_the_verify_operation(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    older = protect(cli, data)
    (data / "a.txt").write_text("changed after the first checkpoint\n")
    newer = protect(cli, data)
    rolled_back = manifest_file(tmp_path / "bank", newer, data)
    rolled_back.write_bytes(manifest_file(tmp_path / "bank", older, data).read_bytes())
    code, out, _ = cli("verify", newer)
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("BAD ")]
    assert f"checkpoint {newer} resource {DIRECTORY}#{data}" in line
    # sealed, the pointer is bound to its checkpoint: the envelope refuses it first
    assert "authentication failed (altered, or copied from another key, checkpoint" in line
    code, _, err = cli("verify", newer, "--operation")
    assert code == 1
    assert f"verify failed at {DIRECTORY}#{data}" in err and "copied from another" in err
    code, _, _ = cli("verify", older)
    assert code == 0


def test_a_plaintext_manifest_planted_in_the_encrypted_bank_fails_verify(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    checkpoint = protect(cli, data)
    planted = {"v": 1, "root": str(data), "root_mode": 0o755, "root_mtime_ns": 0, "entries": []}

    key = manifest_key(tmp_path / "bank", checkpoint, data)

    async def plant() -> None:
        bank = await FilesystemBank.open({"path": str(tmp_path / "bank")})
        try:
            await bank.put(key, json.dumps(planted).encode())
        finally:
            await bank.close()

    asyncio.run(plant())
    code, out, _ = cli("verify", checkpoint)
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("BAD ")]
    # the sealed bank refuses it before its version is read
    refused = "in the clear where a sealed object is required"
    assert f"resource {DIRECTORY}#{data}" in line and refused in line
    code, _, err = cli("verify", checkpoint, "--operation")
    assert code == 1 and refused in err
