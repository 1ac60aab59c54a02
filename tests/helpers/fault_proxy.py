"""A tiny HTTP proxy on loopback that injects faults before forwarding to a real server.

Real TCP and real HTTP both ways: the banks under test talk to the proxy as to the
store. For each request the proxy reads the head and body, then asks its ``rule``:

- ``None``: forward to the upstream (one upstream connection per request, with
  ``Connection: close``, the answer relayed byte for byte);
- an ``int`` status: answer that status itself, empty body, without forwarding;
- ``"stall"``: never answer (the client's read timeout fires);
- ``"cut"``: forward, but relay only the first :data:`CUT_AFTER` bytes of the answer
  and close (a transfer that breaks off).

Only for tests: request bodies must carry a Content-Length (every client here does). A
request that expects ``100 Continue`` gets it from the proxy at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Action = int | Literal["stall", "cut"] | None


CUT_AFTER = 64 << 10


@dataclass
class Seen:
    """One request as the proxy saw it, and what it did."""

    method: str
    path: str
    action: Action


@dataclass
class FaultProxy:
    """``async with FaultProxy(host, port) as proxy``: ``proxy.url`` points at the proxy."""

    upstream_host: str
    upstream_port: int
    rule: Callable[[str, str], Action] = lambda method, path: None
    seen: list[Seen] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def rewrite(self, upstream_url: str) -> str:
        """``upstream_url`` (e.g. a storage URL) with the proxy's address instead."""
        return upstream_url.replace(f"http://{self.upstream_host}:{self.upstream_port}", self.url)

    def fail_next(self, count: int, status: Action, method: str | None = None) -> None:
        """Answer ``status`` to the next ``count`` requests (of ``method``, if given)."""
        remaining = [count]

        def rule(request_method: str, path: str) -> Action:
            if remaining[0] > 0 and method in (None, request_method):
                remaining[0] -= 1
                return status
            return None

        self.rule = rule

    def faults(self) -> list[Seen]:
        """The requests the proxy answered, stalled or cut itself."""
        return [seen for seen in self.seen if seen.action is not None]

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = [line for line in lines[1:] if line]
                length = next(
                    (
                        int(h.split(":", 1)[1])
                        for h in headers
                        if h.lower().startswith("content-length:")
                    ),
                    0,
                )
                if any(h.lower().replace(" ", "") == "expect:100-continue" for h in headers):
                    # botocore asks before a PUT's body and waits a second for the answer
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await writer.drain()
                body = await reader.readexactly(length) if length else b""
                action = self.rule(method, path)
                self.seen.append(Seen(method, path, action))
                if action == "stall":
                    await asyncio.Event().wait()  # until the proxy closes and cancels us
                if action == "cut" or action is None:
                    await self._forward(method, path, headers, body, writer, cut=action == "cut")
                    return  # the upstream answered with Connection: close; so do we
                writer.write(f"HTTP/1.1 {action} Injected\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except asyncio.CancelledError:
            return
        finally:
            self._handlers.discard(handler)
            writer.close()

    async def _forward(
        self,
        method: str,
        path: str,
        headers: list[str],
        body: bytes,
        writer: asyncio.StreamWriter,
        *,
        cut: bool,
    ) -> None:
        # the body goes up with the head: the upstream need not say 100 Continue again
        kept = [h for h in headers if not h.lower().startswith(("connection:", "expect:"))]
        head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""])
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            up_writer.write(head.encode("latin-1") + body)
            await up_writer.drain()
            relayed = 0
            while data := await up_reader.read(65536):
                if cut:
                    data = data[: CUT_AFTER - relayed]
                writer.write(data)
                await writer.drain()
                relayed += len(data)
                if cut and relayed >= CUT_AFTER:
                    return
        finally:
            up_writer.close()
