"""Keystone: fernet tokens, MariaDB, gunicorn; bootstraps the admin user and RegionOne."""

from __future__ import annotations

from tests.devcloud.config import ADMIN_PASSWORD
from tests.devcloud.context import CloudContext, ProcessSpec, write_ini
from tests.devcloud.runner import run_once
from tests.devcloud.service import CatalogEntry, Service


class Keystone(Service):
    name = "keystone"

    def _conf(self, ctx: CloudContext) -> str:
        return str(ctx.config.service_dir("keystone") / "keystone.conf")

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("keystone")
        write_ini(
            home / "keystone.conf",
            {
                "DEFAULT": {"use_stderr": True},
                "database": {"connection": ctx.config.database("keystone")},
                "token": {"provider": "fernet"},
                "fernet_tokens": {"key_repository": str(home / "fernet-keys")},
                "fernet_receipts": {"key_repository": str(home / "fernet-keys")},
                "credential": {"key_repository": str(home / "credential-keys")},
                "cache": {"enabled": False},
                # bcrypt at its minimum cost: every password auth otherwise costs ~0.3 s of CPU
                "identity": {"password_hash_rounds": 4},
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        conf = self._conf(ctx)
        manage = [ctx.bin("keystone-manage"), "--config-file", conf]
        home = ctx.config.service_dir("keystone")
        for step, args in (
            ("keystone-db-sync", ["db_sync"]),
            (
                "keystone-fernet",
                ["fernet_setup", "--keystone-user", "root", "--keystone-group", "root"],
            ),
            (
                "keystone-credential",
                ["credential_setup", "--keystone-user", "root", "--keystone-group", "root"],
            ),
            (
                "keystone-bootstrap",
                [
                    "bootstrap",
                    "--bootstrap-password",
                    ADMIN_PASSWORD,
                    "--bootstrap-admin-url",
                    ctx.config.url("keystone", "/v3/"),
                    "--bootstrap-public-url",
                    ctx.config.url("keystone", "/v3/"),
                    "--bootstrap-internal-url",
                    ctx.config.url("keystone", "/v3/"),
                    "--bootstrap-region-id",
                    "RegionOne",
                ],
            ),
        ):
            run_once(step, [*manage, *args], env=ctx.env(), cwd=home, log_dir=ctx.config.log_dir)

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        return [
            ctx.gunicorn(
                "keystone",
                "keystone",
                "keystone.wsgi.api:application",
                ["keystone"],
                env={"OS_KEYSTONE_CONFIG_FILES": self._conf(ctx)},
                health_path="/v3",
            )
        ]

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return []  # bootstrap registered the identity endpoints
