"""docker-compose.yml: RabbitMQ with its management UI, three workers, one shared bank."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[3]


SECRETS = {"STRONGBOX_BROKER_ADMIN_PASSWORD": "a", "STRONGBOX_WORKER_PASSWORD": "w",
           "STRONGBOX_CLIENT_PASSWORD": "c"}


def test_three_workers_share_a_bank_volume_and_the_broker() -> None:
    compose = yaml.safe_load((REPOSITORY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "management" in services["rabbitmq"]["image"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    assert len(workers) == 3
    for worker in workers.values():
        assert worker["command"][:2] == ["strongbox", "worker"]
        assert "bank:/bank" in worker["volumes"]
        url = worker["environment"]["STRONGBOX_AMQP_URL"]
        assert url.startswith("amqp://strongbox-worker:${STRONGBOX_WORKER_PASSWORD:?")
        assert url.endswith("@rabbitmq:5672/")
        assert worker["depends_on"]["broker-users"]["condition"] == (
            "service_completed_successfully")
        # the health check is the worker's own /readyz on its metrics port
        assert worker["environment"]["STRONGBOX_METRICS_PORT"] == "9464"
        assert "127.0.0.1:9464/readyz" in " ".join(worker["healthcheck"]["test"])
    assert "bank" in compose["volumes"]


def test_prometheus_scrapes_every_worker_and_loads_the_alert_rules() -> None:
    compose = yaml.safe_load((REPOSITORY / "docker-compose.yml").read_text())
    prometheus = compose["services"]["prometheus"]
    assert all(port.startswith("127.0.0.1:") for port in prometheus["ports"])
    assert "./config/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    config = yaml.safe_load((REPOSITORY / "config/prometheus/prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "strongbox"
    workers = sorted(name for name in compose["services"] if name.startswith("worker-"))
    assert job["static_configs"][0]["targets"] == [f"{w}:9464" for w in workers]
    assert config["rule_files"] == ["alerts.yml"]


@pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                    reason="promtool not installed (make test installs Debian's prometheus)")
def test_promtool_accepts_the_prometheus_config_and_the_alert_rules() -> None:
    result = subprocess.run(["promtool", "check", "config",
                             str(REPOSITORY / "config/prometheus/prometheus.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules found" in result.stdout + result.stderr


def test_no_credentials_ship_and_the_broker_listens_on_loopback_only() -> None:
    text = (REPOSITORY / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    broker = compose["services"]["rabbitmq"]
    assert broker["environment"]["RABBITMQ_DEFAULT_PASS"].startswith("${")
    assert all(port.startswith("127.0.0.1:") for port in broker["ports"])
    assert "guest" not in text and "strongbox:strongbox" not in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file() -> None:
    command = ["docker-compose", "-f", str(REPOSITORY / "docker-compose.yml"), "config",
               "--quiet"]
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                            env={**clean, **SECRETS})
    assert result.returncode == 0, result.stderr
    # without the passwords it refuses to start, naming what to set
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60,
                             check=False, env=clean)
    assert refused.returncode != 0
    assert "STRONGBOX_" in refused.stderr and "PASSWORD" in refused.stderr
