"""What a worker counts, and the port that serves it: /metrics, /healthz, /readyz.

The registry is process-wide (as Prometheus' is), so each test reads the counters before
and after what it does and checks the difference.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.operations.engine import Engine
from actors.service.readiness import ReadinessProbe
from actors.service.status_server import StatusServer
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from banks import metrics
from plugins.checkpoint.graph import ResourceGraph
from tests.conftest import write_provider
from tests.fakes import node
from tests.helpers.directory_trees import build_awkward_tree

DIRECTORY = "Strongbox::Directory"
# every label a Strongbox metric may carry: each has a small, fixed set of values
ALLOWED_LABELS = {"operation", "status", "plugin", "activity", "outcome", "result", "kind",
                  "queue", "reason", "bank", "request", "check", "state", "version"}


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def file_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def sections(bank: Path) -> str:
    return f"plugin = directory\n[filesystem]\npath = {bank}\n[directory]\nencryption = none\n"


async def test_a_protect_and_restore_count_operations_activities_and_bytes(engine_for, tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    build_awkward_tree(source)
    size = file_bytes(source)
    counted = {
        "started": lambda: value("strongbox_operations_started_total", operation="protect"),
        "succeeded": lambda: value("strongbox_operations_finished_total", operation="protect",
                                   status="succeeded"),
        "durations": lambda: value("strongbox_activity_duration_seconds_count",
                                   plugin="directory", activity="protect_parallel",
                                   outcome="succeeded"),
        "moved_in": lambda: value("strongbox_moved_bytes_total", plugin="directory",
                                  operation="protect"),
        "moved_out": lambda: value("strongbox_moved_bytes_total", plugin="directory",
                                   operation="restore"),
        "chunked": lambda: value("strongbox_chunk_input_bytes_total"),
        "stored": lambda: value("strongbox_chunk_stored_bytes_total"),
        "new_chunks": lambda: value("strongbox_chunks_total", result="new"),
        "handled": lambda: value("strongbox_messages_handled_total", kind="ParentPreDone"),
        "events": lambda: value("strongbox_events_published_total", kind="operation_finished"),
    }
    before = {name: read() for name, read in counted.items()}
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        protected = await e.run(ProtectRequest(resources=[ResourceRef(DIRECTORY, str(source))]),
                                timeout=60)
        assert protected.status == "succeeded", protected.error
        restored = await e.run(RestoreRequest(checkpoint_id=protected.checkpoint_id,
                                              parameters={DIRECTORY: {"target": str(target)}}),
                               timeout=60)
        assert restored.status == "succeeded", restored.error
    delta = {name: read() - before[name] for name, read in counted.items()}
    assert delta["started"] == 1 and delta["succeeded"] == 1
    assert delta["durations"] == 1
    assert delta["moved_in"] == size > 0  # what the checkpoint holds, byte for byte
    assert delta["moved_out"] == size
    assert delta["chunked"] >= size  # the files, and the manifest
    assert delta["stored"] > 0
    assert delta["new_chunks"] >= 1
    assert delta["handled"] >= 1
    assert delta["events"] == 2


async def test_a_failing_activity_is_counted_with_its_plugin_and_outcome(engine_for):
    graph = ResourceGraph([node("bad")], [[]])
    before = value("strongbox_activity_duration_seconds_count", plugin="recording",
                   activity="protect_parallel", outcome="failed")
    failed_before = value("strongbox_operations_finished_total", operation="protect",
                          status="failed")
    async with engine_for("recording") as engine:
        result = await engine.run(
            ProtectRequest(resources=[],
                           parameters={"Test::Node#bad": {"fail_at": "protect_parallel"}}),
            graph=graph, timeout=30)
    assert result.status == "failed"
    assert value("strongbox_activity_duration_seconds_count", plugin="recording",
                 activity="protect_parallel", outcome="failed") == before + 1
    assert value("strongbox_operations_finished_total", operation="protect",
                 status="failed") == failed_before + 1
    assert value("strongbox_activities_running", plugin="recording") == 0


async def test_no_label_carries_an_id_and_every_name_follows_the_conventions(engine_for):
    graph = ResourceGraph([node(i) for i in range(5)], [[1, 2], [], [], [], []])
    async with engine_for("recording") as engine:
        result = await engine.run(ProtectRequest(resources=[]), graph=graph, timeout=30)
    ids = {result.operation_id, result.checkpoint_id}
    for family in metrics.REGISTRY.collect():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", family.name)
        if family.name.startswith("strongbox_"):
            assert family.documentation, family.name
            if family.type == "counter":
                assert not family.name.endswith("_total")  # the client adds it to samples
        for sample in family.samples:
            if family.name.startswith("strongbox_"):
                assert set(sample.labels) - {"le"} <= ALLOWED_LABELS, sample
            assert not ids & set(sample.labels.values()), sample


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


@pytest.fixture
async def served(engine_for):
    """An engine with its status server on a free port."""
    async with engine_for("recording") as engine:
        server = StatusServer(ReadinessProbe(engine, probe_interval=0.0), port=0)
        await server.start()
        try:
            yield engine, server.port
        finally:
            await server.close()


async def test_the_status_port_serves_health_readiness_and_metrics(served):
    engine, port = served
    await engine.run(ProtectRequest(resources=[]), graph=ResourceGraph([node(1)], [[]]),
                     timeout=30)
    assert await http_get(port, "/healthz") == (200, "ok\n")
    status, body = await http_get(port, "/readyz")
    assert status == 200, body
    assert '"ready": true' in body and '"broker"' in body and '"bank"' in body
    status, body = await http_get(port, "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert "strongbox_operations_finished" in families
    assert "strongbox_activity_duration_seconds" in families
    assert "process_resident_memory_bytes" in families
    assert families["strongbox_ready"].samples
    assert (await http_get(port, "/nowhere"))[0] == 404


async def test_a_bank_that_does_not_answer_makes_the_worker_unready(tmp_path, registry):
    bank = tmp_path / "bank"
    providers = write_provider(tmp_path / "providers", "recording", bank="filesystem",
                               sections=f"[filesystem]\npath = {bank}\n")
    async with Engine.embedded(providers, registry=registry) as engine:
        probe = ReadinessProbe(engine, probe_interval=0.0)
        assert (await probe.check()).ready
        bank_object = await engine.bank(engine.provider())

        async def unreachable(*args, **kwargs):
            raise OSError("the bank's disk went away")

        bank_object.list = unreachable  # type: ignore[method-assign]
        readiness = await probe.check()
        assert not readiness.ready
        assert "the bank's disk went away" in readiness.checks["bank"].detail
        assert readiness.checks["broker"].ok and readiness.checks["plugins"].ok
        assert value("strongbox_ready", check="bank") == 0


async def test_a_provider_file_that_does_not_load_makes_the_worker_unready(tmp_path, registry):
    providers = write_provider(tmp_path / "providers", "recording")
    (providers / "broken.conf").write_text("[provider]\nname = Broken\nid = b\nbank = nowhere\n")
    async with Engine.embedded(providers, registry=registry) as engine:
        readiness = await ReadinessProbe(engine).check()
    assert not readiness.checks["plugins"].ok
    assert "broken.conf" in readiness.checks["plugins"].detail
    assert readiness.document()["ready"] is False
