"""Start and stop one Swift cluster (tests/swift_server/launcher.py) as a child process.

Eventlet monkeypatches the process it runs in, so Swift never runs inside pytest: it is a
subprocess of the Swift virtualenv's python, found ready by the line it prints, and
stopped by its own process id.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from tests.swift_server.install import SWIFT_VERSION, ensure_swift

log = structlog.get_logger(__name__)

LAUNCHER = Path(__file__).with_name("launcher.py")
READY = "STRONGBOX_SWIFT_READY"
KEYSTONE_ENV = "STRONGBOX_SWIFT_KEYSTONE"  # the launcher's keystone settings, as JSON
START_TIMEOUT = 60.0


class SwiftServerError(RuntimeError):
    """The Swift cluster could not be installed or did not become ready."""


@dataclass(frozen=True)
class SwiftEndpoint:
    """Where the cluster answers and the tempauth account to use (test credentials)."""

    auth_url: str  # tempauth v1: GET with X-Auth-User/X-Auth-Key
    storage_url: str  # the account "test"
    s3_endpoint: str  # the same proxy port, through the s3api middleware
    user: str
    key: str
    # a cluster started with keystone settings: its object-store URL for the catalog
    keystone_storage_url: str = ""

    def __repr__(self) -> str:
        return f"SwiftEndpoint(auth_url={self.auth_url!r}, user={self.user!r}, key='***')"


class SwiftServer:
    """One in-process Swift cluster in a child process; ``start()`` then ``stop()``."""

    def __init__(self, keystone: Mapping[str, str] | None = None,
                 parent: Path | None = None) -> None:
        """``keystone``: the ``[filter:authtoken]`` options of a service user (auth_url,
        username, password, ...), for a cluster that authenticates through Keystone.
        ``parent``: where the cluster's directory (rings, object data) goes; the temp
        directory by default (a tmpfs makes every write several times faster: Swift syncs
        each object and container update to disk)."""
        self.keystone = dict(keystone) if keystone is not None else None
        self.parent = parent
        self.endpoint: SwiftEndpoint | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process else None

    def start(self, timeout: float = START_TIMEOUT) -> SwiftEndpoint:
        """Install Swift if missing, start the cluster, wait until it is ready.

        Raises:
            SwiftInstallError: if the pinned Swift cannot be installed.
            SwiftServerError: if the cluster exits or is not ready within ``timeout``.
        """
        python, source = ensure_swift()
        self._workdir = Path(tempfile.mkdtemp(prefix="strongbox-swift-", dir=self.parent))
        stderr_path = self._workdir / "swift.log"
        started = time.monotonic()
        with stderr_path.open("wb") as stderr:
            # in the environment, not argv: ps would show a password given as an argument
            keystone = {KEYSTONE_ENV: json.dumps(self.keystone)} if self.keystone else {}
            self._process = subprocess.Popen(
                [str(python), str(LAUNCHER), str(source)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                # Swift's mkdtemp (rings, swift.conf, the object data) lands here.
                env={**os.environ, "TMPDIR": str(self._workdir), **keystone},
            )
        try:
            ready = self._wait_ready(started + timeout, stderr_path)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self.endpoint = SwiftEndpoint(
            auth_url=ready["auth_url"],
            storage_url=ready["storage_url"],
            s3_endpoint=ready["s3_endpoint"],
            user=ready["user"],
            key=ready["key"],
            keystone_storage_url=ready["keystone_storage_url"] if self.keystone else "",
        )
        log.info(
            "swift_server_started",
            version=SWIFT_VERSION,
            pid=self.pid,
            endpoint=self.endpoint.s3_endpoint,
            seconds=round(self.startup_seconds, 2),
        )
        return self.endpoint

    def _wait_ready(self, deadline: float, stderr_path: Path) -> dict[str, str]:
        assert self._process is not None and self._process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ)
        buffered = b""
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                if not selector.select(remaining):
                    continue
                data = os.read(self._process.stdout.fileno(), 65536)
                if not data:
                    break  # the launcher exited before it was ready
                buffered += data
                for line in buffered.decode(errors="replace").splitlines():
                    if line.startswith(READY + " "):
                        ready: dict[str, str] = json.loads(line[len(READY) + 1 :])
                        return ready
        finally:
            selector.close()
        tail = stderr_path.read_text(errors="replace")[-3000:]
        code = self._process.poll()
        state = f"exited with status {code}" if code is not None else "not ready in time"
        raise SwiftServerError(f"swift {SWIFT_VERSION} in-process cluster {state}:\n{tail}")

    def stop(self) -> None:
        """Stop the child by its process id and remove its storage; idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
            log.info("swift_server_stopped", pid=process.pid)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> SwiftEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
