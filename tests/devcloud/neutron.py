"""Neutron, API only: ML2 with local/flat networks, the router plugin, our bind-anything driver."""

from __future__ import annotations

from tests.devcloud.context import CloudContext, ProcessSpec, write_ini
from tests.devcloud.runner import run_once
from tests.devcloud.service import CatalogEntry, Service


class Neutron(Service):
    name = "neutron"

    def _conf(self, ctx: CloudContext) -> str:
        return str(ctx.config.service_dir("neutron") / "neutron.conf")

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("neutron")
        write_ini(
            home / "neutron.conf",
            {
                "DEFAULT": {
                    "use_stderr": True,
                    "transport_url": ctx.transport_url,
                    "auth_strategy": "keystone",
                    "core_plugin": "ml2",
                    "service_plugins": "router",
                    "state_path": str(home),
                    "api_paste_config": str(ctx.venv / "etc/neutron/api-paste.ini"),
                    # No agents and no nova callbacks: nothing listens for them.
                    "dhcp_agent_notification": False,
                    "notify_nova_on_port_status_changes": False,
                    "notify_nova_on_port_data_changes": False,
                    "allow_overlapping_ips": True,
                },
                "database": {"connection": ctx.config.database("neutron")},
                "keystone_authtoken": ctx.authtoken("neutron"),
                "nova": {**ctx.authtoken("nova"), "interface": "public"},
                "ml2": {
                    "type_drivers": "local,flat",
                    "tenant_network_types": "local",
                    "mechanism_drivers": "devcloud_anybind",
                    "extension_drivers": "port_security",
                },
                "ml2_type_flat": {"flat_networks": "*"},
                "oslo_concurrency": {"lock_path": str(home / "locks")},
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        # On MariaDB the alembic migrations run as they should (sqlite cannot ALTER them).
        run_once(
            "neutron-db-manage",
            [ctx.bin("neutron-db-manage"), "--config-file", self._conf(ctx), "upgrade", "heads"],
            env=ctx.env(),
            cwd=ctx.config.service_dir("neutron"),
            log_dir=ctx.config.log_dir,
        )

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        return [
            ctx.gunicorn(
                "neutron-api",
                "neutron",
                "neutron.wsgi.api:application",
                ["neutron-api", "--config-file", self._conf(ctx)],
                # Port.port_forwardings is a backref declared by this model module: import it
                # and configure the mappers up front, or GET /ports fails after a (re)start.
                preimport=["neutron.db.models.port_forwarding"],
                env={"DEVCLOUD_WSGI_CONFIGURE_MAPPERS": "1"},
                health_path="/",
            )
        ]

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return [CatalogEntry("neutron", "network", ctx.config.url("neutron"))]
