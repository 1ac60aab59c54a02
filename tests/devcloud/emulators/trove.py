"""A stateful emulator of the parts of Trove's v1.0 API the database plugin uses.

Why an emulator: Trove's own fake mode (`trove-fake-mode`, trove 26.0.0) is broken in three
places (docs/devcloud.md), and a real Trove needs guest VMs. This serves, under
`/v1.0/{project_id}`: instances (list, show, create, create from a backup via
`restorePoint.backupRef`, delete), backups (list, show, create, delete, per instance),
flavors and datastores. Every request is authenticated against the dev cloud's real
Keystone; state is per project and survives a restart (a JSON file).

Run: `python -m tests.devcloud.emulators.trove --port 8779 --state FILE --auth-url URL`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog

from tests.devcloud.emulators.trove_state import DATASTORE, FLAVORS, ApiError, TroveState

log = structlog.get_logger(__name__)

PREFIX = re.compile(r"^/v1\.0/(?P<project>[0-9a-f]+)(?P<rest>/.*)?$")
TOKEN_CACHE_SECONDS = 60.0


class KeystoneTokens:
    """Validates tokens with Keystone (a token may validate itself); caches the project."""

    def __init__(self, auth_url: str) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.cache: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()

    def project_of(self, token: str) -> str:
        with self.lock:
            cached = self.cache.get(token)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        request = urllib.request.Request(
            f"{self.auth_url}/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                project = str(json.load(response)["token"]["project"]["id"])
        except (urllib.error.HTTPError, KeyError) as error:
            raise ApiError(401, "unauthorized", "The token is not valid.") from error
        with self.lock:
            self.cache[token] = (project, time.monotonic() + TOKEN_CACHE_SECONDS)
        return project


class TroveHandler(BaseHTTPRequestHandler):
    server: TroveServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("trove_request", line=format % args)

    def _reply(self, code: int, body: object | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            parsed = json.loads(self.rfile.read(length))
        except json.JSONDecodeError as error:
            raise ApiError(400, "badRequest", f"malformed JSON body: {error}") from error
        if not isinstance(parsed, dict):
            raise ApiError(400, "badRequest", "the body must be a JSON object")
        return parsed

    def _handle(self, method: str) -> None:
        try:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in ("", "/"):
                self._reply(200, {"versions": [{"id": "v1.0", "status": "CURRENT"}]})
                return
            match = PREFIX.match(path)
            if match is None:
                raise ApiError(404, "itemNotFound", f"no such resource: {path}")
            project = match["project"]
            token = self.headers.get("X-Auth-Token")
            if not token:
                raise ApiError(401, "unauthorized", "X-Auth-Token is required")
            if self.server.tokens.project_of(token) != project:
                raise ApiError(403, "forbidden", f"the token is not scoped to project {project}")
            base = f"http://{self.headers.get('Host')}/v1.0/{project}"
            code, body = self._route(method, project, match["rest"] or "", base)
            self._reply(code, body)
        except ApiError as error:
            self._reply(error.code, {error.kind: {"code": error.code, "message": error.message}})

    def _route(  # noqa: PLR0911 - a dispatch table: one return per route
        self, method: str, project: str, rest: str, base: str
    ) -> tuple[int, object | None]:
        state = self.server.state
        parts = [part for part in rest.split("/") if part]
        match method, parts:
            case "GET", ["instances"]:
                return 200, {
                    "instances": [state.instance_view(i, base) for i in state.instances(project)]
                }
            case "POST", ["instances"]:
                return 200, {
                    "instance": state.instance_view(
                        state.create_instance(project, self._body()), base
                    )
                }
            case "GET", ["instances", instance_id]:
                return 200, {
                    "instance": state.instance_view(state.instance(project, instance_id), base)
                }
            case "DELETE", ["instances", instance_id]:
                state.delete_instance(project, instance_id)
                return 202, None
            case "GET", ["instances", instance_id, "backups"]:
                state.instance(project, instance_id)
                return 200, {
                    "backups": [state.backup_view(b) for b in state.backups(project, instance_id)]
                }
            case "GET", ["backups"]:
                return 200, {"backups": [state.backup_view(b) for b in state.backups(project)]}
            case "POST", ["backups"]:
                return 202, {
                    "backup": state.backup_view(state.create_backup(project, self._body()))
                }
            case "GET", ["backups", backup_id]:
                return 200, {"backup": state.backup_view(state.backup(project, backup_id))}
            case "DELETE", ["backups", backup_id]:
                state.delete_backup(project, backup_id)
                return 202, None
            case "GET", ["flavors"]:
                return 200, {"flavors": FLAVORS}
            case "GET", ["datastores"]:
                return 200, {
                    "datastores": [
                        {"name": DATASTORE["type"], "versions": [{"name": DATASTORE["version"]}]}
                    ]
                }
        raise ApiError(404, "itemNotFound", f"{method} {rest} is not emulated")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class TroveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: TroveState, tokens: KeystoneTokens) -> None:
        super().__init__(address, TroveHandler)
        self.state = state
        self.tokens = tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True, help="JSON file of the state")
    parser.add_argument("--auth-url", required=True, help="Keystone v3 URL")
    parser.add_argument("--build-seconds", type=float, default=2.0)
    args = parser.parse_args()
    server = TroveServer(
        (args.host, args.port),
        TroveState(args.state, build_seconds=args.build_seconds),
        KeystoneTokens(args.auth_url),
    )
    log.info("trove_emulator_listening", host=args.host, port=args.port, state=str(args.state))
    server.serve_forever()


if __name__ == "__main__":
    main()
