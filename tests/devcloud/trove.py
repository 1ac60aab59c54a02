"""Trove, emulated: `emulators/trove.py` as one process, in the catalog as `database`.

Trove's own fake mode cannot run (docs/devcloud.md says where it breaks), so the dev cloud
serves the part of Trove's API the database plugin needs from a small stateful emulator that
authenticates every request against the real Keystone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.devcloud.context import CloudContext, ProcessSpec
from tests.devcloud.service import CatalogEntry, Service

REPO_ROOT = Path(__file__).resolve().parents[2]


class Trove(Service):
    name = "trove"

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        argv = [
            sys.executable,
            "-m",
            "tests.devcloud.emulators.trove",
            "--port",
            str(ctx.config.port("trove")),
            "--host",
            ctx.config.host,
            "--state",
            str(ctx.config.service_dir("trove") / "trove-state.json"),
            "--auth-url",
            ctx.config.auth_url,
        ]
        return [
            ProcessSpec(
                name="trove-emulator",
                argv=argv,
                env={"PYTHONPATH": str(REPO_ROOT)},
                health_path="/",
                port_service="trove",
            )
        ]

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return [CatalogEntry("trove", "database", ctx.config.url("trove", "/v1.0/%(project_id)s"))]
