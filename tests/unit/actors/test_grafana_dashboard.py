"""docs/grafana-dashboard.json: every panel asks Prometheus for metrics a worker exports,
in PromQL that Prometheus accepts (checked offline by promtool; the integration test
``test_operator_endpoints`` also runs every query against a real Prometheus)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from banks import metrics
from tests.helpers.dashboard import DASHBOARD, dashboard_queries


def exported_names() -> set[str]:
    names = {"up"}
    for family in metrics.REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def test_every_panel_queries_metrics_the_workers_export() -> None:
    queries = dashboard_queries()
    assert len(queries) > 30
    exported = exported_names()
    for title, expr in queries:
        used = set(re.findall(r"\b((?:strongbox|process)_[a-z_]+|up)\b(?=\s*[{\[(]|\s*$|\))",
                              expr))
        assert used, (title, expr)
        assert used <= exported, (title, used - exported)
        assert '$' not in expr, (title, expr)


def test_the_panels_cover_what_an_operator_asks_first() -> None:
    text = DASHBOARD.read_text()
    for name in ("strongbox_operations_finished_total", "strongbox_activity_duration_seconds",
                 "strongbox_moved_bytes_total", "strongbox_chunk_stored_bytes_total",
                 "strongbox_actors_alive", "strongbox_messages_dead_lettered_total",
                 "strongbox_lease_renewals_total", "strongbox_reaper_runs_total",
                 "strongbox_requests_rejected_total", "strongbox_bank_retries_total",
                 "strongbox_ready"):
        assert name in text, name


@pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                    reason="promtool not installed (make test installs Debian's prometheus)")
def test_promtool_parses_every_panel_query(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr}
        for i, (_, expr) in enumerate(dashboard_queries())]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
