"""One worker process of the chaos suite: its output copied to a log file as it comes, and
an event when it says it started, so that nobody polls the log."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

READY = b"worker_started"  # the worker's log event once it consumes


class WorkerProcess:
    """A started worker; ``await WorkerProcess.spawn(...)``, then ``await started()``."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self._ready = asyncio.Event()
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed by the copy when output ends
        self._copier = asyncio.create_task(self._copy(), name=f"log-{log_path.stem}")

    @classmethod
    async def spawn(cls, argv: list[str], *, cwd: Path, env: dict[str, str],
                    log_path: Path) -> WorkerProcess:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        return cls(process, log_path)

    async def _copy(self) -> None:
        """Copy the output to the log until the process closes it (it exited)."""
        assert self.process.stdout is not None
        tail = b""
        try:
            while chunk := await self.process.stdout.read(65536):
                self._log.write(chunk)
                self._log.flush()
                if READY in tail + chunk:  # the marker may straddle two chunks
                    self._ready.set()
                tail = chunk[-len(READY):]
        finally:
            self._log.close()

    async def started(self, timeout: float) -> None:
        """Wait until the worker logged that it started.

        Raises:
            AssertionError: with the end of its log, if it exited first.
            TimeoutError: if it said nothing of the kind in ``timeout`` seconds.
        """
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self.process.wait())
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ready, exited):
                task.cancel()
            await asyncio.gather(ready, exited, return_exceptions=True)
        if not self._ready.is_set():
            await self._copied(5)
            raise AssertionError(f"{self.log_path.stem} exited: {self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    def send_signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            self.process.send_signal(signum)

    async def wait(self, timeout: float) -> None:
        """Wait for the process to exit, then for the rest of its output.

        Raises:
            TimeoutError: if it is still running after ``timeout`` seconds.
        """
        await asyncio.wait_for(self.process.wait(), timeout)
        await self._copied(5)

    async def _copied(self, timeout: float) -> None:
        """Let the copy reach the end of the output; past ``timeout`` (a grandchild still
        holding the pipe) stop copying."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._copier), timeout)
        self._copier.cancel()
        await asyncio.gather(self._copier, return_exceptions=True)
