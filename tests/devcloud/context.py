"""What every service module needs to configure and start its processes."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.devcloud.config import CloudConfig

DRIVERS = Path(__file__).parent / "drivers"

Sections = Mapping[str, Mapping[str, str | int | bool]]


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of a service."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    health_path: str = ""  # on the service's own port; empty: alive is healthy
    port_service: str = ""


@dataclass(frozen=True)
class CloudContext:
    config: CloudConfig
    venv: Path
    vhost: str

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def transport_url(self) -> str:
        return self.config.transport_url(self.vhost)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of every service process: our drivers importable, no warning spam."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OS_", "PYTHON", "VIRTUAL_ENV"))
        }
        env.update(
            PYTHONPATH=str(DRIVERS),
            PYTHONWARNINGS="ignore",
            PATH=f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            VIRTUAL_ENV=str(self.venv),
        )
        env.update(extra or {})
        return env

    def gunicorn(
        self,
        name: str,
        service: str,
        app: str,
        service_argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        preimport: Sequence[str] = (),
        health_path: str = "/",
        threads: int = 4,
    ) -> ProcessSpec:
        """A WSGI API under gunicorn on the service's port, through the argv wrapper."""
        argv = [
            self.bin("gunicorn"),
            "--no-control-socket",  # gunicorn 27 shares ~/.gunicorn/gunicorn.ctl otherwise
            "--graceful-timeout",
            "2",  # the default 30 s keeps the port busy after SIGTERM
            "--timeout",
            "300",
            # No keep-alive: gunicorn drops an idle connection after 2 s, exactly the SDK's
            # polling interval, and a request sent on a connection being closed is reset.
            "--keep-alive",
            "0",
            "-b",
            f"{self.config.host}:{self.config.port(service)}",
            "-w",
            "1",
            "--threads",
            str(threads),
            "--chdir",
            str(DRIVERS),
            "devcloud_wsgi:application",
        ]
        wsgi_env = {
            "DEVCLOUD_WSGI_APP": app,
            "DEVCLOUD_WSGI_ARGV": " ".join(service_argv),
            "DEVCLOUD_WSGI_PREIMPORT": ",".join(preimport),
            **(env or {}),
        }
        return ProcessSpec(
            name=name, argv=argv, env=wsgi_env, health_path=health_path, port_service=service
        )

    def authtoken(self, user: str) -> dict[str, str]:
        """The `[keystone_authtoken]` (or any password-auth) section for a service user."""
        return {
            "www_authenticate_uri": self.config.url("keystone"),
            "auth_url": self.config.url("keystone"),
            "auth_type": "password",
            "project_domain_name": "Default",
            "user_domain_name": "Default",
            "project_name": "service",
            "username": user,
            "password": service_password(user),
            "region_name": "RegionOne",
            "service_token_roles_required": "True",
        }


def service_password(user: str) -> str:
    """The dev cloud's service users' passwords (loopback-only throwaway cloud)."""
    return f"devcloud-{user}"


def write_ini(path: Path, sections: Sections) -> Path:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign] # keep option case
    for section, options in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parser.set(section, key, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        parser.write(out)
    return path
