"""What an operator sees of real workers: a real Prometheus scraping them while they
protect, and /readyz following the broker connection.

Prometheus is Debian's ``prometheus`` package (``make test`` installs it), started here on
a loopback port with a generated configuration that scrapes the workers every second; the
test asks it, through its HTTP API, what it scraped. Without the binary the test skips,
except under CI, where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import pytest

from actors.wire.requests import ProtectRequest, ResourceRef
from bench.synthetic import PROJECT, SERVER, VOLUME
from plugins.local.directory.manifest import SAVED_INFO_KEY
from plugins.local.directory.protection import DirectorySavedInfo
from tests import broker
from tests.cluster.cluster import PROVIDER_ID, cluster
from tests.cluster.plugin import PLUGIN_NAME
from tests.cluster.tcp_proxy import TcpProxy
from tests.helpers.dashboard import dashboard_queries

pytestmark = pytest.mark.broker

DIRECTORY = "Strongbox::Directory"
SERVERS = 4  # the synthetic project: 1 + 4 servers + 8 volumes, for the cluster plugin


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        reason = "Debian's prometheus is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI may not skip it")
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


async def until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` (run in a thread) until it returns something true."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


def ready(port: int) -> tuple[int, dict[str, Any]]:
    status, body = http_get(f"http://127.0.0.1:{port}/readyz")
    return status, json.loads(body) if body else {}


def start_prometheus(binary: str, root: Path, targets: list[int]
                     ) -> tuple[subprocess.Popen[bytes], BinaryIO, str]:
    """Start Prometheus on a free loopback port, scraping ``targets`` every second."""
    root.mkdir()
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: strongbox\n    static_configs:\n"
        f"      - targets: [{', '.join(repr(f'127.0.0.1:{p}') for p in targets)}]\n")
    port = free_port()
    log = open(root / "prometheus.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT)
    return process, log, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def prometheus(binary: str, root: Path, targets: list[int]) -> AsyncIterator[str]:
    """A Prometheus server scraping ``targets`` every second; yields its base URL."""
    process, log, url = await asyncio.to_thread(start_prometheus, binary, root, targets)
    try:
        await until(lambda: process.poll() is not None or http_get(f"{url}/-/ready")[0] == 200,
                    "Prometheus to start")
        assert process.poll() is None, (root / "prometheus.log").read_text()[-3000:]
        yield url
    finally:
        await asyncio.to_thread(stop, process)
        log.close()


def query(prometheus_url: str, promql: str) -> dict[str, float]:
    """An instant query: each series' labels (as sorted JSON) -> its value."""
    status, body = http_get(f"{prometheus_url}/api/v1/query?"
                            + urllib.parse.urlencode({"query": promql}))
    assert status == 200, body
    answer = json.loads(body)
    return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
            for r in answer["data"]["result"]}


def by(label: str, series: dict[str, float]) -> dict[str, float]:
    return {json.loads(key).get(label, ""): value for key, value in series.items()}


def write_provider(providers: Path, bank: Path) -> None:
    """The directory plugin and the cluster test plugin, one bank: two plugins at work."""
    (providers / "cluster.conf").write_text(
        f"[provider]\nname = Cluster\nid = {PROVIDER_ID}\ndescription = operator tests\n"
        f"bank = filesystem\nplugin = directory\nplugin = {PLUGIN_NAME}\n\n"
        f"[filesystem]\npath = {bank}\n\n[directory]\nencryption = none\n")


def build_data(root: Path) -> int:
    """A tree of a few files; return the bytes in it."""
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "big").write_bytes(os.urandom(3 << 20))
    for i in range(40):
        (root / "sub" / f"small-{i}").write_bytes(os.urandom(1000 + i))
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


