"""The short chaos run of ``make test``: 20 trials, every check passed (``make chaos``
runs 200 and prints the table)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.__main__ import run_suite
from tests.chaos.broker_node import BrokerNode

pytestmark = pytest.mark.broker

TRIALS = int(os.environ.get("STRONGBOX_CHAOS_TRIALS", "20"))


async def test_twenty_trials_of_random_faults_end_every_operation_and_lose_nothing(
        tmp_path: Path) -> None:
    if not BrokerNode.available():
        if os.environ.get("CI"):
            pytest.fail("the chaos suite needs rabbitmq-server, rabbitmqctl and root (CI)")
        pytest.skip("the chaos suite needs rabbitmq-server, rabbitmqctl and root")
    report = await run_suite(TRIALS, seed=20261206, base=tmp_path)
    assert sum(report.faults.values()) == TRIALS
    assert report.hung == 0, report.table()
    assert report.mismatches == 0, report.table()
    assert report.failures == [], report.table() + "\n" + "\n".join(report.failures)
