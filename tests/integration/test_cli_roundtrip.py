"""The real ``strongbox`` command in subprocesses: a round trip, a watch from another
process on the same filesystem bank, and the terminal (rich progress) path under
``script``, for a protect and for a restore of two roots.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.directory_trees import snapshot

DIRECTORY = "Strongbox::Directory"
TIMEOUT = 120


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "small.txt").write_text("hello\n")
    for index in range(6):
        (root / "nested" / f"blob-{index}.bin").write_bytes(os.urandom(512 * 1024))
    (root / "nested" / "deeper" / "notes.txt").write_text("notes\n" * 5000)
    return Path(os.path.realpath(root))


@pytest.fixture
def command(tmp_path: Path, data: Path) -> list[str]:
    providers = tmp_path / "providers"
    providers.mkdir()
    (providers / "local.conf").write_text(
        "[provider]\nname = Roundtrip\nid = roundtrip\nbank = filesystem\nplugin = directory\n"
        f"\n[filesystem]\npath = {tmp_path / 'bank'}\n"
        # the chunk store encrypts by default, under the plugin section's passphrase
        "\n[directory]\npassphrase = roundtrip-passphrase\n"
        f"\n[protectable:{DIRECTORY}]\nroots = {data}\n")
    return [sys.executable, "-m", "actors.cli.main", "--providers-dir", str(providers)]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGBOX_")}
    env["PYTHONWARNINGS"] = "error"
    return env


def run(command: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=TIMEOUT,
                          env=environment(), check=False)


def last_event(stdout: str) -> dict:
    return json.loads(stdout.splitlines()[-1])


def test_protect_then_restore_in_subprocesses_recreates_the_tree(
        command: list[str], data: Path, tmp_path: Path) -> None:
    protected = run(command, "protect", f"{DIRECTORY}#{data}")
    assert protected.returncode == 0, protected.stderr
    finished = last_event(protected.stdout)
    assert finished["kind"] == "operation_finished"
    assert finished["status"] == "succeeded"
    target = tmp_path / "restored"
    restored = run(command, "restore", finished["checkpoint_id"], "--target", str(target))
    assert restored.returncode == 0, restored.stderr
    assert last_event(restored.stdout)["status"] == "succeeded"
    assert snapshot(target) == snapshot(data)


def test_watch_follows_a_protect_run_by_another_process(command: list[str], data: Path) -> None:
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True,
               "env": environment()}
    with subprocess.Popen([*command, "protect", f"{DIRECTORY}#{data}",
                           "--request-id", "watched-op"], **options) as protect, \
            subprocess.Popen([*command, "watch", "watched-op", "--timeout", "60"],
                             **options) as watch:
        watch_out, watch_err = watch.communicate(timeout=TIMEOUT)
        protect_out, protect_err = protect.communicate(timeout=TIMEOUT)
    assert protect.returncode == 0, protect_err
    assert watch.returncode == 0, watch_err
    seen = [json.loads(line) for line in watch_out.splitlines()]
    assert seen[0]["kind"] == "operation_started"
    assert seen[-1]["kind"] == "operation_finished"
    assert seen[-1]["status"] == "succeeded"
    assert seen[-1]["checkpoint_id"] == last_event(protect_out)["checkpoint_id"]
    assert [e["activity"] for e in seen if e["kind"] == "activity_finished"] == [
        "protect_pre", "protect_parallel", "protect_post"]


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script")
def test_on_a_terminal_protect_draws_progress_and_ends_with_the_checkpoint_id(
        command: list[str], data: Path) -> None:
    line = shlex.join([*command, "protect", f"{DIRECTORY}#{data}", "--checkpoint-id", "cp-tty"])
    shown = subprocess.run(["script", "-qec", line, "/dev/null"], capture_output=True,
                           text=True, timeout=TIMEOUT, env=environment() | {"COLUMNS": "120"},
                           check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = [text.strip() for text in shown.stdout.replace("\r", "\n").splitlines()]
    lines = [text for text in lines if text]
    assert lines[-1] == "cp-tty"
    assert "protect succeeded: 1 resource" in lines[-2]
    assert '"kind"' not in shown.stdout  # progress bars, not JSON lines


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script")
def test_on_a_terminal_a_restore_of_two_roots_says_where_each_went(
        command: list[str], data: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("started\n")
    logs = Path(os.path.realpath(logs))
    protected = run(command, "protect", f"{DIRECTORY}#{data}", f"{DIRECTORY}#{logs}")
    assert protected.returncode == 0, protected.stderr
    target = tmp_path / "restored"
    line = shlex.join([*command, "restore", last_event(protected.stdout)["checkpoint_id"],
                       "--target", str(target)])
    shown = subprocess.run(["script", "-qec", line, "/dev/null"], capture_output=True,
                           text=True, timeout=TIMEOUT, env=environment() | {"COLUMNS": "200"},
                           check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = [text.strip() for text in shown.stdout.replace("\r", "\n").splitlines()]
    lines = [text for text in lines if text]
    assert "restore succeeded: 2 resources" in lines[-3]
    assert lines[-2:] == [f"{DIRECTORY}#{data} -> {target / 'data'}",
                          f"{DIRECTORY}#{logs} -> {target / 'logs'}"]
    assert snapshot(target / "data") == snapshot(data)
    assert snapshot(target / "logs") == snapshot(logs)
