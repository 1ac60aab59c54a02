"""What the filesystem bank does beyond the bank contract: its files, processes and errors."""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from banks.errors import (
    BankError,
    BankFull,
    BankUnavailable,
    InvalidKey,
    LeaseHeld,
    ObjectNotFound,
)
from banks.filesystem import bank as filesystem_bank
from banks.filesystem.bank import FilesystemBank

REPO = Path(__file__).resolve().parents[3]

# A child process that opens the bank at argv[1] and tries to take lease argv[2] for
# owner argv[3]. With argv[4] == "wait", it prints "ready" once the bank is open and
# waits for a line on stdin, so that several children race for the lease at one moment.
# Exit status: 0 took the lease, 3 refused with LeaseHeld (the holder printed).
CHILD = """
import asyncio, sys
from banks.errors import LeaseHeld
from banks.filesystem.bank import FilesystemBank

async def main(root, key, owner, wait="no"):
    bank = await FilesystemBank.open({"path": root})
    if wait == "wait":
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    try:
        await bank.acquire_lease(key, owner, 60)
    except LeaseHeld as held:
        print(held.owner)
        return 3
    return 0

sys.exit(asyncio.run(main(*sys.argv[1:])))
"""


async def start_child(*args: str) -> asyncio.subprocess.Process:
    """Start CHILD with ``args``, able to import this repository's packages."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, *args,
        env=dict(os.environ, PYTHONPATH=path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish_child(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for a child; return its exit status and what it printed."""
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode in (0, 3), err.decode()
    return process.returncode, out.decode().strip()


async def run_child(*args: str) -> tuple[int, str]:
    """Run CHILD with ``args`` to the end."""
    return await finish_child(await start_child(*args))


def files_under(root: Path) -> list[str]:
    """Every file and directory below ``root``, relative, sorted."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def temp_files(root: Path) -> list[str]:
    """Temp files left anywhere below ``root``."""
    return [name for name in files_under(root) if filesystem_bank.TEMP_PREFIX in name]


@pytest.fixture
async def bank(tmp_path: Path) -> FilesystemBank:
    """A fresh filesystem bank."""
    return await FilesystemBank.open({"path": str(tmp_path / "bank")})


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    """``data`` in ``size`` pieces."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


# -- files on disk -----------------------------------------------------------------------


async def test_an_object_is_one_file_under_objects_named_by_its_key(
    bank: FilesystemBank,
) -> None:
    await bank.put("/checkpoints/c1/index", b"payload", {"k": "v"})
    await bank.put("/checkpoints/c1", b"beside its own directory")

    objects = bank.root / "objects"
    assert files_under(objects) == [
        "checkpoints", "checkpoints/c1", "checkpoints/c1/index~obj", "checkpoints/c1~obj",
    ]
    raw = (objects / "checkpoints/c1/index~obj").read_bytes()
    assert raw.startswith(b"SBX1")
    assert raw.endswith(b"payload")


async def test_writes_leave_no_temp_files(bank: FilesystemBank) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * (3 << 20)
        raise RuntimeError("boom")

    await bank.put("/a/one", b"1")
    await bank.put("/a/one", b"overwritten")
    await bank.put_stream("/a/two", chunks_of(b"y" * (3 << 20), 1000))
    with pytest.raises(RuntimeError):
        await bank.put_stream("/a/three", failing())
    await bank.acquire_lease("/leases/x", "me", 10)
    await bank.acquire_lease("/leases/x", "me", 20)
    await bank.release_lease("/leases/x", "me")

    assert temp_files(bank.root) == []
    assert await bank.list("/") == ["/a/one", "/a/two"]


async def test_a_cancelled_streamed_put_leaves_no_temp_file_and_no_object(
    bank: FilesystemBank,
) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 65536
            started.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(bank.put_stream("/cancelled", endless()))
    async with asyncio.timeout(10):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert temp_files(bank.root) == []
    assert await bank.list("/") == []


