"""The ``strongbox`` CLI in-process: ``main([...])`` with captured, non-terminal output.

``main`` runs ``asyncio.run`` itself, so these tests are plain functions.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from rich.console import Console

from actors.cli.commands import parse_parameters, tree_lines
from actors.cli.main import main
from actors.cli.progress import JournalFeed, RichProgressRenderer
from actors.errors import RequestInvalid
from actors.service.logging_setup import resolve_level
from actors.wire.events import ActivityProgress, ActivityStarted, OperationFinished, decode_event
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import JournalEntry
from plugins.checkpoint.operation_record import OperationRecord
from plugins.resource import Resource
from tests.helpers.directory_trees import snapshot

DIRECTORY = "Strongbox::Directory"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("STRONGBOX_PROVIDER", "STRONGBOX_PROVIDERS_DIR", "STRONGBOX_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)  # main() configures logging for the whole process


def write_provider(directory: Path, bank: Path, roots: Path, *, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "local.conf").write_text(
        "[provider]\nname = CliTest\nid = cli-test\ndescription = CLI test provider\n"
        f"bank = filesystem\nplugin = directory\n{extra}\n"
        f"[filesystem]\npath = {bank}\n\n"
        # the chunk store encrypts by default, under a passphrase from the plugin's section
        "[directory]\npassphrase = cli-test-passphrase\n\n"
        f"[protectable:{DIRECTORY}]\nroots = {roots}\n")
    return directory


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 300)
    (root / "sub" / "deeper" / "c.txt").write_text("gamma\n" * 1000)
    (root / "empty").mkdir()
    return Path(os.path.realpath(root))


@pytest.fixture
def cli(tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli("protect", ...)`` -> (exit status, stdout, stderr) on a provider in tmp_path."""
    providers = write_provider(tmp_path / "providers", tmp_path / "bank", data)

    def run(*args: str, providers_dir: Path = providers) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--providers-dir", str(providers_dir), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def protect(cli: Cli, data: Path, *extra: str) -> str:
    code, out, err = cli("protect", f"{DIRECTORY}#{data}", *extra)
    assert code == 0, err
    return json_lines(out)[-1]["checkpoint_id"]


# -- providers and resources ----------------------------------------------------------------


def test_providers_list_describes_each_provider_as_json_or_as_a_table(cli: Cli) -> None:
    code, out, err = cli("providers", "list", "--json")
    assert (code, err) == (0, "")
    [provider] = json.loads(out)
    assert provider["id"] == "cli-test"
    assert provider["bank"] == "filesystem"
    assert provider["plugins"] == ["directory"]
    assert provider["types"] == [DIRECTORY]
    code, out, _ = cli("providers", "list")
    header, row = out.splitlines()
    assert header.split("\t")[:2] == ["ID", "NAME"]
    assert row.startswith("cli-test\tCliTest\t")


def test_providers_show_includes_the_extended_info_schema(cli: Cli) -> None:
    code, out, _ = cli("providers", "show", "cli-test", "--json")
    assert code == 0
    shown = json.loads(out)
    assert "target" in json.dumps(shown["extended_info_schema"]["restore_schema"][DIRECTORY])
    assert shown["bank_options"]["path"].endswith("bank")


