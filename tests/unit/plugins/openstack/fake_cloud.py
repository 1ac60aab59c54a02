"""A stateful fake of the OpenStack APIs at the HTTP layer (requests-mock), for unit tests.

It is a fake of the *cloud*, not of our code: openstacksdk and keystoneauth run for real
(auth, catalog, version discovery, JSON parsing) against these handlers. Resources move
through transitional states as real ones do: each GET of a resource advances it, and after
``settle_after`` GETs it reaches its final state (``final_status`` can force a failure,
e.g. ``{"backup": "error"}``). ``fail(method, pattern, status)`` makes matching calls fail
once. Every call is recorded in ``calls`` as ``"METHOD /path"`` (ids as they were).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import requests_mock
from keystoneauth1.fixture import v3

IDENTITY = "https://identity.example.com/v3"
HOSTS = {
    "identity.example.com": "identity",
    "compute.example.com": "compute",
    "volume.example.com": "volume",
    "image.example.com": "image",
    "network.example.com": "network",
    "share.example.com": "share",
    "database.example.com": "database",
}
Handler = Callable[["FakeCloud", "Call"], Any]


class HttpError(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message or f"fake error {status}"


class Call:
    """One request, parsed: service, method, path segments after the version/project."""

    def __init__(self, request: Any, service: str, parts: list[str]) -> None:
        self.request = request
        self.service = service
        self.method = request.method
        self.parts = parts
        self.query = {k: v[0] for k, v in request.qs.items()}

    def json(self) -> Any:
        body = self.request.body
        if body is None:
            return {}
        return json.loads(body)

    def raw(self) -> bytes:
        body = self.request.body
        if body is None:
            return b""
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return body.encode()
        return b"".join(bytes(chunk) for chunk in body)


class FakeCloud:
    """Services' state and their handlers, installed on a requests-mock Mocker."""

    def __init__(self, project_id: str = "proj-demo", settle_after: int = 1) -> None:
        self.project_id = project_id
        self.settle_after = settle_after
        self.final_status: dict[str, str] = {}
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.blobs: dict[str, bytes] = {}  # image id / volume id -> bytes
        self.calls: list[str] = []
        self.scopes: list[str] = []  # project ids tokens were scoped to
        self.projects = {project_id: {"id": project_id, "name": "demo", "enabled": True,
                                      "domain_id": "default"}}
        self.quotas: dict[str, Any] = {"volumes": 10, "gigabytes": 1000, "snapshots": 10}
        self._faults: list[tuple[str, re.Pattern[str], int]] = []
        self._ids = itertools.count(1)
        self.handlers: dict[str, Handler] = {}
        self.missing_services: set[str] = set()  # service types left out of the catalog

    # -- set-up ---------------------------------------------------------------------

    def install(self, mocker: requests_mock.Mocker) -> None:
        mocker.register_uri(requests_mock.ANY, requests_mock.ANY, content=self._respond)

    def clouds_yaml(self) -> str:
        return (
            "clouds:\n  fake:\n    auth:\n"
            f"      auth_url: {IDENTITY}\n      username: demo\n"
            "      password: s3cret-pa55\n"
            f"      project_id: {self.project_id}\n      user_domain_name: Default\n"
            "    region_name: RegionOne\n    identity_api_version: 3\n"
        )

    def fail(self, method: str, pattern: str, status: int = 500) -> None:
        """The next call matching ``METHOD /path`` (regex) answers ``status``."""
        self._faults.append((method, re.compile(pattern), status))

    def new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.store.setdefault(kind, {})

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        item = {"id": fields.pop("id", None) or self.new_id(kind), **fields}
        self.table(kind)[item["id"]] = item
        return item

    def begin(self, kind: str, item: dict[str, Any], busy: str, done: str,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Put ``item`` in state ``busy``; it reaches ``done`` (or the forced state) later."""
        item["status"] = busy
        item["_pending"] = self.settle_after
        item["_final"] = self.final_status.get(kind, done)
        item["_on_done"] = on_done
        self.table(kind)[item["id"]] = item
        return item

    def advance(self, kind: str, item: dict[str, Any]) -> None:
        if item.get("_pending") is None:
            return
        item["_pending"] -= 1
        if item["_pending"] > 0:
            return
        final, on_done = item.pop("_final"), item.pop("_on_done")
        del item["_pending"]
        if final == "__gone__":
            self.table(kind).pop(item["id"], None)
            return
        item["status"] = final
        if on_done is not None and final == self._done_of(item):
            on_done(item)

    def _done_of(self, item: dict[str, Any]) -> str:
        return item.get("_done_status", item["status"])

    def get(self, kind: str, item_id: str) -> dict[str, Any]:
        item = self.table(kind).get(item_id)
        if item is None:
            raise HttpError(404, f"{kind} {item_id} could not be found")
        self.advance(kind, item)
        if item_id not in self.table(kind):
            raise HttpError(404, f"{kind} {item_id} could not be found")
        return item

    def remove(self, kind: str, item_id: str, busy: str = "deleting") -> None:
        item = self.get(kind, item_id)
        item["status"] = busy
        item["_pending"] = self.settle_after
        item["_final"] = "__gone__"
        item["_on_done"] = None

    def ids(self, kind: str) -> list[str]:
        return sorted(self.table(kind))

    def live(self, kind: str) -> list[str]:
        """Ids of ``kind`` not gone and not being deleted."""
        return sorted(i for i, item in self.table(kind).items()
                      if item.get("_final") != "__gone__")

    # -- dispatch -------------------------------------------------------------------

    def _respond(self, request: Any, context: Any) -> bytes:
        host = request.hostname
        service = HOSTS.get(host)
        path = request.path
        parts = [p for p in path.split("/") if p]
        label = f"{request.method} {path}"
        self.calls.append(label)
        for index, (method, pattern, status) in enumerate(self._faults):
            if method == request.method and pattern.search(path):
                del self._faults[index]
                return self._error(context, HttpError(status, "injected fault"))
        try:
            if service is None:
                raise HttpError(404, f"no fake service at {host}")
            result = self.dispatch(request, service, parts, context)
        except HttpError as error:
            return self._error(context, error)
        if isinstance(result, bytes):
            return result
        context.headers["Content-Type"] = "application/json"
        return json.dumps(_public(result)).encode()

    def _error(self, context: Any, error: HttpError) -> bytes:
        context.status_code = error.status
        context.headers["Content-Type"] = "application/json"
        body = {"error": {"code": error.status, "message": error.message},
                "itemNotFound": {"code": error.status, "message": error.message}}
        return json.dumps(body).encode()

    def dispatch(self, request: Any, service: str, parts: list[str], context: Any) -> Any:
        if service == "identity":
            return self._identity(request, parts, context)
        version_doc = VERSIONS.get(service)
        if version_doc is not None and _is_root(service, parts):
            return version_doc
        call = Call(request, service, _strip(service, parts))
        handler = self.handlers.get(service)
        if handler is None:
            raise HttpError(404, f"no fake handler for {service}")
        return handler(self, call)

    def _identity(self, request: Any, parts: list[str], context: Any) -> Any:
        if parts in (["v3"], []):
            return {"version": {"id": "v3.14", "status": "stable",
                                "links": [{"rel": "self", "href": IDENTITY + "/"}]}}
        if parts[1:] == ["auth", "tokens"] and request.method == "POST":
            body = json.loads(request.body)
            if body["auth"]["identity"]["password"]["user"]["password"] != "s3cret-pa55":
                raise HttpError(401, "The request you have made requires authentication.")
            project = body["auth"].get("scope", {}).get("project", {}).get("id", self.project_id)
            if project not in self.projects:
                raise HttpError(401, f"no role on project {project}")
            self.scopes.append(project)
            context.status_code = 201
            context.headers["X-Subject-Token"] = f"token-{project}"
            return self.token(project)
        if parts[1] == "projects" and len(parts) == 3:
            project = self.projects.get(parts[2])
            if project is None:
                raise HttpError(404, f"project {parts[2]} not found")
            return {"project": project}
        raise HttpError(404, "no such identity call")

    def token(self, project: str) -> Any:
        token = v3.Token(project_id=project, user_id="user-demo", user_name="demo")
        endpoints = {
            "compute": "https://compute.example.com/v2.1",
            "block-storage": f"https://volume.example.com/v3/{project}",
            "volumev3": f"https://volume.example.com/v3/{project}",
            "image": "https://image.example.com",
            "network": "https://network.example.com",
            "shared-file-system": f"https://share.example.com/v2/{project}",
            "sharev2": f"https://share.example.com/v2/{project}",
            "database": f"https://database.example.com/v1.0/{project}",
            "identity": IDENTITY,
        }
        for service_type, url in endpoints.items():
            if service_type in self.missing_services:
                continue
            service = token.add_service(service_type)
            service.add_standard_endpoints(public=url, region="RegionOne")
        return token


VERSIONS: dict[str, Any] = {
    "volume": {"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.70",
                             "min_version": "3.0",
                             "links": [{"rel": "self", "href": "https://volume.example.com/v3/"}]}]},
    "image": {"versions": [{"id": "v2.16", "status": "CURRENT",
                            "links": [{"rel": "self", "href": "https://image.example.com/v2/"}]}]},
    "network": {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"rel": "self",
                                         "href": "https://network.example.com/v2.0/"}]}]},
    "compute": {"versions": [{"id": "v2.1", "status": "CURRENT", "version": "2.90",
                              "min_version": "2.1",
                              "links": [{"rel": "self",
                                         "href": "https://compute.example.com/v2.1/"}]}]},
    "share": {"versions": [{"id": "v2.0", "status": "CURRENT", "version": "2.80",
                            "min_version": "2.0",
                            "links": [{"rel": "self", "href": "https://share.example.com/v2/"}]}]},
    "database": {"versions": [{"id": "v1.0", "status": "CURRENT",
                               "links": [{"rel": "self",
                                          "href": "https://database.example.com/v1.0/"}]}]},
}
_PREFIX = {"volume": 2, "image": 1, "network": 1, "compute": 1, "share": 2, "database": 2}


def _is_root(service: str, parts: list[str]) -> bool:
    return len(parts) < _PREFIX[service] or (len(parts) == _PREFIX[service] and
                                             service in ("image", "network", "compute"))


def _strip(service: str, parts: list[str]) -> list[str]:
    return parts[_PREFIX[service]:]


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def checksums(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest()


def fake_uuid() -> str:
    return str(uuid.uuid4())