async def test_list_ignores_leftover_temp_files_and_stray_files(bank: FilesystemBank) -> None:
    await bank.put("/dir/real", b"x")
    directory = bank.root / "objects" / "dir"
    (directory / "~tmp-0123456789abcdef").write_bytes(b"left by a crash")
    (directory / "README").write_bytes(b"not an object")
    (directory / "odd~name").mkdir()

    assert await bank.list("/") == ["/dir/real"]
    assert await bank.list("/dir/") == ["/dir/real"]


async def test_delete_prunes_empty_directories_up_to_the_objects_root(
    bank: FilesystemBank,
) -> None:
    await bank.put("/a/b/c/d", b"x")
    await bank.put("/a/x", b"y")

    await bank.delete("/a/b/c/d")
    assert files_under(bank.root / "objects") == ["a", "a/x~obj"]

    await bank.delete("/a/x")
    assert files_under(bank.root / "objects") == []
    assert (bank.root / "objects").is_dir()


async def test_a_stream_being_read_is_not_changed_by_an_overwrite(bank: FilesystemBank) -> None:
    old = b"o" * (1 << 20)
    await bank.put("/k", old)

    stream = bank.get_stream("/k", chunk_size=1 << 16)
    first = await anext(stream)
    await bank.put("/k", b"n" * (2 << 20))
    rest = [chunk async for chunk in stream]

    assert first + b"".join(rest) == old


async def test_objects_and_leases_survive_reopening_the_bank(tmp_path: Path) -> None:
    first = await FilesystemBank.open({"path": str(tmp_path)})
    await first.put("/kept", b"data", {"m": "1"})
    lease = await first.acquire_lease("/leases/kept", "worker-a", 60)

    second = await FilesystemBank.open({"path": str(tmp_path)})

    assert await second.get("/kept") == b"data"
    assert (await second.head("/kept")).metadata == {"m": "1"}
    assert await second.check_lease("/leases/kept") == lease


async def test_the_constructor_does_no_io_and_the_first_write_creates_the_tree(
    tmp_path: Path,
) -> None:
    root = tmp_path / "not" / "yet"
    bank = FilesystemBank(root)
    assert not root.exists()

    assert await bank.list("/") == []
    with pytest.raises(ObjectNotFound):
        await bank.get("/x")
    assert await bank.check_lease("/l") is None
    assert not root.exists()

    await bank.put("/x/y", b"1")
    await bank.acquire_lease("/l", "me", 10)
    assert await bank.get("/x/y") == b"1"


async def test_listing_a_prefix_reads_only_directories_under_it(
    bank: FilesystemBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    for top in ("a", "b", "c"):
        for index in range(3):
            await bank.put(f"/{top}/sub{index}/key", b"")
    scanned: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: Any) -> Any:
        scanned.append(str(Path(path).relative_to(bank.root / "objects")))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)

    assert await bank.list("/b/sub1") == ["/b/sub1/key"]
    assert scanned == ["b", "b/sub1"]
    scanned.clear()
    assert await bank.list("/", marker="/b/sub1/key", limit=1) == ["/b/sub2/key"]
    assert scanned == [".", "b", "b/sub1", "b/sub2"]


async def test_a_prefix_with_an_empty_segment_matches_nothing(bank: FilesystemBank) -> None:
    await bank.put("/a/b", b"")

    try:
        found = await bank.list("/a//")
    except InvalidKey:
        found = []

    assert found == []


async def test_a_corrupt_object_file_raises_bank_error_naming_the_key(
    bank: FilesystemBank,
) -> None:
    await bank.put("/broken", b"x")
    (bank.root / "objects" / "broken~obj").write_bytes(b"garbage")

    for read in (bank.get, bank.head):
        with pytest.raises(BankError, match=r"/broken.*corrupt"):
            await read("/broken")
    with pytest.raises(BankError, match="corrupt"):
        await anext(bank.get_stream("/broken"))


