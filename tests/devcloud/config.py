"""Where one dev cloud lives: its state directory, ports, databases and broker vhost.

Two clouds may run side by side on one machine (the `up` cloud on the well-known ports and a
pytest session's cloud on shifted ports): everything shared between them (MariaDB database
names, the RabbitMQ vhost, TCP ports) is derived from the cloud's name and port offset.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import msgspec

# The well-known ports of each API; a cloud adds its `port_offset` to every one.
BASE_PORTS = {
    "keystone": 5000,
    "glance": 9292,
    "cinder": 8776,
    "placement": 8778,
    "nova": 8774,
    "neutron": 9696,
    "manila": 8786,
    "trove": 8779,
}

ADMIN_PASSWORD = "devcloud-admin"  # a throwaway dev cloud on loopback; not a secret
DEMO_PASSWORD = "devcloud-demo"


def cache_root() -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/strongbox/devcloud`: venvs and the default state."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "strongbox" / "devcloud"


def default_state_dir() -> Path:
    return cache_root() / "state"


class CloudConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that tells one dev cloud apart from another on this machine."""

    state_dir: str
    port_offset: int = 0
    host: str = "127.0.0.1"
    db_url: str = "mysql+pymysql://root@127.0.0.1:3306"
    amqp_host: str = "127.0.0.1:5672"
    amqp_user: str = "guest"
    amqp_password: str = "guest"

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @property
    def tag(self) -> str:
        """A short name unique to this state directory, for databases and the vhost."""
        return hashlib.sha256(str(self.state.resolve()).encode()).hexdigest()[:8]

    @property
    def vhost(self) -> str:
        return f"devcloud-{self.tag}"

    def port(self, service: str) -> int:
        return BASE_PORTS[service] + self.port_offset

    def url(self, service: str, path: str = "") -> str:
        return f"http://{self.host}:{self.port(service)}{path}"

    @property
    def auth_url(self) -> str:
        return self.url("keystone", "/v3")

    def database_name(self, service: str) -> str:
        return f"devcloud_{self.tag}_{service}"

    def database(self, service: str) -> str:
        """SQLAlchemy URL of the service's own database."""
        return f"{self.db_url}/{self.database_name(service)}?charset=utf8"

    def transport_url(self, vhost: str) -> str:
        return f"rabbit://{self.amqp_user}:{self.amqp_password}@{self.amqp_host}/{vhost}"

    def service_dir(self, service: str) -> Path:
        path = self.state / service
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def log_dir(self) -> Path:
        path = self.state / "log"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"


def saved_config(state_dir: str, port_offset: int | None = None) -> CloudConfig:
    """The config a cloud in `state_dir` was brought up with (its ports above all).

    `up` saves it as `devcloud.json`; a state directory without one gets the defaults, or
    `port_offset` when given.
    """
    saved = Path(state_dir) / "devcloud.json"
    if saved.exists():
        config = msgspec.json.decode(saved.read_bytes(), type=CloudConfig)
        if port_offset is None or port_offset == config.port_offset:
            return config
        raise ValueError(
            f"the dev cloud in {state_dir} uses port offset {config.port_offset}, "
            f"not {port_offset}: take it down with --purge to change it"
        )
    return CloudConfig(state_dir=state_dir, port_offset=port_offset or 0)


def save_config(config: CloudConfig) -> None:
    config.state.mkdir(parents=True, exist_ok=True)
    (config.state / "devcloud.json").write_bytes(msgspec.json.encode(config))
