"""Placement, and Nova with the fake virt driver (one compute host, room for many small servers)."""

from __future__ import annotations

import shutil
import subprocess

from tests.devcloud.catalog import KeystoneAdmin
from tests.devcloud.context import CloudContext, ProcessSpec, write_ini
from tests.devcloud.readiness import wait_until
from tests.devcloud.runner import run_once
from tests.devcloud.service import CatalogEntry, Service

COMPUTE_HOST = "devcloud"
# The flavor every test can boot: FakeDriver offers 8 vCPU (x4 allocation ratio), 8000 MB and
# 500 GB, so this fits ~30 servers; SmallFakeDriver's 4 vCPU ran out after four.
TINY_FLAVOR = {"id": "devcloud-tiny", "name": "devcloud.tiny", "ram": 256, "vcpus": 1, "disk": 1}


class Placement(Service):
    name = "placement"

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("placement")
        write_ini(
            home / "placement.conf",
            {
                "DEFAULT": {"use_stderr": True},
                "placement_database": {"connection": ctx.config.database("placement")},
                "api": {"auth_strategy": "keystone"},
                "keystone_authtoken": ctx.authtoken("placement"),
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("placement")
        run_once(
            "placement-db-sync",
            [
                ctx.bin("placement-manage"),
                "--config-file",
                str(home / "placement.conf"),
                "db",
                "sync",
            ],
            env=ctx.env(),
            cwd=home,
            log_dir=ctx.config.log_dir,
        )

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        home = ctx.config.service_dir("placement")
        return [
            ctx.gunicorn(
                "placement-api",
                "placement",
                "placement.wsgi.api:application",
                ["placement-api"],
                env={"OS_PLACEMENT_CONFIG_DIR": str(home)},
                health_path="/",
            )
        ]

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return [CatalogEntry("placement", "placement", ctx.config.url("placement"))]


class Nova(Service):
    name = "nova"
    startup_timeout = 240.0

    def _conf(self, ctx: CloudContext) -> str:
        return str(ctx.config.service_dir("nova") / "nova.conf")

    def configure(self, ctx: CloudContext) -> None:
        home = ctx.config.service_dir("nova")
        # nova-api loads api-paste.ini and nova.conf from OS_NOVA_CONFIG_DIR, paste file first.
        shutil.copy(ctx.venv / "etc/nova/api-paste.ini", home / "api-paste.ini")

        def client(user: str) -> dict[str, str]:
            section = ctx.authtoken(user)
            section.pop("www_authenticate_uri")
            section.pop("service_token_roles_required")
            return {**section, "valid_interfaces": "public"}

        write_ini(
            home / "nova.conf",
            {
                "DEFAULT": {
                    "use_stderr": True,
                    "transport_url": ctx.transport_url,
                    "compute_driver": "fake.FakeDriverWithoutFakeNodes",
                    "host": COMPUTE_HOST,
                    "my_ip": ctx.config.host,
                    "state_path": str(home),
                    "instances_path": str(home / "instances"),
                    # Neutron has no agents to send "vif plugged" events.
                    "vif_plugging_is_fatal": False,
                    "vif_plugging_timeout": 0,
                },
                "api": {"auth_strategy": "keystone"},
                "api_database": {"connection": ctx.config.database("nova_api")},
                "database": {"connection": ctx.config.database("nova")},
                "wsgi": {"api_paste_config": str(home / "api-paste.ini")},
                "keystone_authtoken": ctx.authtoken("nova"),
                "placement": client("placement"),
                "neutron": client("neutron"),
                "cinder": {**client("cinder"), "os_region_name": "RegionOne"},
                "glance": {"api_servers": ctx.config.url("glance")},
                # Nova must prove it is the compute service: cinder refuses to delete an
                # attachment ("ConflictNovaUsingAttachment") and neutron to delete a server's
                # port (delete_port policy) for a plain user token.
                "service_user": {**client("nova"), "send_service_user_token": True},
                "quota": {"driver": "nova.quota.NoopQuotaDriver"},
                # Two cores are shared by everything: one worker each, not one per core.
                "conductor": {"workers": 1},
                "scheduler": {"workers": 1},
                "oslo_concurrency": {"lock_path": str(home / "locks")},
            },
        )

    def first_setup(self, ctx: CloudContext) -> None:
        manage = [ctx.bin("nova-manage"), "--config-file", self._conf(ctx)]
        home = ctx.config.service_dir("nova")
        for step, args in (
            ("nova-api-db-sync", ["api_db", "sync"]),
            (
                "nova-map-cell0",
                [
                    "cell_v2",
                    "map_cell0",
                    "--database_connection",
                    ctx.config.database("nova_cell0"),
                ],
            ),
            ("nova-create-cell1", ["cell_v2", "create_cell", "--name", "cell1"]),
            ("nova-db-sync", ["db", "sync"]),
        ):
            run_once(step, [*manage, *args], env=ctx.env(), cwd=home, log_dir=ctx.config.log_dir)

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        conf = self._conf(ctx)
        api = ctx.gunicorn(
            "nova-api",
            "nova",
            "nova.wsgi.osapi_compute:application",
            ["nova-api"],
            env={"OS_NOVA_CONFIG_DIR": str(ctx.config.service_dir("nova"))},
            health_path="/",
        )
        daemons = [
            ProcessSpec(
                name=f"nova-{daemon}", argv=[ctx.bin(f"nova-{daemon}"), "--config-file", conf]
            )
            for daemon in ("conductor", "scheduler", "compute")
        ]
        return [api, *daemons]

    def after_start(self, ctx: CloudContext) -> None:
        """Map the compute host into cell1, wait for its hypervisor, create the tiny flavor."""
        admin = KeystoneAdmin(ctx.config)
        compute = ctx.config.url("nova", "/v2.1")
        logs = str(ctx.config.log_dir / "nova-*.log")

        def compute_up() -> bool:
            services = admin.get(f"{compute}/os-services?binary=nova-compute")["services"]
            return any(service["state"] == "up" for service in services)

        def hypervisor_mapped() -> bool:
            subprocess.run(
                [
                    ctx.bin("nova-manage"),
                    "--config-file",
                    self._conf(ctx),
                    "cell_v2",
                    "discover_hosts",
                ],
                env=ctx.env(),
                capture_output=True,
                check=False,
            )
            return bool(admin.get(f"{compute}/os-hypervisors")["hypervisors"])

        wait_until(compute_up, timeout=180, service="nova", what="nova-compute up", log_file=logs)
        wait_until(
            hypervisor_mapped, timeout=120, service="nova", what="host mapped", log_file=logs
        )
        flavors = admin.get(f"{compute}/flavors?is_public=None")["flavors"]
        if not any(flavor["id"] == TINY_FLAVOR["id"] for flavor in flavors):
            admin.post(f"{compute}/flavors", {"flavor": TINY_FLAVOR})

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return [CatalogEntry("nova", "compute", ctx.config.url("nova", "/v2.1"))]
