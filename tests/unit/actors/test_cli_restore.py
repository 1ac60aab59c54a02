"""``strongbox restore --target DIR`` of a checkpoint holding several directory roots:
each root in a subdirectory of its own, every root checked before any is written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from actors.cli.main import main
from actors.cli.progress import final_lines
from actors.wire.events import OperationFinished
from tests.helpers.directory_trees import snapshot

DIRECTORY = "Strongbox::Directory"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli("restore", ...)`` -> (exit status, stdout, stderr), embedded, JSON output.
    (The suite's conftest restores the logging that ``main`` configures.)"""
    for name in ("STRONGBOX_PROVIDER", "STRONGBOX_PROVIDERS_DIR", "STRONGBOX_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    providers = tmp_path / "providers"
    providers.mkdir()
    (providers / "local.conf").write_text(
        "[provider]\nname = Roots\nid = roots\nbank = filesystem\nplugin = directory\n"
        f"\n[filesystem]\npath = {tmp_path / 'bank'}\n"
        "\n[directory]\npassphrase = roots-passphrase\n")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--providers-dir", str(providers), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def make_root(path: Path, *names: str) -> Path:
    """A directory holding a file per name, each with its own content."""
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text(f"{name} of {path}\n")
    return Path(os.path.realpath(path))


def protect(cli: Cli, *roots: Path) -> str:
    code, out, err = cli("protect", *(f"{DIRECTORY}#{root}" for root in roots))
    assert code == 0, err
    return json.loads(out.splitlines()[-1])["checkpoint_id"]


def restore(cli: Cli, checkpoint: str, *args: str) -> tuple[int, dict, str]:
    """The exit status, the final event and stderr of a restore."""
    code, out, err = cli("restore", checkpoint, *args)
    return code, json.loads(out.splitlines()[-1]), err


def key(root: Path) -> str:
    return f"{DIRECTORY}#{root}"


def test_one_target_puts_each_root_in_its_own_subdirectory_and_says_where(
        cli: Cli, tmp_path: Path) -> None:
    data = make_root(tmp_path / "srv" / "data", "a.txt", "shared.txt")
    logs = make_root(tmp_path / "var" / "logs", "b.log", "shared.txt")
    checkpoint = protect(cli, data, logs)
    target = tmp_path / "restored"
    code, finished, err = restore(cli, checkpoint, "--target", str(target))
    assert (code, err) == (0, "")
    assert sorted(os.listdir(target)) == ["data", "logs"]  # no merged tree
    assert snapshot(target / "data") == snapshot(data)
    assert snapshot(target / "logs") == snapshot(logs)
    assert finished["restored"] == {key(data): str(target / "data"),
                                    key(logs): str(target / "logs")}


def test_two_roots_with_the_same_base_name_stay_apart(cli: Cli, tmp_path: Path) -> None:
    first = make_root(tmp_path / "home" / "data", "same.txt")
    second = make_root(tmp_path / "srv" / "data", "same.txt")
    checkpoint = protect(cli, second, first)  # the names follow the paths, not this order
    target = tmp_path / "restored"
    code, finished, err = restore(cli, checkpoint, "--target", str(target))
    assert (code, err) == (0, "")
    assert finished["restored"] == {key(second): str(target / "data-2"),
                                    key(first): str(target / "data")}
    assert snapshot(target / "data") == snapshot(first)
    assert snapshot(target / "data-2") == snapshot(second)


def test_a_clash_on_the_second_root_writes_nothing_of_the_first(
        cli: Cli, tmp_path: Path) -> None:
    data = make_root(tmp_path / "data", "a.txt", "more.txt")
    logs = make_root(tmp_path / "logs", "b.log")
    checkpoint = protect(cli, data, logs)
    target = tmp_path / "restored"
    (target / "logs").mkdir(parents=True)
    (target / "logs" / "b.log").write_text("mine")
    code, finished, err = restore(cli, checkpoint, "--target", str(target))
    assert code == 1
    assert err.startswith(f"strongbox: error: restore failed at {key(logs)}: ")
    assert "'b.log'" in err and "already exists" in err
    assert (finished["status"], finished["restored"]) == ("failed", {})
    assert sorted(os.listdir(target)) == ["logs"]  # nothing of data
    assert os.listdir(target / "logs") == ["b.log"]
    assert (target / "logs" / "b.log").read_text() == "mine"


def test_a_root_given_its_own_target_goes_there_and_the_others_below_the_shared_one(
        cli: Cli, tmp_path: Path) -> None:
    data = make_root(tmp_path / "data", "a.txt")
    logs = make_root(tmp_path / "logs", "b.log")
    checkpoint = protect(cli, data, logs)
    target, elsewhere = tmp_path / "restored", tmp_path / "elsewhere"
    code, finished, err = restore(cli, checkpoint, "--target", str(target),
                                  "--param", f"{key(logs)}.target={elsewhere}")
    assert (code, err) == (0, "")
    assert finished["restored"] == {key(data): str(target / "data"), key(logs): str(elsewhere)}
    assert os.listdir(target) == ["data"]
    assert snapshot(elsewhere) == snapshot(logs)


def test_a_single_root_still_goes_straight_into_the_target(cli: Cli, tmp_path: Path) -> None:
    data = make_root(tmp_path / "data", "a.txt")
    checkpoint = protect(cli, data)
    target = tmp_path / "restored"
    code, finished, err = restore(cli, checkpoint, "--target", str(target))
    assert (code, err) == (0, "")
    assert snapshot(target) == snapshot(data)
    assert finished["restored"] == {key(data): str(target)}


def test_on_a_terminal_a_restore_ends_with_where_each_resource_went() -> None:
    finished = OperationFinished(
        operation_id="op", operation_type="restore", checkpoint_id="cp", status="succeeded",
        resource_count=2, duration=1.0,
        restored={"T#/srv/data": "/r/data", "T#/srv/logs": "/r/logs"})
    assert final_lines(finished) == ["restore succeeded: 2 resources in 1.0 s",
                                     "T#/srv/data -> /r/data", "T#/srv/logs -> /r/logs"]
