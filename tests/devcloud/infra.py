"""The machine's MariaDB and RabbitMQ, prepared for one dev cloud.

MariaDB rather than sqlite: Neutron's migrations cannot run on sqlite, and several nova/cinder
processes on one sqlite file log "database is locked" and answer 500 now and then. Each
service gets its own database, named after the cloud's tag.

RabbitMQ: a vhost of the cloud's own when `rabbitmqctl` can create it (two clouds never
share queues), otherwise `/`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import structlog

from tests.devcloud.config import CloudConfig
from tests.devcloud.errors import InfraUnavailable

log = structlog.get_logger(__name__)

DATABASES = (
    "keystone",
    "glance",
    "cinder",
    "placement",
    "nova_api",
    "nova",
    "nova_cell0",
    "neutron",
    "manila",
)

_SQL_SCRIPT = """
import sys, pymysql
host, port, action, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
connection = pymysql.connect(host=host, port=port, user="root", autocommit=True)
with connection.cursor() as cursor:
    for name in names:
        if action == "create":
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8")
        else:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
"""


def _mysql(config: CloudConfig, python: Path, action: str) -> None:
    names = [config.database_name(service) for service in DATABASES]
    host, _, port = config.db_url.rsplit("@", 1)[-1].partition(":")
    result = subprocess.run(
        [str(python), "-c", _SQL_SCRIPT, host, port or "3306", action, *names],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        raise InfraUnavailable(f"MariaDB at {host}:{port or 3306}", f"{action} databases: {reason}")


def check_reachable(config: CloudConfig) -> None:
    """Fail fast, naming the missing piece, when MariaDB or RabbitMQ does not answer.

    Raises:
        InfraUnavailable: no TCP answer from one of them.
    """
    mariadb = config.db_url.rsplit("@", 1)[-1]
    for what, address in (("MariaDB", mariadb), ("RabbitMQ", config.amqp_host)):
        host, _, port = address.partition(":")
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
        except OSError as error:
            raise InfraUnavailable(f"{what} at {address}", f"no answer ({error})") from error


def create_databases(config: CloudConfig, python: Path) -> None:
    """Create every service database (idempotent).

    Raises:
        InfraUnavailable: MariaDB refused or is not running.
    """
    _mysql(config, python, "create")
    log.info("databases_ready", count=len(DATABASES), prefix=config.database_name(""))


def drop_databases(config: CloudConfig, python: Path) -> None:
    """Drop every database of this cloud."""
    _mysql(config, python, "drop")
    log.info("databases_dropped", prefix=config.database_name(""))


def _rabbitmqctl(*args: str) -> bool:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return False
    result = subprocess.run([ctl, "-q", *args], capture_output=True, check=False)
    return result.returncode == 0


def ensure_vhost(config: CloudConfig) -> str:
    """The vhost the cloud's services use: its own if it can be created, else `/`."""
    marker = config.state / "vhost"
    if marker.exists():
        return marker.read_text().strip()
    vhost = config.vhost
    created = _rabbitmqctl("add_vhost", vhost) or _rabbitmqctl("list_vhosts")
    granted = created and _rabbitmqctl(
        "set_permissions", "-p", vhost, config.amqp_user, ".*", ".*", ".*"
    )
    if not granted:
        log.warning("rabbitmq_vhost_unavailable_using_root", wanted=vhost)
        vhost = ""
    marker.write_text(vhost + "\n")
    log.info("rabbitmq_vhost_ready", vhost=vhost or "/")
    return vhost


def delete_vhost(config: CloudConfig) -> None:
    marker = config.state / "vhost"
    if marker.exists() and marker.read_text().strip():
        _rabbitmqctl("delete_vhost", marker.read_text().strip())
        log.info("rabbitmq_vhost_deleted", vhost=marker.read_text().strip())
