"""The seed-style plugin pair over RabbitMQ: two real worker processes, the CLI as client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import broker
from tests.cluster.cluster import REPOSITORY, Cluster
from tests.seed_plugin.journal import PROJECT, SITE, check_journal, provider_file

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


class SeedCluster(Cluster):
    """Workers that find the seed plugin's entry points and write its journal."""

    def __init__(self, url: str, root: Path) -> None:
        super().__init__(url, broker.new_namespace(), root)
        (self.providers / "cluster.conf").unlink()
        provider_file(self.providers, self.bank_path)
        self.journal = root / "journal.txt"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(SITE)]),
                    "SEED_EXAMPLE_JOURNAL": str(self.journal)}

    def start_worker(self, url: str | None = None) -> str:
        """As ``Cluster.start_worker``, with the seed package on the worker's path."""
        self._started += 1
        worker_id = f"w{self._started}"
        log = open(self.root / f"{worker_id}.log", "wb")  # noqa: SIM115 - lives with the process
        self._logs.append(log)
        self.workers[worker_id] = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.worker_main", "--amqp-url", url or self.url,
             "--namespace", self.namespace, "--providers-dir", str(self.providers),
             "--worker-id", worker_id, "--shards", str(broker.TEST_SHARDS)],
            cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        return worker_id


def cli(running: SeedCluster, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "actors.cli.main", "--providers-dir", str(running.providers),
         "--amqp-url", running.url, "--namespace", running.namespace, "--json", *args],
        capture_output=True, text=True, env=running.env, cwd=REPOSITORY, timeout=120,
        check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout.splitlines()[-1])


async def test_a_seed_style_plugin_pair_runs_over_rabbitmq_on_two_workers(
        amqp_url: str, tmp_path: Path) -> None:
    running = SeedCluster(amqp_url, tmp_path)
    try:
        for _ in range(2):
            running.start_worker()
        await running.connect()
        await running.wait_ready()
        await running.wait_balanced()
        params = [arg for t in ("Project", "Server", "Volume")
                  for arg in ("--param", f"SeedExample::{t}.tag=weekly")]
        protected = await asyncio.to_thread(cli, running, "protect", f"{PROJECT}#p1",
                                            "--wait", *params)
        assert protected["status"] == "succeeded", protected
        checkpoint = protected["checkpoint_id"]
        pids = check_journal(running.journal, "protect")
        restored = await asyncio.to_thread(cli, running, "restore", checkpoint, "--wait")
        assert restored["status"] == "succeeded", restored
        pids |= check_journal(running.journal, "restore")
        deleted = await asyncio.to_thread(cli, running, "delete", checkpoint, "--wait")
        assert deleted["status"] == "succeeded", deleted
        pids |= check_journal(running.journal, "delete")
        assert len(pids) == 2, f"activities ran in {pids}, not on both workers"
    finally:
        await running.close()
