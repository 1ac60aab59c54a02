"""The dev cloud as a whole: bring it up (idempotently), report its status, take it down."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from tests.devcloud import catalog, infra, runner
from tests.devcloud.cinder import Cinder
from tests.devcloud.config import CloudConfig, save_config
from tests.devcloud.context import CloudContext
from tests.devcloud.errors import InfraUnavailable
from tests.devcloud.glance import Glance
from tests.devcloud.keystone import Keystone
from tests.devcloud.manila import Manila
from tests.devcloud.neutron import Neutron
from tests.devcloud.nova import Nova, Placement
from tests.devcloud.service import Service
from tests.devcloud.trove import Trove
from tests.devcloud.venv import ensure_venv

log = structlog.get_logger(__name__)

# Start order: identity first (everyone authenticates), placement before nova-compute reports.
ALL_SERVICES: tuple[Service, ...] = (
    Keystone(),
    Glance(),
    Placement(),
    Cinder(),
    Neutron(),
    Nova(),
    Manila(),
    Trove(),
)
SERVICE_NAMES = tuple(service.name for service in ALL_SERVICES)


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int
    alive: bool
    healthy: bool
    log: str


def _selected(names: Sequence[str] | None) -> list[Service]:
    wanted = set(names or SERVICE_NAMES)
    return [service for service in ALL_SERVICES if service.name in wanted]


def _context(config: CloudConfig) -> CloudContext:
    config.state.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    venv = ensure_venv()
    log.info("venv_ready", venv=str(venv), seconds=round(time.monotonic() - started, 1))
    return CloudContext(config=config, venv=venv, vhost=infra.ensure_vhost(config))


def up(config: CloudConfig, services: Sequence[str] | None = None) -> CloudContext:
    """Start every selected service that is not already running and healthy.

    Raises:
        DevCloudError: an install, setup step or service failed; the error names its log.
    """
    overall = time.monotonic()
    infra.check_reachable(config)
    save_config(config)
    ctx = _context(config)
    infra.create_databases(config, ctx.python)
    table = runner.ProcessTable(config.state)
    selected = _selected(services)
    for service in selected:
        _start_service(ctx, table, service)
        if service.name == "keystone":
            entries = [entry for other in selected for entry in other.catalog(ctx)]
            users = [other.name for other in selected if other.name != "keystone"]
            catalog.register(config, entries, users)
            catalog.write_clouds_yaml(config)
    log.info(
        "devcloud_up",
        seconds=round(time.monotonic() - overall, 1),
        clouds_yaml=str(config.clouds_yaml),
        usage=f"export OS_CLIENT_CONFIG_FILE={config.clouds_yaml} OS_CLOUD=devcloud-demo",
    )
    return ctx


def _start_service(ctx: CloudContext, table: runner.ProcessTable, service: Service) -> None:
    started = time.monotonic()
    records = table.load()
    specs = service.processes(ctx)
    if all(spec.name in records and runner.healthy(records[spec.name]) for spec in specs):
        log.info("service_reused", service=service.name, pids=[records[s.name].pid for s in specs])
        return
    service.configure(ctx)
    marker = ctx.config.service_dir(service.name) / ".first-setup-done"
    if not marker.exists():
        service.first_setup(ctx)
        marker.write_text("done\n")
    fresh = []
    for spec in specs:
        record = records.get(spec.name)
        if record is not None and runner.healthy(record):
            continue
        if record is not None:
            runner.stop(record)  # alive but unhealthy, or a stale entry
        health = ctx.config.url(spec.port_service, spec.health_path) if spec.health_path else ""
        fresh.append(
            runner.start(
                table,
                spec.name,
                spec.argv,
                log_dir=ctx.config.log_dir,
                env=ctx.env(spec.env),
                cwd=ctx.config.service_dir(service.name),
                health_url=health,
            )
        )
    for record in fresh:
        runner.wait_healthy(record, service.startup_timeout)
    service.after_start(ctx)
    log.info("service_ready", service=service.name, seconds=round(time.monotonic() - started, 1))


def status(config: CloudConfig) -> list[ProcessStatus]:
    records = runner.ProcessTable(config.state).load()
    return [
        ProcessStatus(
            name=record.name,
            pid=record.pid,
            alive=runner.is_alive(record),
            healthy=runner.healthy(record),
            log=record.log,
        )
        for record in records.values()
    ]


def down(config: CloudConfig, *, purge: bool = False, remove_state: bool = True) -> None:
    """Stop every recorded process, newest first.

    With `purge`, also drop its databases and vhost and (unless not `remove_state`, which keeps
    the logs for a post-mortem) its state directory.
    """
    table = runner.ProcessTable(config.state)
    records = list(table.load().values())
    runner.stop_all(records)
    for record in records:
        table.drop(record.name)
    if purge:
        venv = ensure_venv()
        try:
            infra.drop_databases(config, venv / "bin" / "python")
        except InfraUnavailable as error:  # teardown goes on: the state dir still goes
            log.warning("devcloud_databases_not_dropped", error=str(error))
        infra.delete_vhost(config)
        if remove_state:
            shutil.rmtree(config.state, ignore_errors=True)
        log.info("devcloud_purged", state=config.state_dir)
