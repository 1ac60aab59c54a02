"""The chaos suite's object-store bank: the test Swift cluster's S3 API, reached by the
workers through a fault proxy that answers 503 for a while (the ``bank_503`` fault).

One Swift cluster per suite run, one bucket per run, its data on a tmpfs of its own where
the suite may mount one (Swift syncs every object and container update: on this machine's
disk a put took 184 ms, on tmpfs 47 ms, and the cluster starts in 2 s instead of 8). The
suite itself reads the bucket directly, past the proxy, so that its checks never meet the
fault. If Swift cannot be installed or started here, the fault is not available (the
trials draw another, and the table says so).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from banks.s3.bank import S3Bank
from tests.helpers.fault_proxy import Action, FaultProxy
from tests.swift_server.install import SwiftInstallError
from tests.swift_server.server import SwiftEndpoint, SwiftServer, SwiftServerError

log = structlog.get_logger(__name__)

S3_PROVIDER_ID = "chaos-s3-provider"
STORE_TMPFS = "512m"  # three replicas of a few trials' data, most of it deleted again


class ObjectStore:
    """``await ObjectStore.start()``; ``available`` says whether it runs."""

    def __init__(self) -> None:
        self.available = False
        self.why_not = ""
        self.bucket = f"chaos-{uuid.uuid4().hex[:10]}"
        self._data = Path(tempfile.mkdtemp(prefix="strongbox-chaos-swift-"))
        self._tmpfs = False
        self._server = SwiftServer(parent=self._data)
        self._endpoint: SwiftEndpoint | None = None
        self._proxy: FaultProxy | None = None
        self._bank: S3Bank | None = None
        self._failing_until = 0.0

    async def start(self) -> None:
        """Start Swift and the proxy, and create the bucket (before any worker opens it)."""
        mounted = await asyncio.to_thread(
            subprocess.run, ["mount", "-t", "tmpfs", "-o", f"size={STORE_TMPFS}", "tmpfs",
                             str(self._data)], capture_output=True, check=False)
        self._tmpfs = mounted.returncode == 0  # else on disk: slower, no less correct
        try:
            self._endpoint = await asyncio.to_thread(self._server.start)
        except (SwiftInstallError, SwiftServerError) as error:
            self.why_not = f"{type(error).__name__}: {str(error)[:200]}"
            log.warning("object_store_unavailable", reason=self.why_not)
            return
        upstream = urlsplit(self._endpoint.s3_endpoint)
        self._proxy = FaultProxy(str(upstream.hostname), int(upstream.port or 80), self._rule)
        await self._proxy.__aenter__()
        self._bank = await S3Bank.open(self._options(self._endpoint.s3_endpoint))
        self.available = True

    def provider_file(self, plugins: str) -> str:
        """The provider file of the workers' object-store provider (through the proxy)."""
        assert self._proxy is not None
        options = "".join(f"{name} = {value}\n"
                          for name, value in self._options(self._proxy.url).items())
        return (f"[provider]\nname = ChaosS3\nid = {S3_PROVIDER_ID}\n"
                f"description = chaos suite, object store\nbank = s3\n{plugins}\n[s3]\n{options}")

    def _options(self, endpoint_url: str) -> dict[str, str]:
        assert self._endpoint is not None
        return {"endpoint_url": endpoint_url, "access_key": self._endpoint.user,
                "secret_key": self._endpoint.key, "bucket": self.bucket}

    @property
    def bank(self) -> S3Bank:
        """The bucket, read directly (never through the proxy)."""
        assert self._bank is not None
        return self._bank

    def fail_for(self, seconds: float) -> None:
        """Answer 503 to every request through the proxy for ``seconds`` from now."""
        self._failing_until = time.monotonic() + seconds

    def heal(self) -> None:
        self._failing_until = 0.0

    def _rule(self, method: str, path: str) -> Action:
        return 503 if time.monotonic() < self._failing_until else None

    async def close(self) -> None:
        if self._bank is not None:
            await self._bank.close()
        if self._proxy is not None:
            await self._proxy.__aexit__(None, None, None)
        await asyncio.to_thread(self._server.stop)
        if self._tmpfs:
            await asyncio.to_thread(subprocess.run, ["umount", "-l", str(self._data)],
                                    check=False, capture_output=True)
        shutil.rmtree(self._data, ignore_errors=True)
