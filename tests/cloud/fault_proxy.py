"""An HTTP proxy in front of one real service endpoint that injects the cloud's faults.

Every request is forwarded to the service unchanged, except those matching a rule: those
get a 500 the service never sent (``fail``), or no answer at all (``stall``: the request is
not forwarded and the connection stays open until the proxy stops, as a hung API would).
Clients reach it through an endpoint override in their clouds.yaml, so the plugins run
their real code paths against the real service and only the chosen call goes wrong.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

Action = Literal["fail", "stall"]
# Headers that describe one hop of the connection (or that the proxy sets itself), never
# forwarded as they are.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                        "proxy-connection", "upgrade", "te", "trailer", "date", "server"})


@dataclass(frozen=True)
class Rule:
    """Requests with this method whose path matches ``pattern`` get ``action``."""

    method: str
    pattern: str
    action: Action

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.pattern, path) is not None


@dataclass
class FaultProxy:
    """A threaded proxy on 127.0.0.1 for ``upstream`` (``http://host:port``)."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)  # "METHOD path action", in order
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fault proxy is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, method: str, pattern: str, action: Action) -> None:
        self.rules.append(Rule(method, pattern, action))

    def start(self) -> FaultProxy:
        target = urlsplit(self.upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return  # the services' own logs say what happened

            def _body(self) -> bytes | None:
                """The whole request body, de-chunked (image uploads come chunked)."""
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    parts = []
                    while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()  # the CRLF after each chunk
                    while self.rfile.readline().strip():
                        pass  # trailers, up to the empty line
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            def _handle(self) -> None:
                # read before any answer: a client still sending its body would see a reset
                body = self._body()
                rule = next((r for r in proxy.rules if r.matches(self.command, self.path)),
                            None)
                if rule is not None:
                    proxy.injected.append(f"{self.command} {self.path} {rule.action}")
                    if rule.action == "stall":
                        proxy._released.wait()
                        self.close_connection = True
                        return
                    self._reply(500, {"Content-Type": "application/json"}, json.dumps(
                        {"computeFault": {"code": 500, "message": "injected fault"}}).encode())
                    return
                connection = http.client.HTTPConnection(target.hostname or "127.0.0.1",
                                                        target.port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    payload = answer.read()
                    kept = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP}
                    self._reply(answer.status, kept, payload)
                finally:
                    connection.close()

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fault-proxy",
                         daemon=True).start()
        return self

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Release stalled requests (their connections close unanswered) and stop."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