async def test_a_corrupt_lease_record_counts_as_no_lease(bank: FilesystemBank) -> None:
    await bank.acquire_lease("/leases/x", "worker-a", 60)
    (record,) = [path for path in (bank.root / "leases").iterdir() if path.name != "lock"]
    record.write_bytes(b"{not json")

    assert await bank.check_lease("/leases/x") is None
    assert (await bank.acquire_lease("/leases/x", "worker-b", 60)).owner == "worker-b"


async def test_a_segment_too_long_for_a_file_name_is_an_invalid_key(
    bank: FilesystemBank,
) -> None:
    key = "/" + "s" * (filesystem_bank.MAX_SEGMENT_LENGTH + 1)

    with pytest.raises(InvalidKey, match="segment"):
        await bank.put(key, b"x")

    longest = "/" + "s" * filesystem_bank.MAX_SEGMENT_LENGTH
    await bank.put(longest, b"x")
    assert await bank.list("/") == [longest]


# -- leases between processes ------------------------------------------------------------


async def test_a_lease_taken_by_another_process_is_refused(bank: FilesystemBank) -> None:
    status, _ = await run_child(str(bank.root), "/leases/shared", "child")
    assert status == 0

    with pytest.raises(LeaseHeld) as raised:
        await bank.acquire_lease("/leases/shared", "parent", 60)
    assert raised.value.owner == "child"

    await bank.acquire_lease("/leases/mine", "parent", 60)
    status, holder = await run_child(str(bank.root), "/leases/mine", "child")
    assert (status, holder) == (3, "parent")


async def test_processes_racing_for_one_lease_have_one_winner(bank: FilesystemBank) -> None:
    owners = [f"process-{index}" for index in range(6)]
    children = [
        await start_child(str(bank.root), "/leases/race", owner, "wait") for owner in owners
    ]
    async with asyncio.timeout(60):
        for child in children:
            assert child.stdout is not None
            assert await child.stdout.readline() == b"ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
    results = await asyncio.gather(*(finish_child(child) for child in children))

    winners = [owner for owner, (status, _) in zip(owners, results, strict=True) if status == 0]
    assert len(winners) == 1
    assert {holder for status, holder in results if status == 3} == set(winners)
    held = await bank.check_lease("/leases/race")
    assert held is not None
    assert held.owner == winners[0]


# -- errors ------------------------------------------------------------------------------


def fail_on_bank_files(
    monkeypatch: pytest.MonkeyPatch, name: str, root: Path, code: int
) -> None:
    """Make ``os.<name>`` raise OSError(code) on descriptors or paths inside ``root``.

    Other callers (the event loop, pytest) keep the real function.
    """
    real: Callable[..., Any] = getattr(os, name)

    def in_bank(target: Any) -> bool:
        if isinstance(target, int):
            target = os.readlink(f"/proc/self/fd/{target}")
        return str(target).startswith(str(root))

    def failing(target: Any, *args: Any, **kwargs: Any) -> Any:
        if in_bank(target):
            raise OSError(code, os.strerror(code), str(target))
        return real(target, *args, **kwargs)

    monkeypatch.setattr(os, name, failing)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to aim the fault")
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
async def test_a_full_disk_is_reported_as_bank_full(
    bank: FilesystemBank, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    await bank.put("/full/key", b"old")
    fail_on_bank_files(monkeypatch, "write", bank.root, code)

    with pytest.raises(BankFull) as raised:
        await bank.put("/full/key", b"new")
    message = str(raised.value)
    assert "/full/key" in message
    assert str(bank.root) in message
    with pytest.raises(BankFull, match="/full/stream"):
        await bank.put_stream("/full/stream", chunks_of(b"s" * (3 << 20), 1 << 16))

    monkeypatch.undo()
    assert await bank.get("/full/key") == b"old"
    assert await bank.list("/") == ["/full/key"]
    assert temp_files(bank.root) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [(errno.EIO, BankUnavailable), (errno.EACCES, BankError), (errno.EROFS, BankError)],
)
async def test_other_os_errors_become_bank_errors_naming_the_key(
    bank: FilesystemBank, monkeypatch: pytest.MonkeyPatch, code: int,
    expected: type[BankError],
) -> None:
    await bank.put("/err/key", b"old")
    fail_on_bank_files(monkeypatch, "replace", bank.root, code)
    fail_on_bank_files(monkeypatch, "unlink", bank.root / "objects" / "err", code)
    fail_on_bank_files(monkeypatch, "scandir", bank.root, code)

    for call in (
        bank.put("/err/key", b"new"),
        bank.put_stream("/err/key", chunks_of(b"new", 1)),
        bank.delete("/err/key"),
        bank.acquire_lease("/leases/err", "me", 10),
        bank.list("/err/"),
    ):
        with pytest.raises(expected) as raised:
            await call
        assert not isinstance(raised.value, OSError)
        assert raised.value.retryable is (expected is BankUnavailable)
        assert "/err" in str(raised.value) or "/leases/err" in str(raised.value)

    monkeypatch.undo()
    assert await bank.get("/err/key") == b"old"