def test_resources_list_and_show_a_configured_directory(cli: Cli, data: Path) -> None:
    code, out, _ = cli("resources", "list", DIRECTORY, "--json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)] == [str(data)]
    code, out, _ = cli("resources", "show", DIRECTORY, str(data / "sub"), "--json")
    assert code == 0
    assert json.loads(out)["name"] == "sub"


def test_resources_graph_prints_the_graph_document_or_a_tree(cli: Cli, data: Path) -> None:
    code, out, _ = cli("resources", "graph", f"{DIRECTORY}#{data}", "--json")
    assert code == 0
    document = json.loads(out)
    assert [n["id"] for n in document["nodes"]] == [str(data)]
    assert document["children"] == [[]]
    code, out, _ = cli("resources", "graph", f"{DIRECTORY}#{data}")
    assert out.splitlines() == [f"{DIRECTORY}#{data} (data)"]


def test_a_tree_marks_a_shared_node_and_draws_its_subtree_once() -> None:
    nodes = [Resource(type="T", id=name) for name in ("root", "left", "right", "shared", "leaf")]
    graph = ResourceGraph(nodes, [[1, 2], [3], [3], [4], []])
    assert tree_lines(graph) == [
        "T#root",
        "├── T#left",
        "│   └── T#shared [shared]",
        "│       └── T#leaf",
        "└── T#right",
        "    └── T#shared [shared, shown above]",
    ]


# -- operations -----------------------------------------------------------------------------


def test_protect_streams_json_events_ending_with_the_checkpoint_id(cli: Cli, data: Path) -> None:
    code, out, err = cli("protect", f"{DIRECTORY}#{data}", "--request-id", "op-protect",
                         "--checkpoint-id", "cp-cli")
    assert (code, err) == (0, "")
    events = [decode_event(line.encode()) for line in out.splitlines()]
    assert {e.operation_id for e in events} == {"op-protect"}
    finished = events[-1]
    assert isinstance(finished, OperationFinished)
    assert (finished.status, finished.checkpoint_id) == ("succeeded", "cp-cli")
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds[0] == "operation_started"
    assert kinds.count("activity_finished") == 3


def test_checkpoints_list_and_show_describe_a_new_checkpoint(cli: Cli, data: Path) -> None:
    checkpoint = protect(cli, data)
    code, out, _ = cli("checkpoints", "list", "--json")
    [listed] = json.loads(out)
    assert (code, listed["id"], listed["status"]) == (0, checkpoint, "available")
    assert listed["created"][:4].isdigit()
    code, out, _ = cli("checkpoints", "list")
    assert out.splitlines()[1].split("\t")[:2] == [checkpoint, "available"]
    code, out, _ = cli("checkpoints", "show", checkpoint, "--json")
    shown = json.loads(out)
    assert shown["index"]["status"] == "available"
    assert [r["status"] for r in shown["resources"]] == ["available"]
    assert shown["graph"] == {"nodes": 1, "roots": [f"{DIRECTORY}#{data}"],
                              "types": {DIRECTORY: 1}}
    code, out, _ = cli("checkpoints", "show", checkpoint)
    assert f"{DIRECTORY}#{data}" in out
    assert "1 nodes, 1 roots" in out


def test_restore_to_a_target_recreates_identical_files(cli: Cli, data: Path,
                                                       tmp_path: Path) -> None:
    checkpoint = protect(cli, data)
    target = tmp_path / "restored"
    code, out, err = cli("restore", checkpoint, "--target", str(target))
    assert (code, err) == (0, "")
    assert json_lines(out)[-1]["status"] == "succeeded"
    assert snapshot(target) == snapshot(data)


def test_a_restore_that_fails_exits_1_naming_the_resource_and_the_reason(
        cli: Cli, data: Path, tmp_path: Path) -> None:
    checkpoint = protect(cli, data)
    target = str(tmp_path / "twice")
    assert cli("restore", checkpoint, "--target", target)[0] == 0
    code, out, err = cli("restore", checkpoint, "--target", target)
    assert code == 1
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"strongbox: error: restore failed at {DIRECTORY}#{data}: ")
    assert "already exists" in err
    assert json_lines(out)[-1]["status"] == "failed"
    code, _, err = cli("restore", checkpoint, "--target", target,
                       "--param", f"{DIRECTORY}.existing=overwrite")
    assert (code, err) == (0, "")


def test_delete_marks_the_checkpoint_deleted(cli: Cli, data: Path) -> None:
    checkpoint = protect(cli, data)
    code, out, err = cli("delete", checkpoint)
    assert (code, err) == (0, "")
    assert json_lines(out)[-1]["operation_type"] == "delete"
    code, out, _ = cli("checkpoints", "show", checkpoint, "--json")
    assert json.loads(out)["index"]["status"] == "deleted"
    assert json.loads(cli("checkpoints", "list", "--json")[1]) == []


def test_watch_replays_a_finished_operation_from_the_bank(cli: Cli, data: Path) -> None:
    checkpoint = protect(cli, data, "--request-id", "op-watched")
    code, out, err = cli("watch", "op-watched")
    assert (code, err) == (0, "")
    lines = json_lines(out)
    assert lines[0]["kind"] == "operation_started"
    assert [line["activity"] for line in lines[1:-1]] == [
        "protect_pre", "protect_parallel", "protect_post"]
    assert lines[-1]["kind"] == "operation_finished"
    assert lines[-1]["checkpoint_id"] == checkpoint


