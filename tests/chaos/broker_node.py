"""A RabbitMQ node of the chaos suite's own, on other ports, so that restarting it (a fault
under test) disturbs nothing else on the machine.

It runs as the ``rabbitmq`` user (``rabbitmq-server`` switches to it), shares that user's
Erlang cookie with ``rabbitmqctl``, keeps its data in a directory of its own, and is
started, restarted and removed by the suite. It needs the Debian ``rabbitmq-server``
package and root, as the CI machine and the developers' have.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

RABBITMQ_USER = "rabbitmq"
READY = b"Starting broker... completed"  # what rabbitmq-server prints once it serves


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class BrokerNode:
    """``chaos<port>@localhost`` listening on 127.0.0.1:``port`` (a free one by default, so
    that two runs on one machine never meet)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.dist_port = _free_port()
        self.name = f"chaos{self.port}@localhost"
        self.root = Path(tempfile.mkdtemp(prefix="strongbox-chaos-broker-"))
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._output: _Output | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @staticmethod
    def available() -> bool:
        """Whether a private node can run here (the server, rabbitmqctl, root)."""
        return bool(shutil.which("rabbitmq-server") and shutil.which("rabbitmqctl")
                    and os.geteuid() == 0)

    def start(self, timeout: float = 90.0) -> None:
        """Start the node and wait until it serves."""
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
            "vm_memory_high_watermark.relative = 0.2\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        shutil.chown(self.root, RABBITMQ_USER, RABBITMQ_USER)
        for path in self.root.iterdir():
            shutil.chown(path, RABBITMQ_USER, RABBITMQ_USER)
        env = {**os.environ, "RABBITMQ_NODENAME": self.name,
               "RABBITMQ_DIST_PORT": str(self.dist_port),
               "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
               "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.root / "log"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins")}
        self._process = subprocess.Popen(["rabbitmq-server"], env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        assert self._process.stdout is not None
        self._output = _Output(self._process.stdout, self.root / "server.out")
        if not self._output.settled.wait(timeout):
            raise RuntimeError(f"{self.name} did not start in {timeout} s: {self._tail()}")
        if not self._output.ready:
            raise RuntimeError(f"{self.name} exited: {self._tail()}")

    def stop(self) -> None:
        """Stop the node (the broker goes away: a fault when workers are connected)."""
        if self._process is None:
            return
        self._ctl("stop", timeout=60, check=False)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self, down_for: float = 1.0) -> None:
        """Stop, stay down ``down_for`` seconds, start again."""
        self.stop()
        time.sleep(down_for)  # the fault itself: the broker down (run in a thread)
        self.start()
        self.restarts += 1

    def remove(self) -> None:
        """Stop the node and delete its data."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _ctl(self, *args: str, timeout: float, check: bool = True) -> bool:
        result = subprocess.run(["rabbitmqctl", "-n", self.name, "-q", *args],
                                capture_output=True, timeout=timeout + 30, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.name} failed: "
                               f"{result.stderr.decode(errors='replace')[-500:]}")
        return result.returncode == 0

    def _tail(self) -> str:
        path = self.root / "server.out"
        return path.read_bytes()[-2000:].decode(errors="replace") if path.exists() else ""


class _Output:
    """The node's output, copied to its log by a thread as it comes; ``settled`` is set
    when the node says it serves (``ready``) or its output ends (it exited)."""

    def __init__(self, stream: IO[bytes], log_path: Path) -> None:
        self.ready = False
        self.settled = threading.Event()
        self._stream = stream
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed when the copy ends
        self._thread = threading.Thread(target=self._copy, name=f"copy {log_path}", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        try:
            for line in self._stream:
                self._log.write(line)
                self._log.flush()
                if not self.ready and READY in line:
                    self.ready = True
                    self.settled.set()
        except (OSError, ValueError):  # the stream was closed under us: the node is gone
            pass
        finally:
            self.settled.set()
            self._log.close()

    def close(self, timeout: float = 10.0) -> None:
        """Wait for the copy to reach the end of the output (the node stopped)."""
        self._thread.join(timeout)
        if not self._thread.is_alive():  # else a child still holds the pipe: leave it be
            self._stream.close()
