"""The directory plugins: round trips, exclusions, clashes, hostile manifests, discovery."""

from __future__ import annotations

import os
import re
from pathlib import Path

import msgspec
import pytest
import structlog

from banks.memory_bank import MemoryBank
from plugins.context import RequestContext
from plugins.errors import InvalidParameters, ResourceNotFound
from plugins.local.directory import protection as directory_protection
from plugins.local.directory.errors import (
    DirectoryProtectError,
    DirectoryRestoreError,
    ManifestError,
    UnsafeManifestEntry,
)
from plugins.local.directory.manifest import (
    MANIFEST_KEY,
    MANIFEST_VERSION,
    SAVED_INFO_KEY,
    Manifest,
    ManifestEntry,
    encode_manifest,
)
from plugins.local.directory.protectable import ROOTS_ENV, DirectoryProtectable
from plugins.local.directory.protection import (
    DirectoryProtection,
    DirectoryRestoreParameters,
    DirectorySavedInfo,
)
from tests.helpers.directory_trees import (
    PLAIN_PLUGIN,
    PLUGIN,
    SMALL_CHUNKS,
    UNDECODABLE,
    ProgressLog,
    activity_context,
    build_awkward_tree,
    checkpoint_for,
    directory_resource,
    manifest_of,
    protect,
    restore,
    section_of,
    snapshot,
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    root.mkdir()
    build_awkward_tree(root)
    return root


async def test_a_restored_tree_is_identical_to_the_protected_one(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    await restore(bank, source, tmp_path / "restored")
    restored = snapshot(tmp_path / "restored")
    assert restored == snapshot(source)
    assert restored["locked"].mode == 0o500
    assert restored["nested/readonly.txt"].mode == 0o444
    assert restored["empty_dir"].kind == "dir"
    assert restored["dangling"].target == "does/not/exist"
    assert restored[UNDECODABLE].kind == "file"


async def test_saved_info_of_an_encrypted_store_holds_no_count_and_the_manifest_is_last(
    source: Path,
) -> None:
    written: list[str] = []

    class RecordingBank(MemoryBank):
        async def put(self, key, data, metadata=None):
            written.append(key if key.startswith("/chunks/") else key.rsplit("/", 2)[-1])
            await super().put(key, data, metadata)

        async def put_stream(self, key, chunks, metadata=None):
            written.append("data")
            return await super().put_stream(key, chunks, metadata)

    bank = RecordingBank()
    await protect(bank, source)
    section = section_of(bank, source)
    # in the clear: only what the bank shows anyway (the root is in the graph, the new
    # chunks are new objects); the tree's counts are in the encrypted manifest
    saved = msgspec.json.decode(await section.get(SAVED_INFO_KEY))
    assert set(saved) == {"root", "new_chunks", "stored_bytes"}
    assert saved["root"] == str(source)
    assert saved["new_chunks"] == len([key for key in written if key.startswith("/chunks/data/")])
    assert written[-2:] == [SAVED_INFO_KEY, MANIFEST_KEY]
    # the store's config first, then chunks only: file content never enters the section
    assert written[0] == "/chunks/config"
    assert written[1:-2] and all(key.startswith("/chunks/data/") for key in written[1:-2])
    assert (await manifest_of(bank, source)).v == MANIFEST_VERSION


async def test_saved_info_of_an_unencrypted_store_counts_the_tree(source: Path) -> None:
    plain = DirectoryProtection({"encryption": "none", **SMALL_CHUNKS})
    bank = MemoryBank()
    resource = directory_resource(source)
    checkpoint = checkpoint_for(bank, resource, writable=True)
    await plain.activity_protect_parallel(
        checkpoint, activity_context("protect"), resource, plain.Parameters()
    )
    saved = await checkpoint.bank_section(resource).get(SAVED_INFO_KEY)
    info = msgspec.json.decode(saved, type=DirectorySavedInfo)
    expected = snapshot(source)
    kinds = [entry.kind for path, entry in expected.items() if path != "."]
    assert (info.files, info.directories, info.symlinks) == (
        kinds.count("file"),
        kinds.count("dir"),
        kinds.count("symlink"),
    )
    assert info.total_bytes == sum(entry.size for entry in expected.values())
    assert info.root == str(source) and info.skipped == 0
    assert info.new_chunks and info.new_bytes and info.deduplicated_chunks is not None


async def test_exclude_patterns_leave_out_names_paths_and_whole_subtrees(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source, exclude=["*.log", "cache", "nested/deeper/*.bin"])
    await restore(bank, source, tmp_path / "restored")
    restored = snapshot(tmp_path / "restored")
    assert "trace.log" not in restored
    assert "cache" not in restored and "cache/blob.o" not in restored
    assert "nested/deeper/big.bin" not in restored
    assert "nested/deeper/empty_leaf" in restored
    assert "small.txt" in restored


async def test_existing_fail_refuses_to_clobber_and_names_the_file(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    target = tmp_path / "restored"
    target.mkdir()
    (target / "small.txt").write_bytes(b"mine")
    with pytest.raises(DirectoryRestoreError, match=re.escape("small.txt")):
        await restore(bank, source, target, existing="fail")
    assert (target / "small.txt").read_bytes() == b"mine"
    assert sorted(os.listdir(target)) == ["small.txt"]  # checked before writing anything


async def test_existing_overwrite_replaces_files_and_skip_keeps_them(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    kept, replaced = tmp_path / "kept", tmp_path / "replaced"
    for target in (kept, replaced):
        await restore(bank, source, target)
        (target / "small.txt").write_bytes(b"changed since")
    await restore(bank, source, kept, existing="skip")
    await restore(bank, source, replaced, existing="overwrite")
    assert (kept / "small.txt").read_bytes() == b"changed since"
    assert (replaced / "small.txt").read_bytes() == b"hello, world\n"
    assert snapshot(replaced) == snapshot(source)


async def test_progress_reports_monotonic_bytes_ending_at_the_total(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    total = sum(entry.size for entry in snapshot(source).values())
    for operation in ("protect", "restore"):
        progress = ProgressLog()
        if operation == "protect":
            await protect(bank, source, progress)
        else:
            await restore(bank, source, tmp_path / "restored", progress)
        done = [call[0] for call in progress.calls]
        assert done == sorted(done), operation
        assert {call[1] for call in progress.calls} == {total}, operation
        assert progress.calls[-1] == (total, total), operation
        assert len(progress.calls) > 5, operation  # per chunk, not just start and end


async def test_a_file_that_vanishes_after_the_walk_is_skipped_with_a_warning(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk = directory_protection.walk_tree

    async def walk_then_remove(walker):
        walked = await walk(walker)
        (source / "medium.bin").unlink()
        (source / "small.txt").write_bytes(b"grown after the walk, protected as read")
        return walked

    monkeypatch.setattr(directory_protection, "walk_tree", walk_then_remove)
    bank, progress = MemoryBank(), ProgressLog()
    with structlog.testing.capture_logs() as logs:
        await protect(bank, source, progress)
    events = {entry["event"] for entry in logs}
    assert {"directory_entry_skipped", "directory_file_changed_during_read"} <= events
    manifest = await manifest_of(bank, source)
    assert [skipped.path for skipped in manifest.skipped] == ["medium.bin"]
    assert progress.calls[-1][0] == progress.calls[-1][1]
    await restore(bank, source, tmp_path / "restored")
    assert not (tmp_path / "restored" / "medium.bin").exists()
    assert (tmp_path / "restored" / "small.txt").read_bytes().startswith(b"grown after")


async def test_an_unreadable_file_fails_the_protect_naming_the_path(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    secret = str(source / "nested" / "secret")

    def refusing_open(path, flags, *args, **kwargs):
        # chmod 000 would not stop root, so refuse the open itself
        if str(path) == secret:
            raise PermissionError(13, "Permission denied", secret)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(DirectoryProtectError, match="nested/secret") as caught:
        await protect(MemoryBank(), source)
    assert "Strongbox::Directory#" in str(caught.value)


async def test_special_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "source"
    root.mkdir()
    os.mkfifo(root / "pipe")
    (root / "plain").write_bytes(b"x")
    bank = MemoryBank()
    await protect(bank, root)
    manifest = await manifest_of(bank, root)
    assert [entry.path for entry in manifest.entries] == ["plain"]
    assert [skipped.path for skipped in manifest.skipped] == ["pipe"]


async def write_manifest(bank: MemoryBank, root: Path, entries: list[ManifestEntry]) -> None:
    section = section_of(bank, root)
    for entry in entries:
        if entry.data is not None:
            await section.put(entry.data, b"planted by an attacker")
    # v1, files as section objects: the hostile manifests a restore must still refuse
    # (read from a bank configured unencrypted: an encrypted one refuses v1 outright)
    manifest = Manifest(v=1, root=str(root), root_mode=0o755, root_mtime_ns=0, entries=entries)
    await section.put(MANIFEST_KEY, encode_manifest(manifest))


def file_entry(path: str) -> ManifestEntry:
    return ManifestEntry(path=path, kind="file", mode=0o644, size=22, data="data/00000001")


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ([file_entry("../escape")], "../escape"),
        ([file_entry("/abs/path")], "/abs/path"),
        ([ManifestEntry(path="a", kind="dir", mode=0o755), file_entry("a/../../x")], "a/../../x"),
        ([file_entry("")], "''"),
        ([ManifestEntry(path="a", kind="symlink", target="OUTSIDE"), file_entry("a/x")], "a/x"),
        (
            [
                ManifestEntry(path="a", kind="dir", mode=0o755),
                ManifestEntry(path="a", kind="symlink", target="OUTSIDE"),
                file_entry("a/x"),
            ],
            "'a'",
        ),
    ],
    ids=["dotdot", "absolute", "dotdot-inside", "empty", "symlink-then-file", "dir-and-symlink"],
)
async def test_a_crafted_manifest_is_refused_before_anything_is_written(
    tmp_path: Path, entries: list[ManifestEntry], named: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_bytes(b"original")
    before = snapshot(outside)
    entries = [
        msgspec.structs.replace(e, target=str(outside)) if e.kind == "symlink" else e
        for e in entries
    ]
    root, target = tmp_path / "source", tmp_path / "target" / "inner"
    bank = MemoryBank()
    await write_manifest(bank, root, entries)
    with pytest.raises(UnsafeManifestEntry, match=re.escape(named)) as caught:
        await restore(bank, root, target, plugin=PLAIN_PLUGIN)
    assert str(target) in str(caught.value)
    assert snapshot(outside) == before
    assert not (tmp_path / "target").exists()
    assert sorted(os.listdir(tmp_path)) == ["outside"]


async def test_a_symlink_already_in_the_target_is_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    before = snapshot(outside)
    target = tmp_path / "target"
    target.mkdir()
    (target / "a").symlink_to(outside)
    root = tmp_path / "source"
    bank = MemoryBank()
    await write_manifest(
        bank, root, [ManifestEntry(path="a", kind="dir", mode=0o755), file_entry("a/x")]
    )
    with pytest.raises(UnsafeManifestEntry, match="'a'"):
        await restore(bank, root, target, existing="overwrite", plugin=PLAIN_PLUGIN)
    assert snapshot(outside) == before


async def test_overwriting_a_symlink_replaces_the_link_not_what_it_points_to(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"original")
    target = tmp_path / "target"
    target.mkdir()
    (target / "x").symlink_to(outside)
    root = tmp_path / "source"
    bank = MemoryBank()
    await write_manifest(bank, root, [file_entry("x")])
    await restore(bank, root, target, existing="overwrite", plugin=PLAIN_PLUGIN)
    assert outside.read_bytes() == b"original"
    assert not (target / "x").is_symlink()
    assert (target / "x").read_bytes() == b"planted by an attacker"


async def test_set_id_bits_are_dropped_because_owners_are_not_restored(tmp_path: Path) -> None:
    root, target = tmp_path / "source", tmp_path / "target"
    bank = MemoryBank()
    entry = msgspec.structs.replace(file_entry("tool"), mode=0o6755)
    await write_manifest(bank, root, [entry])
    with structlog.testing.capture_logs() as logs:
        await restore(bank, root, target, plugin=PLAIN_PLUGIN)
    assert os.lstat(target / "tool").st_mode & 0o7777 == 0o755
    assert [e["path"] for e in logs if e["event"] == "directory_set_id_bits_dropped"] == ["tool"]


async def test_a_bank_object_longer_than_the_manifest_says_fails_naming_the_file(
    tmp_path: Path,
) -> None:
    root, target = tmp_path / "source", tmp_path / "target"
    bank = MemoryBank()
    await write_manifest(bank, root, [msgspec.structs.replace(file_entry("short"), size=5)])
    with pytest.raises(DirectoryRestoreError, match=r"'short'.*more bytes than the 5"):
        await restore(bank, root, target, plugin=PLAIN_PLUGIN)
    assert not (target / "short").exists()  # no partial file is left looking restored


async def test_a_manifest_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    bank = MemoryBank()
    root = tmp_path / "source"
    await section_of(bank, root).put(MANIFEST_KEY, b'{"v": 99, "anything": []}')
    with pytest.raises(ManifestError, match="v99"):
        await restore(bank, root, tmp_path / "target")


async def test_a_restore_without_a_manifest_fails_naming_the_resource(tmp_path: Path) -> None:
    root = tmp_path / "source"
    with pytest.raises(ManifestError, match=re.escape(f"Strongbox::Directory#{root}")):
        await restore(MemoryBank(), root, tmp_path / "target")


async def test_delete_removes_every_object_of_the_section_and_leaves_shared_chunks(
    source: Path,
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    section = section_of(bank, source)
    assert await section.list() == [MANIFEST_KEY, SAVED_INFO_KEY]
    chunks = await bank.list("/chunks/data/")
    assert len(chunks) > 10
    resource = directory_resource(source)
    await PLUGIN.activity_delete_parallel(
        checkpoint_for(bank, resource, writable=True),
        activity_context("delete"),
        resource,
        msgspec.Struct(),
    )
    assert await section.list() == []
    assert await bank.list("/chunks/data/") == chunks  # other checkpoints may share them


def test_restore_parameters_refuse_a_relative_target_and_unknown_fields() -> None:
    resource = directory_resource(Path("/srv"))
    with pytest.raises(InvalidParameters, match="absolute"):
        PLUGIN.validate_parameters("restore", resource, {"target": "relative/dir"})
    with pytest.raises(InvalidParameters, match="exlude"):
        PLUGIN.validate_parameters("protect", resource, {"exlude": ["*.log"]})
    assert PLUGIN.validate_parameters("restore", resource, {}) == DirectoryRestoreParameters()


@pytest.mark.parametrize(
    "config", [{"chunk_size": "1"}, {"concurrency": "0"}, {"chunk_size": "lots"}]
)
def test_plugin_options_out_of_bounds_are_refused(config: dict[str, str]) -> None:
    with pytest.raises(InvalidParameters, match=next(iter(config))):
        DirectoryProtection(config)


async def test_the_protectable_lists_configured_roots_and_skips_missing_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    roots = f"{tmp_path / 'one'},\n{tmp_path / 'missing'}\n{tmp_path / 'two'}"
    with structlog.testing.capture_logs() as logs:
        found = await DirectoryProtectable({"roots": roots}).list_resources(RequestContext())
    assert [(r.id, r.name) for r in found] == [
        (str(tmp_path / "one"), "one"),
        (str(tmp_path / "two"), "two"),
    ]
    assert {r.type for r in found} == {"Strongbox::Directory"}
    assert [e["root"] for e in logs if e["event"] == "directory_root_missing"] == [
        str(tmp_path / "missing")
    ]


async def test_the_protectable_reads_roots_from_the_environment_without_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "env-root").mkdir()
    monkeypatch.setenv(ROOTS_ENV, os.pathsep.join([str(tmp_path / "env-root"), "/no/such"]))
    found = await DirectoryProtectable().list_resources(RequestContext())
    assert [r.id for r in found] == [str(tmp_path / "env-root")]


async def test_the_protectable_shows_directories_only(tmp_path: Path) -> None:
    protectable = DirectoryProtectable()
    (tmp_path / "file").write_bytes(b"")
    shown = await protectable.show_resource(RequestContext(), str(tmp_path))
    assert (shown.type, shown.id, shown.name) == (
        "Strongbox::Directory",
        str(tmp_path),
        tmp_path.name,
    )
    for path, reason in [
        (str(tmp_path / "file"), "not a directory"),
        (str(tmp_path / "nothing"), "no such directory"),
        ("relative/path", "not an absolute path"),
    ]:
        with pytest.raises(ResourceNotFound, match=reason):
            await protectable.show_resource(RequestContext(), path)
    assert await protectable.get_dependent_resources(RequestContext(), shown) == []
