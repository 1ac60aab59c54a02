"""The real ``strongbox`` command when its reader goes away or the user presses Ctrl-C.

A broken pipe (``| head -1`` in a real shell) ends it silently with 141, 128 + SIGPIPE;
SIGINT ends it with 130, 128 + SIGINT. Either way an operation it runs is stopped
first, so its checkpoint ends ``error`` (reason ``output closed`` or ``interrupted``)
rather than staying ``protecting``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from banks.filesystem.bank import FilesystemBank
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.store import CheckpointStore
from plugins.resource import Resource

DIRECTORY = "Strongbox::Directory"
REPOSITORY = Path(__file__).resolve().parents[2]
TIMEOUT = 60
BROKEN_PIPE, INTERRUPTED = 141, 130


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.txt").write_text("alpha\n")
    return Path(os.path.realpath(root))


def cli(tmp_path: Path, data: Path, plugin: str) -> list[str]:
    """The command line of ``strongbox`` on a filesystem bank, with ``plugin`` (a
    ``tests.fakes`` class, loaded by its import path) protecting directories."""
    providers = tmp_path / f"providers-{plugin}"
    providers.mkdir()
    (providers / "test.conf").write_text(
        f"[provider]\nname = Signals\nid = signals\nbank = filesystem\n"
        f"plugin = tests.fakes:{plugin}\n"
        f"\n[filesystem]\npath = {tmp_path / 'bank'}\n"
        f"\n[protectable:{DIRECTORY}]\nroots = {data}\n")
    return [sys.executable, "-m", "actors.cli.main", "--providers-dir", str(providers)]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGBOX_")}
    env["PYTHONWARNINGS"] = "error"
    return env


def shown(command: list[str], checkpoint_id: str) -> dict:
    done = subprocess.run([*command, "checkpoints", "show", checkpoint_id, "--json"],
                          capture_output=True, text=True, timeout=TIMEOUT, env=environment(),
                          cwd=REPOSITORY, check=True)
    return json.loads(done.stdout)["index"]


def pipeline(command: list[str], *args: str) -> tuple[int, str, str]:
    """``strongbox ARGS | head -1`` in bash: strongbox's exit status, head's line, stderr.

    The pipeline is a process group of its own, killed whole if it outlives the timeout.
    """
    line = f"{shlex.join([*command, *args])} | head -1; exit ${{PIPESTATUS[0]}}"
    with subprocess.Popen(["bash", "-c", line], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=environment(), cwd=REPOSITORY,
                          start_new_session=True) as shell:
        try:
            out, err = shell.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(shell.pid, signal.SIGKILL)
            raise
    return shell.returncode, out, err


async def make_checkpoints(bank_path: Path, count: int, data: Path) -> None:
    """``count`` failed checkpoints, each with a long error text: a listing far larger
    than a pipe holds (64 KiB), so the writer is still writing when ``head`` has gone."""
    store = CheckpointStore(await FilesystemBank.open({"path": str(bank_path)}))
    graph = ResourceGraph([Resource(type=DIRECTORY, id=str(data), name="data")], [[]])
    for number in range(count):
        checkpoint_id = f"listed-{number:04d}"
        await store.create(checkpoint_id=checkpoint_id, provider_id="signals", project_id=None,
                           graph=graph, operation_id=str(uuid.uuid4()), owner="test")
        await store.transition(checkpoint_id, CheckpointStatus.ERROR,
                               error=f"failure number {number}: " + "why " * 400)


def test_checkpoints_list_into_head_ends_silently_with_141(tmp_path: Path, data: Path) -> None:
    command = cli(tmp_path, data, "RecordingProtection")
    asyncio.run(make_checkpoints(tmp_path / "bank", 100, data))  # about 160 KB of rows
    code, out, err = pipeline(command, "checkpoints", "list")
    assert (code, err) == (BROKEN_PIPE, "")
    assert out.split("\t")[:2] == ["ID", "STATUS"]


def test_a_protect_whose_reader_goes_away_stops_and_ends_its_checkpoint_in_error(
        tmp_path: Path, data: Path) -> None:
    command = cli(tmp_path, data, "TickingProtection")  # reports progress until cancelled
    code, out, err = pipeline(command, "protect", f"{DIRECTORY}#{data}",
                              "--checkpoint-id", "cp-piped")
    assert (code, err) == (BROKEN_PIPE, "")
    assert json.loads(out)["kind"] == "operation_started"
    index = shown(command, "cp-piped")
    assert (index["status"], index["error"]) == ("error", "output closed")


def test_sigint_stops_an_embedded_protect_with_130_and_its_checkpoint_says_interrupted(
        tmp_path: Path, data: Path) -> None:
    command = cli(tmp_path, data, "RecordingProtection")
    protect = subprocess.Popen(
        [*command, "protect", f"{DIRECTORY}#{data}", "--checkpoint-id", "cp-sigint",
         "--param", f"{DIRECTORY}.hang_at=protect_parallel"],  # blocks until cancelled
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
        cwd=REPOSITORY)
    try:
        assert protect.stdout is not None
        for line in protect.stdout:  # the event that says the protect is under way
            event = json.loads(line)
            if (event["kind"], event.get("activity")) == ("activity_started",
                                                          "protect_parallel"):
                break
        protect.send_signal(signal.SIGINT)
        rest, err = protect.communicate(timeout=TIMEOUT)
    finally:
        if protect.poll() is None:
            protect.kill()
            protect.communicate()
    assert protect.returncode == INTERRUPTED
    assert err == "strongbox: error: interrupted\n"
    finished = json.loads(rest.splitlines()[-1])
    assert (finished["status"], finished["error"]) == ("cancelled", "interrupted")
    index = shown(command, "cp-sigint")
    assert (index["status"], index["error"]) == ("error", "interrupted")