async def test_a_read_error_becomes_a_bank_error(
    bank: FilesystemBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bank.put("/read/key", b"data")
    fail_on_bank_files(monkeypatch, "open", bank.root, errno.EIO)

    for read in (bank.head, bank.get):
        with pytest.raises(BankUnavailable, match="/read/key"):
            await read("/read/key")
    with pytest.raises(BankUnavailable, match="/read/key"):
        await anext(bank.get_stream("/read/key"))


# -- opening -----------------------------------------------------------------------------


async def test_opening_a_path_that_is_a_regular_file_names_the_path_option(
    tmp_path: Path,
) -> None:
    file = tmp_path / "a-file"
    file.write_text("not a bank")

    with pytest.raises(BankError, match="'path'") as raised:
        await FilesystemBank.open({"path": str(file)})
    assert str(file) in str(raised.value)
    assert "not a directory" in str(raised.value)


async def test_opening_a_path_that_cannot_be_created_names_the_path_option(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("")
    below_a_file = tmp_path / "a-file" / "bank"

    with pytest.raises(BankError, match="'path'") as raised:
        await FilesystemBank.open({"path": str(below_a_file)})
    assert str(below_a_file) in str(raised.value)
    assert "cannot be created" in str(raised.value)
    assert f"({tmp_path / 'a-file'})" in str(raised.value)


async def test_open_creates_the_directory_from_the_option(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "bank"

    bank = await FilesystemBank.open({"path": str(root)})

    assert bank.root == root
    assert (root / "objects").is_dir()
    assert (root / "leases").is_dir()


async def test_open_falls_back_to_the_environment_then_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGBOX_BANK_PATH", str(tmp_path / "from-env"))
    assert (await FilesystemBank.open({})).root == tmp_path / "from-env"
    assert (await FilesystemBank.open({"path": ""})).root == tmp_path / "from-env"

    monkeypatch.delenv("STRONGBOX_BANK_PATH")
    monkeypatch.setattr(
        platformdirs, "user_data_dir", lambda app: str(tmp_path / "data" / app)
    )
    bank = await FilesystemBank.open({})
    assert bank.root == tmp_path / "data" / "strongbox" / "bank"
    assert bank.root.is_dir()


async def test_a_bank_error_from_open_names_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    monkeypatch.setenv("STRONGBOX_BANK_PATH", str(file))

    with pytest.raises(BankError, match="STRONGBOX_BANK_PATH"):
        await FilesystemBank.open({})


async def test_metadata_that_is_not_text_is_refused_before_writing(
    bank: FilesystemBank,
) -> None:
    bad: Any = {"size": 5}

    with pytest.raises(TypeError, match="size"):
        await bank.put("/meta", b"x", bad)
    with pytest.raises(TypeError, match="size"):
        await bank.put_stream("/meta", chunks_of(b"x", 1), bad)

    assert await bank.list("/") == []
    assert temp_files(bank.root) == []
