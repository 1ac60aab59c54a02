"""Manila: API, scheduler and share service with manila's own dummy driver (no real storage).

The dummy driver (shipped in the manila wheel, `manila.tests.share.drivers.dummy`) keeps no
data but runs the whole control path: shares, snapshots, shares from snapshots, share
networks, all with real state in MariaDB.
"""

from __future__ import annotations

from tests.devcloud.catalog import KeystoneAdmin
from tests.devcloud.context import CloudContext, ProcessSpec, write_ini
from tests.devcloud.readiness import wait_until
from tests.devcloud.runner import run_once
from tests.devcloud.service import CatalogEntry, Service

SHARE_TYPE = "default"
# Without a microversion manila answers as 2.0, where these paths and fields had other names.
MICROVERSION = {"X-OpenStack-Manila-API-Version": "2.65"}


class Manila(Service):
    name = "manila"

    def _conf(self, ctx: CloudContext) -> str:
        return str(ctx.config.service_dir("manila") / "manila.conf")

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("manila")
        write_ini(
            home / "manila.conf",
            {
                "DEFAULT": {
                    "use_stderr": True,
                    "transport_url": ctx.transport_url,
                    "auth_strategy": "keystone",
                    "host": "devcloud",
                    "my_ip": ctx.config.host,
                    "state_path": str(home),
                    "api_paste_config": str(ctx.venv / "etc/manila/api-paste.ini"),
                    "enabled_share_backends": "dummy",
                    "enabled_share_protocols": "NFS,CIFS",
                    "default_share_type": SHARE_TYPE,
                    "rootwrap_config": str(ctx.venv / "etc/manila/rootwrap.conf"),
                },
                "database": {"connection": ctx.config.database("manila")},
                "keystone_authtoken": ctx.authtoken("manila"),
                "dummy": {
                    "share_driver": "manila.tests.share.drivers.dummy.DummyDriver",
                    "share_backend_name": "dummy",
                    "driver_handles_share_servers": False,
                    "dummy_driver_default_driver_method_delay": 0,
                },
                "oslo_concurrency": {"lock_path": str(home / "locks")},
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        run_once(
            "manila-db-sync",
            [ctx.bin("manila-manage"), "--config-file", self._conf(ctx), "db", "sync"],
            env=ctx.env(),
            cwd=ctx.config.service_dir("manila"),
            log_dir=ctx.config.log_dir,
        )

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        conf = self._conf(ctx)
        api = ctx.gunicorn(
            "manila-api",
            "manila",
            "manila.wsgi.api:application",
            ["manila-api", "--config-file", conf],
            health_path="/",
        )
        daemons = [
            ProcessSpec(
                name=f"manila-{daemon}", argv=[ctx.bin(f"manila-{daemon}"), "--config-file", conf]
            )
            for daemon in ("scheduler", "share")
        ]
        return [api, *daemons]

    def after_start(self, ctx: CloudContext) -> None:
        """Wait for the share service and its pool; create the default share type."""
        admin = KeystoneAdmin(ctx.config)
        base = ctx.config.url("manila", f"/v2/{admin.project_id}")
        logs = str(ctx.config.log_dir / "manila-*.log")

        def share_up() -> bool:
            services = admin.get(f"{base}/services", MICROVERSION)["services"]
            return any(s["binary"] == "manila-share" and s["state"] == "up" for s in services)

        def pool_reported() -> bool:
            return bool(admin.get(f"{base}/scheduler-stats/pools", MICROVERSION)["pools"])

        wait_until(share_up, timeout=120, service="manila", what="manila-share up", log_file=logs)
        wait_until(pool_reported, timeout=120, service="manila", what="pool", log_file=logs)
        types = admin.get(f"{base}/types", MICROVERSION)["share_types"]
        if not any(share_type["name"] == SHARE_TYPE for share_type in types):
            admin.post(
                f"{base}/types",
                {
                    "share_type": {
                        "name": SHARE_TYPE,
                        "share_type_access:is_public": True,
                        "extra_specs": {
                            "driver_handles_share_servers": False,
                            "snapshot_support": True,
                            "create_share_from_snapshot_support": True,
                        },
                    }
                },
                MICROVERSION,
            )

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return [
            # The Karbor-era clients want the project in the URL; the SDK wants it without.
            CatalogEntry("manilav2", "sharev2", ctx.config.url("manila", "/v2/%(project_id)s")),
            CatalogEntry("manila", "shared-file-system", ctx.config.url("manila", "/v2")),
        ]