async def test_prometheus_scrapes_two_workers_through_a_protect(
        amqp_url: str, prometheus_binary: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    size = await asyncio.to_thread(build_data, data)
    ports = [free_port(), free_port()]
    async with cluster(amqp_url, tmp_path / "cluster", 0) as running:
        write_provider(running.providers, running.bank_path)
        for port in ports:
            running.start_worker(metrics_port=port)
        await running.wait_ready()
        await running.wait_balanced()
        for port in ports:
            assert (await until(lambda p=port: ready(p)[0] == 200 and ready(p),
                                "the worker to be ready"))[1]["ready"] is True
        async with prometheus(prometheus_binary, tmp_path / "prometheus", ports) as url:
            await until(lambda: query(url, 'sum(up{job="strongbox"})') == {"{}": 2.0},
                        "both workers scraped")
            finished = await running.run(ProtectRequest(
                resources=[ResourceRef(DIRECTORY, str(data)), ResourceRef(PROJECT, str(SERVERS))],
                parameters={t: {"delay": 0.01} for t in (PROJECT, SERVER, VOLUME)}),
                timeout=120)
            assert finished.status == "succeeded", finished.error

            succeeded = 'sum(strongbox_operations_finished_total{operation="protect",' \
                        'status="succeeded"})'
            assert await until(lambda: query(url, succeeded) == {"{}": 1.0},
                               "the protect counted as succeeded")
            # each worker's last counts reach Prometheus at its next scrape (1 s)
            await asyncio.sleep(2.5)
            durations = by("plugin", query(url, 'sum by (plugin) (strongbox_activity_duration_'
                                                'seconds_count{activity=~"protect_.*",'
                                                'outcome="succeeded"})'))
            assert durations[PLUGIN_NAME] == 1 + SERVERS * 3  # one parallel per resource
            assert durations["directory"] >= 1
            seconds = by("plugin", query(url, "sum by (plugin) (strongbox_activity_duration_"
                                              "seconds_sum)"))
            assert seconds[PLUGIN_NAME] > 0 and seconds["directory"] > 0
            moved = query(url, 'sum(strongbox_moved_bytes_total{operation="protect"})')
            # the checkpoint's size, as the directory plugin recorded it
            store = await running.store()
            checkpoint = await store.open(finished.checkpoint_id, operation_id="test",
                                          writable=False)
            graph = await store.read_graph(finished.checkpoint_id)
            directory = next(r for r in graph.nodes if r.type == DIRECTORY)
            saved = msgspec.json.decode(
                await checkpoint.bank_section(directory).get(SAVED_INFO_KEY),
                type=DirectorySavedInfo)
            assert moved == {"{}": float(size)}
            assert saved.total_bytes == size
            stored = query(url, "sum(strongbox_chunk_stored_bytes_total)")["{}"]
            assert stored > 0
            # both workers took part, each scraped as its own instance
            handled = query(url, "sum by (instance) (strongbox_messages_handled_total)")
            assert len(handled) == 2 and all(v > 0 for v in handled.values())
            # no series carries an operation or checkpoint id
            every = query(url, '{__name__=~"strongbox_.*"}')
            assert not any(finished.operation_id in key or finished.checkpoint_id in key
                           for key in every)
            # every panel of the Grafana dashboard runs on what Prometheus scraped
            answered = {title: query(url, expr) for title, expr in dashboard_queries()}
            for title in ("Operations succeeded (range)", "Bytes moved (range)",
                          "Activity time spent by plugin", "Workers ready"):
                assert answered[title], title


async def test_readyz_turns_unready_while_the_broker_is_cut_off_and_ready_after(
        amqp_url: str, tmp_path: Path) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    through_proxy = amqp_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    assert through_proxy != amqp_url, "the test broker URL must name 127.0.0.1:5672"
    port = free_port()
    try:
        async with cluster(amqp_url, tmp_path, 0) as running:
            running.start_worker(through_proxy, metrics_port=port)
            await running.wait_ready()
            await until(lambda: ready(port)[0] == 200, "the worker to be ready")

            assert proxy.block() > 0, "the worker had no connection through the proxy"
            _, body = await until(lambda: (answer := ready(port))[0] == 503 and answer,
                                  "/readyz to say 503", timeout=30)
            assert body["ready"] is False
            assert body["checks"]["broker"]["ok"] is False
            assert body["checks"]["bank"]["ok"] and body["checks"]["plugins"]["ok"]
            assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, b"ok\n")
            metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1].decode()
            assert "strongbox_broker_connected 0.0" in metrics

            proxy.unblock()
            _status, body = await until(lambda: (answer := ready(port))[0] == 200 and answer,
                                       "/readyz to say 200 again", timeout=60)
            assert body["checks"]["broker"]["ok"] is True
            metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1].decode()
            assert "strongbox_broker_connected 1.0" in metrics
            assert "strongbox_broker_connection_losses_total 1.0" in metrics
    finally:
        await proxy.close()
