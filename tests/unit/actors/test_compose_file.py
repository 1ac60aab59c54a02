"""docker-compose.yml: RabbitMQ with its management UI, three workers, one shared bank."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[3]


def test_three_workers_share_a_bank_volume_and_the_broker() -> None:
    compose = yaml.safe_load((REPOSITORY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "management" in services["rabbitmq"]["image"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    assert len(workers) == 3
    for worker in workers.values():
        assert worker["command"][:2] == ["strongbox", "worker"]
        assert "bank:/bank" in worker["volumes"]
        assert worker["environment"]["STRONGBOX_AMQP_URL"].endswith("@rabbitmq:5672/")
        assert worker["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert "bank" in compose["volumes"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(["docker-compose", "-f", str(REPOSITORY / "docker-compose.yml"),
                             "config", "--quiet"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
