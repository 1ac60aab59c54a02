"""Glance: image bytes in a file store under the state directory, MariaDB, gunicorn."""

from __future__ import annotations

import shutil

from tests.devcloud.context import CloudContext, ProcessSpec, write_ini
from tests.devcloud.runner import run_once
from tests.devcloud.service import CatalogEntry, Service


class Glance(Service):
    name = "glance"

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("glance")
        etc = home / "etc"
        store = home / "images"
        for directory in (etc, store, home / "staging", home / "tasks"):
            directory.mkdir(parents=True, exist_ok=True)
        # Glance finds its paste file by name next to glance-api.conf.
        shutil.copy(ctx.venv / "etc/glance/glance-api-paste.ini", etc / "glance-api-paste.ini")
        write_ini(
            etc / "glance-api.conf",
            {
                "DEFAULT": {
                    "use_stderr": True,
                    "enabled_backends": "fs:file",
                    "worker_self_reference_url": ctx.config.url("glance"),
                },
                "database": {"connection": ctx.config.database("glance")},
                "glance_store": {"default_backend": "fs"},
                "fs": {"filesystem_store_datadir": str(store)},
                "os_glance_staging_store": {"filesystem_store_datadir": str(home / "staging")},
                "os_glance_tasks_store": {"filesystem_store_datadir": str(home / "tasks")},
                "paste_deploy": {"flavor": "keystone"},
                "keystone_authtoken": ctx.authtoken("glance"),
                "oslo_concurrency": {"lock_path": str(home / "locks")},
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        conf = ctx.config.service_dir("glance") / "etc/glance-api.conf"
        run_once(
            "glance-db-sync",
            [ctx.bin("glance-manage"), "--config-file", str(conf), "db_sync"],
            env=ctx.env(),
            cwd=ctx.config.service_dir("glance"),
            log_dir=ctx.config.log_dir,
        )

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        etc = ctx.config.service_dir("glance") / "etc"
        return [
            ctx.gunicorn(
                "glance-api",
                "glance",
                "glance.wsgi.api:application",
                ["glance-api"],
                env={"OS_GLANCE_CONFIG_DIR": str(etc)},
                health_path="/healthcheck",
            )
        ]

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return [CatalogEntry("glance", "image", ctx.config.url("glance"))]
