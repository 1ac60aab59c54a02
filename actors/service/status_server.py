"""A worker's HTTP port for its operators: ``/metrics``, ``/healthz``, ``/readyz``.

    GET /metrics   Prometheus' text format (or OpenMetrics, if the scraper asks for it)
    GET /healthz   200 while the process and its event loop run ("the process is alive")
    GET /readyz    200 when broker, bank and plugins are ready, else 503; JSON says which

``strongbox worker --metrics-port PORT`` starts it (off by default; ``--metrics-address``
picks the interface, 127.0.0.1 unless told otherwise). It is a few lines of asyncio on
the worker's own loop, with no web framework: one request per connection, small bounded
reads, answers closed after writing. A ``/healthz`` that answers therefore proves the loop
is not stuck, which is what a liveness check should catch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Final

import structlog
from prometheus_client.exposition import choose_encoder

from actors.service.readiness import ReadinessProbe
from banks import metrics

log = structlog.get_logger(__name__)

MAX_HEAD_BYTES: Final = 16 * 1024  # request line and headers; a scraper sends a few hundred
READ_TIMEOUT: Final = 10.0


class StatusServer:
    """Serves ``/metrics``, ``/healthz`` and ``/readyz`` on one TCP port."""

    def __init__(self, readiness: ReadinessProbe, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.readiness = readiness
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen; ``port`` 0 picks a free port (read it back from ``self.port``).

        Raises:
            OSError: if the address cannot be bound (in use, no such interface).
        """
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  limit=MAX_HEAD_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("status_server_started", address=f"{self.host}:{self.port}",
                 paths=["/metrics", "/healthz", "/readyz"])

    async def close(self) -> None:
        """Stop listening and drop the connections being answered."""
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._exchange(reader, writer)
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            status, content_type, body = await self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            return
        method = head.split(b" ", 1)[0]
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
            f"Connection: close\r\n\r\n".encode("latin-1"))
        if method != b"HEAD":
            writer.write(body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _answer(self, head: bytes) -> tuple[str, str, bytes]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return "400 Bad Request", "text/plain", b"bad request line\n"
        method, target, _ = parts
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET or HEAD only\n"
        path = target.split("?", 1)[0]
        if path == "/metrics":
            headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
            accept = next((v.strip() for k, v in headers.items()
                           if k.strip().lower() == "accept"), "")
            encoder, content_type = choose_encoder(accept)
            await self.readiness.check()  # strongbox_ready{check} as of this scrape
            return "200 OK", content_type, encoder(metrics.REGISTRY)
        if path == "/healthz":
            return "200 OK", "text/plain; charset=utf-8", b"ok\n"
        if path == "/readyz":
            readiness = await self.readiness.check()
            body = json.dumps(readiness.document(), indent=1).encode() + b"\n"
            status = "200 OK" if readiness.ready else "503 Service Unavailable"
            return status, "application/json", body
        return "404 Not Found", "text/plain", b"try /metrics, /healthz or /readyz\n"
