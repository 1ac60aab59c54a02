"""Cinder: API, scheduler, volume (our sparse-file driver) and backup (posix driver)."""

from __future__ import annotations

from tests.devcloud.catalog import KeystoneAdmin
from tests.devcloud.context import CloudContext, ProcessSpec, write_ini
from tests.devcloud.readiness import wait_until
from tests.devcloud.runner import run_once
from tests.devcloud.service import CatalogEntry, Service


class Cinder(Service):
    name = "cinder"

    def _conf(self, ctx: CloudContext) -> str:
        return str(ctx.config.service_dir("cinder") / "cinder.conf")

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("cinder")
        conf = self._conf(ctx)
        # os-brick and cinder escalate through privsep; the default helper is `sudo
        # privsep-helper`, and there is no sudo here (we are root already).
        privsep = {"helper_command": f"{ctx.bin('privsep-helper')} --config-file {conf}"}
        write_ini(
            home / "cinder.conf",
            {
                "DEFAULT": {
                    "use_stderr": True,
                    "transport_url": ctx.transport_url,
                    "auth_strategy": "keystone",
                    "host": "devcloud",
                    "my_ip": ctx.config.host,
                    "state_path": str(home),
                    "enabled_backends": "file",
                    "default_volume_type": "__DEFAULT__",
                    "api_paste_config": str(ctx.venv / "etc/cinder/api-paste.ini"),
                    # Without it `find_volume(name)` answers 400 "Invalid filters": the
                    # default path is under /etc/cinder.
                    "resource_query_filters_file": str(
                        ctx.venv / "etc/cinder/resource_filters.json"
                    ),
                    "glance_api_servers": ctx.config.url("glance"),
                    "backup_driver": "cinder.backup.drivers.posix.PosixBackupDriver",
                    "backup_posix_path": str(home / "backups"),
                    "rootwrap_config": str(ctx.venv / "etc/cinder/rootwrap.conf"),
                    "periodic_interval": 10,
                    # cinder-backup asks cinder-volume over RPC to attach the volume it
                    # restores into, and a timed-out attach leaves the volume
                    # 'error_restoring'. The round trip restores six volumes at once on a
                    # busy 2-core machine, where oslo.messaging's 60 s default is short
                    # (one CI run saw a restore end so; its cause was not in its output).
                    "rpc_response_timeout": 300,
                },
                "database": {"connection": ctx.config.database("cinder")},
                "keystone_authtoken": ctx.authtoken("cinder"),
                "nova": {**ctx.authtoken("nova"), "interface": "public"},
                "file": {
                    "volume_driver": "devcloud_file_volume.FileVolumeDriver",
                    "volume_backend_name": "file",
                    "devcloud_volume_dir": str(home / "volumes"),
                },
                "coordination": {"backend_url": f"file://{home / 'coordination'}"},
                "oslo_concurrency": {"lock_path": str(home / "locks")},
                "privsep_osbrick": privsep,
                "cinder_sys_admin": privsep,
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        run_once(
            "cinder-db-sync",
            [ctx.bin("cinder-manage"), "--config-file", self._conf(ctx), "db", "sync"],
            env=ctx.env(),
            cwd=ctx.config.service_dir("cinder"),
            log_dir=ctx.config.log_dir,
        )

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        conf = self._conf(ctx)
        api = ctx.gunicorn(
            "cinder-api",
            "cinder",
            "cinder.wsgi.api:application",
            ["cinder-api", "--config-file", conf],
            health_path="/",
        )
        daemons = [
            ProcessSpec(
                name=f"cinder-{daemon}", argv=[ctx.bin(f"cinder-{daemon}"), "--config-file", conf]
            )
            for daemon in ("scheduler", "volume", "backup")
        ]
        return [api, *daemons]

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        url = ctx.config.url("cinder", "/v3/%(project_id)s")
        return [
            CatalogEntry("cinderv3", "volumev3", url),
            CatalogEntry("cinder", "block-storage", url),
        ]

    def after_start(self, ctx: CloudContext) -> None:
        """Wait until scheduler, volume and backup report up and the pool has capacity."""
        admin = KeystoneAdmin(ctx.config)
        base = ctx.config.url("cinder", f"/v3/{admin.project_id}")

        def services_up() -> bool:
            services = admin.get(f"{base}/os-services")["services"]
            up = {s["binary"] for s in services if s["state"] == "up"}
            return {"cinder-scheduler", "cinder-volume", "cinder-backup"} <= up

        def pool_reported() -> bool:
            return bool(admin.get(f"{base}/scheduler-stats/get_pools")["pools"])

        logs = str(ctx.config.log_dir / "cinder-*.log")
        wait_until(services_up, timeout=120, service="cinder", what="services up", log_file=logs)
        wait_until(
            pool_reported, timeout=120, service="cinder", what="pool reported", log_file=logs
        )
