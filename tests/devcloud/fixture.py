"""The dev cloud as a session-scoped pytest fixture.

By default the session starts its own cloud in a temporary state directory on shifted ports
(`STRONGBOX_DEVCLOUD_PORT_OFFSET`, default 20000, so it never collides with a cloud started by
`make devcloud-up`) and takes it down with its databases and vhost at the end.
`STRONGBOX_DEVCLOUD_STATE=<dir>` instead uses the cloud already running there (e.g. the one
`make devcloud-up` started) and leaves it running: the quick loop while writing plugins.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
import structlog

from tests.devcloud import cloud
from tests.devcloud.config import ADMIN_PASSWORD, DEMO_PASSWORD, CloudConfig, saved_config
from tests.devcloud.errors import InfraUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DevCloud:
    """A running dev cloud, as the tests see it."""

    config: CloudConfig
    services: tuple[str, ...]

    @property
    def clouds_yaml(self) -> Path:
        return self.config.clouds_yaml

    def volume_file(self, volume_id: str) -> Path:
        """The sparse file holding a Cinder volume's bytes (the dev cloud's file driver)."""
        return self.config.state / "cinder" / "volumes" / f"volume-{volume_id}"

    def error_lines(self, service: str = "", limit: int = 20) -> list[str]:
        """The last ERROR lines of a service's logs (``cinder``: every cinder-*.log; ``""``:
        every service's).

        A failure in CI is read from its output alone, after the cloud's state is gone: a
        test that fails on a cloud resource's error state puts these in its message.
        """
        lines: list[str] = []
        for path in sorted(self.config.log_dir.glob(f"{service}*.log")):
            with path.open(errors="replace") as log_file:
                lines += [f"{path.name}: {line.rstrip()[:400]}" for line in log_file
                          if " ERROR " in line]
        return lines[-limit:]

    def auth(self, user: str = "demo") -> dict[str, str]:
        """openstacksdk/keystoneauth password auth for `demo` or `admin`."""
        return {
            "auth_url": self.config.auth_url,
            "username": user,
            "password": DEMO_PASSWORD if user == "demo" else ADMIN_PASSWORD,
            "project_name": user,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def connect(self, user: str = "demo") -> Any:
        """An openstacksdk connection as `demo` (member of project demo) or `admin`.

        Deaf to `OS_CLOUD` and the other `OS_*` variables, which a test may set for the
        plugins (openstacksdk would mix that cloud's credentials into these).
        """
        return openstack.connect(region_name="RegionOne", load_envvars=False,
                                 **self.auth(user))


def use_cloud(devcloud: DevCloud, monkeypatch: pytest.MonkeyPatch,
              cloud: str = "devcloud-demo", clouds_yaml: Path | None = None) -> None:
    """The dev cloud's clouds.yaml (or ``clouds_yaml``) and one of its clouds, as an
    operator's ``OS_*`` variables say them; every other ``OS_*`` variable unset."""
    for name in [name for name in os.environ if name.startswith("OS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml or devcloud.clouds_yaml))
    monkeypatch.setenv("OS_CLOUD", cloud)


def _requested_services() -> list[str]:
    raw = os.environ.get("STRONGBOX_DEVCLOUD_SERVICES", "")
    return [name for name in raw.split(",") if name] or list(cloud.SERVICE_NAMES)


@pytest.fixture(scope="session")
def devcloud(request: pytest.FixtureRequest) -> Iterator[DevCloud]:
    """The OpenStack services (Trove emulated) on loopback for the whole session."""
    services = _requested_services()
    existing = os.environ.get("STRONGBOX_DEVCLOUD_STATE")
    if existing:
        config = saved_config(str(Path(existing).resolve()))
        if not all(row.healthy for row in cloud.status(config)) or not cloud.status(config):
            pytest.fail(f"STRONGBOX_DEVCLOUD_STATE={existing}: no healthy dev cloud runs there")
        yield DevCloud(config=config, services=tuple(services))
        return
    offset = int(os.environ.get("STRONGBOX_DEVCLOUD_PORT_OFFSET", "20000"))
    # Not pytest's tmp_path: it keeps only the last three sessions, and other sessions on this
    # machine would delete the logs of a failed run before anyone reads them.
    state = Path(tempfile.mkdtemp(prefix="strongbox-devcloud-"))
    config = CloudConfig(state_dir=str(state), port_offset=offset)
    try:
        cloud.up(config, services)
    except InfraUnavailable as error:
        cloud.down(config, purge=True)
        if os.environ.get("CI"):
            pytest.fail(f"{error} (CI is set: the dev cloud may not be skipped)")
        pytest.skip(str(error))
    except BaseException:
        log.error("devcloud_fixture_up_failed", logs=str(config.log_dir))
        cloud.down(config, purge=True, remove_state=False)  # logs stay for the post-mortem
        raise
    try:
        yield DevCloud(config=config, services=tuple(services))
    finally:
        failed = request.session.testsfailed > 0
        cloud.down(config, purge=True, remove_state=not failed)
        if failed:
            log.warning("devcloud_logs_kept", logs=str(config.log_dir))
