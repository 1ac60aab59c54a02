"""A broken plugin or provider file fails only what uses it, through the ``strongbox`` CLI.

A third-party protectable that raises on import is installed beside ours (a fake entry
point); a second provider file is broken. The shipped plugins keep working.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
import structlog

import plugins.registry as registry_module
from actors.cli.main import main
from plugins.registry import PROTECTABLES

DIRECTORY = "Strongbox::Directory"
WIDGET = "Thirdparty::Widget"
WIDGET_TARGET = "tests.helpers.raising_plugin:Widget"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("STRONGBOX_PROVIDER", "STRONGBOX_PROVIDERS_DIR", "STRONGBOX_LOG_LEVEL",
                 "STRONGBOX_PASSPHRASE", "STRONGBOX_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    # where a bank would land by default: it must stay empty
    monkeypatch.setenv("STRONGBOX_BANK_PATH", str(tmp_path / "default-bank"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def broken_protectable_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every installed entry point, plus a protectable whose module raises on import."""
    widget = EntryPoint(WIDGET, WIDGET_TARGET, PROTECTABLES)

    def select(*, group: str) -> list[EntryPoint]:
        installed = list(entry_points(group=group))
        return [*installed, widget] if group == PROTECTABLES else installed

    monkeypatch.setattr(registry_module, "entry_points", select)


def local_provider(bank: Path, roots: Path, *, name: str = "Good", extra: str = "") -> str:
    return (f"[provider]\nname = {name}\nid = {name.lower()}\nbank = filesystem\n"
            f"plugin = directory\nplugin = noop\n\n"
            f"[filesystem]\npath = {bank}\n\n[directory]\nencryption = none\n{extra}\n"
            f"[protectable:{DIRECTORY}]\nroots = {roots}\n")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    return Path(os.path.realpath(root))


@pytest.fixture
def providers(tmp_path: Path) -> Path:
    directory = tmp_path / "providers"
    directory.mkdir()
    return directory


@pytest.fixture
def cli(providers: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--providers-dir", str(providers), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def error_line(err: str) -> str:
    """The one error line (after any warning the run logged)."""
    *logged, line = err.splitlines()
    assert not any(entry.startswith("strongbox: error: ") for entry in logged), err
    assert line.startswith("strongbox: error: ") and "Traceback" not in err
    return line


def test_a_protectable_that_raises_on_import_does_not_stop_a_protect_with_the_local_provider(
        cli: Cli, providers: Path, tmp_path: Path, data: Path) -> None:
    (providers / "good.conf").write_text(local_provider(tmp_path / "bank", data))
    code, out, err = cli("protect", f"{DIRECTORY}#{data}")
    assert code == 0, err
    # the broken plugin is not silent: the protect's log names it
    assert "protectable_unavailable" in err and "widget SDK is not installed" in err
    checkpoint = json.loads(out.splitlines()[-1])["checkpoint_id"]
    code, out, err = cli("checkpoints", "show", checkpoint, "--json")
    assert code == 0 and json.loads(out)["index"]["status"] == "available", err


def test_only_an_operation_on_the_broken_protectables_type_fails_naming_the_entry_point(
        cli: Cli, providers: Path, tmp_path: Path, data: Path) -> None:
    (providers / "good.conf").write_text(local_provider(tmp_path / "bank", data))
    code, _, err = cli("resources", "list", WIDGET)
    assert code == 1
    line = error_line(err)
    assert f"strongbox.protectables:{WIDGET} = {WIDGET_TARGET}" in line
    assert "RuntimeError: widget SDK is not installed" in line


def test_providers_list_shows_a_broken_provider_with_its_error_beside_the_good_ones(
        cli: Cli, providers: Path, tmp_path: Path, data: Path) -> None:
    (providers / "a-good.conf").write_text(local_provider(tmp_path / "bank", data))
    # this one configures the protectable that does not import: it uses it, so it fails
    (providers / "b-widget.conf").write_text(
        local_provider(tmp_path / "bank2", data, name="Widgets")
        + f"\n[protectable:{WIDGET}]\n")
    (providers / "c-typo.conf").write_text("[provider]\nname = Typo\nid = typo\n"
                                          "bank = filesytem\nplugin = noop\n")
    code, out, err = cli("providers", "list", "--json")
    assert (code, err) == (0, "")
    docs = {doc["name"]: doc for doc in json.loads(out)}
    assert docs["Good"]["error"] is None and docs["Good"]["types"] == [DIRECTORY, "*"]
    widget_error = docs["Widgets"]["error"]
    assert "b-widget.conf:17: protectable 'Thirdparty::Widget' cannot be loaded" in widget_error
    assert "RuntimeError: widget SDK is not installed" in widget_error
    assert "c-typo.conf:4: unknown bank 'filesytem'" in docs["Typo"]["error"]

    code, out, _ = cli("providers", "list")
    assert code == 0
    rows = {row.split("\t")[1]: row.split("\t") for row in out.splitlines()[1:]}
    assert rows["Good"][2] == ""
    assert rows["Widgets (not loaded)"][2].startswith("error: ")
    assert "unknown bank 'filesytem'" in rows["Typo (not loaded)"][2]


def test_a_file_that_does_not_parse_lists_by_its_path_and_the_good_one_still_works(
        cli: Cli, providers: Path, tmp_path: Path, data: Path) -> None:
    (providers / "a-good.conf").write_text(local_provider(tmp_path / "bank", data))
    bad = providers / "b-bad.conf"
    bad.write_text("[provider\nname = Bad\n")
    code, out, _ = cli("providers", "list", "--json")
    assert code == 0
    [good, broken] = json.loads(out)
    assert good["name"] == "Good"
    assert broken["source"] == str(bad) and "b-bad.conf:1: section header is not closed" in (
        broken["error"])
    # the good provider works when chosen; the default is ambiguous while a file is broken
    code, _, err = cli("protect", f"{DIRECTORY}#{data}")
    assert code == 1 and "do not load" in error_line(err) and "b-bad.conf:1" in err
    code, _, err = cli("--provider", "Good", "protect", f"{DIRECTORY}#{data}")
    assert code == 0, err


def test_providers_list_exits_1_when_no_provider_loads(cli: Cli, providers: Path) -> None:
    (providers / "a.conf").write_text("[provider\n")
    (providers / "b.conf").write_text("[provider]\nname = B\n")
    code, out, err = cli("providers", "list", "--json")
    assert code == 1
    assert len(json.loads(out)) == 2
    assert "no provider loads" in error_line(err) and "b.conf" in err


def test_a_misspelled_bank_section_is_an_error_and_nothing_is_written_to_any_bank(
        cli: Cli, providers: Path, tmp_path: Path, data: Path) -> None:
    chosen = tmp_path / "chosen-bank"
    text = local_provider(chosen, data).replace("[filesystem]", "[filesystm]")
    (providers / "local.conf").write_text(text)
    code, _, err = cli("protect", f"{DIRECTORY}#{data}")
    assert code == 1
    line = error_line(err)
    assert "local.conf:8: unknown section [filesystm]; did you mean [filesystem]?" in line
    for bank in (chosen, tmp_path / "default-bank", tmp_path / "xdg"):
        assert not bank.exists(), bank
