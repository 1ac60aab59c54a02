"""Start, record, probe and stop the dev cloud's processes, each by its own pid.

Every service process is started in a session of its own, so its pid is also its process group
id: stopping it signals that group (gunicorn's workers, oslo.service's forked children) and
nothing else. The pid, its start time and its command line are recorded in `pids.json` in the
state directory, so `down` in another shell finds exactly these processes, and a pid reused by
an unrelated process after a reboot is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec
import psutil
import structlog

from tests.devcloud.errors import ServiceFailed

log = structlog.get_logger(__name__)

GRACE_SECONDS = 10.0

# The Popen objects of the processes this interpreter started: kept so they are reaped at stop
# (no zombies in a long pytest session) and never garbage-collected while running.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ServiceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One running process of the cloud."""

    name: str
    pid: int
    create_time: float
    argv: list[str]
    log: str
    health_url: str = ""


class ProcessTable:
    """The `pids.json` of one state directory."""

    def __init__(self, state: Path) -> None:
        self.path = state / "pids.json"

    def load(self) -> dict[str, ServiceRecord]:
        if not self.path.exists():
            return {}
        return msgspec.json.decode(self.path.read_bytes(), type=dict[str, ServiceRecord])

    def save(self, records: Mapping[str, ServiceRecord]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(dict(records))))
        tmp.replace(self.path)

    def put(self, record: ServiceRecord) -> None:
        records = self.load()
        records[record.name] = record
        self.save(records)

    def drop(self, name: str) -> None:
        records = self.load()
        records.pop(name, None)
        self.save(records)


def is_alive(record: ServiceRecord) -> bool:
    """True when the recorded pid is still the process we started (not a reused pid)."""
    try:
        process = psutil.Process(record.pid)
        return (
            abs(process.create_time() - record.create_time) < 1.0
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


def http_ok(url: str, timeout: float = 3.0) -> bool:
    """The endpoint answers with anything but a server error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def healthy(record: ServiceRecord) -> bool:
    return is_alive(record) and (not record.health_url or http_ok(record.health_url))


def start(
    table: ProcessTable,
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str],
    cwd: Path,
    health_url: str = "",
) -> ServiceRecord:
    """Start one service process with its output in `<log_dir>/<name>.log` and record it."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    _children[process.pid] = process
    record = ServiceRecord(
        name=name,
        pid=process.pid,
        create_time=psutil.Process(process.pid).create_time(),
        argv=list(argv),
        log=str(log_path),
        health_url=health_url,
    )
    table.put(record)
    log.info("service_started", service=name, pid=process.pid, log=str(log_path))
    return record


def wait_healthy(record: ServiceRecord, timeout: float) -> None:
    """Wait until the service answers its health URL (or, without one, stays alive).

    Raises:
        ServiceFailed: the process died, or did not answer within `timeout`.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(record):
            raise ServiceFailed(record.name, "exited during startup", record.log)
        if not record.health_url or http_ok(record.health_url):
            return
        time.sleep(0.5)
    raise ServiceFailed(
        record.name, f"no answer at {record.health_url} in {timeout:.0f} s", record.log
    )


def stop(record: ServiceRecord, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the service's process group, then SIGKILL it after `grace` seconds."""
    stop_all([record], grace)


def stop_all(records: Sequence[ServiceRecord], grace: float = GRACE_SECONDS) -> None:
    """Stop several services at once: SIGTERM every group, one shared grace, then SIGKILL.

    oslo.service daemons take a few seconds each to shut down; one after the other, a
    whole cloud took 33 s to stop.
    """
    running = []
    for record in records:
        if is_alive(record):
            _signal_group(record.pid, signal.SIGTERM)
            running.append(record)
        else:
            _reap(record.pid)
            log.info("service_already_stopped", service=record.name, pid=record.pid)
    deadline = time.monotonic() + grace
    while running and time.monotonic() < deadline:
        alive = _alive_groups()
        for record in [r for r in running if r.pid not in alive]:
            _reap(record.pid)
            log.info("service_stopped", service=record.name, pid=record.pid)
            running.remove(record)
        time.sleep(0.2)
    for record in running:
        log.warning("service_killed_after_grace", service=record.name, pid=record.pid, grace=grace)
        _signal_group(record.pid, signal.SIGKILL)
        _wait_gone(record.pid, 5.0)
        _reap(record.pid)
        log.info("service_stopped", service=record.name, pid=record.pid)


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _alive_groups() -> set[int]:
    """Process group ids that still have a process that is not a zombie."""
    groups = set()
    for process in psutil.process_iter(["pid"]):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                groups.add(os.getpgid(process.pid))
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return groups


def _group_alive(pgid: int) -> bool:
    return pgid in _alive_groups()


def _wait_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.1)


def run_once(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_dir: Path,
    timeout: float = 600.0,
) -> None:
    """Run one setup command (db sync, bootstrap) to completion, its output in the log.

    Raises:
        ServiceFailed: the command exited non-zero or ran past `timeout`.
    """
    log_path = log_dir / f"setup-{name}.log"
    started = time.monotonic()
    with log_path.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env),
                cwd=cwd,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ServiceFailed(name, f"setup ran past {timeout:.0f} s", str(log_path)) from error
    if result.returncode != 0:
        raise ServiceFailed(
            name, f"setup {Path(argv[0]).name} exited {result.returncode}", str(log_path)
        )
    log.info("setup_done", step=name, seconds=round(time.monotonic() - started, 1))