# -- failures -------------------------------------------------------------------------------


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("strongbox: error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("args", "named"), [
    (["--provider", "nope", "checkpoints", "list"], "'nope'"),
    (["resources", "list", "Nope::Type"], "'Nope::Type'"),
    (["restore", "no-such-checkpoint"], "'no-such-checkpoint'"),
    (["checkpoints", "show", "no-such-checkpoint"], "'no-such-checkpoint'"),
    (["resources", "show", DIRECTORY, "/no/such/dir"], "/no/such/dir"),
    (["protect", "no-hash-sign"], "'no-hash-sign'"),
    (["protect", f"{DIRECTORY}#/", "--param", "oops"], "--param 'oops'"),
    (["protect", f"{DIRECTORY}#/", "--parameters", "{not json"], "--parameters"),
    (["protect", f"{DIRECTORY}#/", "--param", "Other::Type.x=1"], "'Other::Type'"),
    (["protect", f"{DIRECTORY}#/", "--param", f"{DIRECTORY}.bogus=1"], "bogus"),
    (["watch", "no-such-operation", "--timeout", "0.3"], "'no-such-operation'"),
])
def test_an_expected_error_exits_1_with_one_line_naming_the_problem(
        cli: Cli, args: list[str], named: str) -> None:
    code, _, err = cli(*args)
    assert code == 1
    assert named in one_error_line(err)


def test_a_bad_provider_file_exits_1_naming_the_file_and_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad-providers"
    bad.mkdir()
    (bad / "broken.conf").write_text("[provider]\nname = B\nid = b\nbank = ftp\nplugin = noop\n")
    code, _, err = cli("providers", "list", providers_dir=bad)
    assert code == 1
    assert "broken.conf:4: unknown bank 'ftp'" in one_error_line(err)


def test_bad_usage_exits_2_as_argparse_does(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("protect")
    assert exit_info.value.code == 2


# -- parsing and rendering ------------------------------------------------------------------


def test_param_values_are_json_when_they_parse_and_strings_otherwise() -> None:
    parameters = parse_parameters('{"T": {"a": 1, "b": "x"}}', [
        "T.b=2", "T.c=[1, 2]", "T.d=/some/path", "T#/dir/with.dots.flag=true", "T.e="])
    assert parameters == {"T": {"a": 1, "b": 2, "c": [1, 2], "d": "/some/path", "e": ""},
                          "T#/dir/with.dots": {"flag": True}}
    with pytest.raises(RequestInvalid, match="TYPE"):
        parse_parameters(None, ["T.=1"])


def test_parameters_can_come_from_a_file(tmp_path: Path) -> None:
    source = tmp_path / "parameters.json"
    source.write_text('{"T": {"target": "/x"}}')
    assert parse_parameters(f"@{source}", []) == {"T": {"target": "/x"}}
    with pytest.raises(RequestInvalid, match="cannot read"):
        parse_parameters(f"@{tmp_path / 'missing.json'}", [])


def test_the_rich_renderer_draws_events_rebuilt_from_a_journal_without_error() -> None:
    nodes = [Resource(type="T", id=f"r{i}", name=f"[r{i}]") for i in range(20)]
    graph = ResourceGraph(nodes, [[] for _ in nodes])
    record = OperationRecord(id="op", type="protect", provider_id="p", checkpoint_id="cp",
                             status="running", started_at=1.0, resource_count=len(nodes))
    feed = JournalFeed(record, graph)
    entries = [JournalEntry(n, f"protect_{p}", "done", 2.0 + n) for n in range(19)
               for p in ("pre", "parallel", "post")]
    entries.append(JournalEntry(19, "protect_parallel", "failed", 50.0, "OSError: disk gone"))
    stream = io.StringIO()
    renderer = RichProgressRenderer(Console(file=stream, force_terminal=True, width=100), "w")
    with renderer:
        renderer.handle(feed.started())
        for node in range(15):  # more running resources than bars
            renderer.handle(ActivityStarted(operation_id="op", node=node, resource_type="T",
                                            resource_id=f"r{node}", activity="protect_pre",
                                            state="pre"))
        renderer.handle(ActivityProgress(operation_id="op", node=3, resource_type="T",
                                         resource_id="r3", activity="protect_parallel",
                                         state="parallel", bytes_done=10, bytes_total=100))
        for event in feed.new_events(entries):
            renderer.handle(event)
        assert feed.new_events(entries) == []  # each entry once
        finished = feed.finished(OperationRecord(
            id="op", type="protect", provider_id="p", checkpoint_id="cp", status="failed",
            started_at=1.0, finished_at=60.0, resource_count=20, error="OSError: disk gone",
            error_resource="T#r19"))
        assert finished is not None
        renderer.handle(finished)
    assert "[r19]" in stream.getvalue()
    assert "OSError: disk gone" in stream.getvalue()


def test_the_log_level_comes_from_the_option_then_v_then_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_level() == "warning"
    monkeypatch.setenv("STRONGBOX_LOG_LEVEL", "ERROR")
    assert resolve_level() == "error"
    assert resolve_level(verbosity=1) == "info"
    assert resolve_level(verbosity=5) == "debug"
    assert resolve_level("critical", verbosity=2) == "critical"
    with pytest.raises(ValueError, match="'loud'"):
        resolve_level("loud")
