"""Users, projects and the service catalog, through Keystone's v3 REST API (stdlib HTTP only).

Everything here is idempotent: an existing project, user, role grant, service or endpoint is
found and reused, so `up` may run again over a cloud that was set up before.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from typing import Any

import structlog

from tests.devcloud.config import ADMIN_PASSWORD, DEMO_PASSWORD, CloudConfig
from tests.devcloud.context import service_password
from tests.devcloud.errors import ServiceFailed
from tests.devcloud.service import CatalogEntry

log = structlog.get_logger(__name__)


class KeystoneAdmin:
    """A tiny admin client: token once, then find-or-create calls."""

    def __init__(self, config: CloudConfig) -> None:
        self.base = config.auth_url
        self.token = self._token()

    token = ""
    project_id = ""

    def _request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[Any, Any]:
        url = path if path.startswith("http") else self.base + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-Auth-Token", self.token)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                return (json.loads(raw) if raw else {}), response.headers
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise ServiceFailed(
                "keystone" if url.startswith(self.base) else url,
                f"{method} {url} answered {error.code}: {detail}",
                "the service's log",
            ) from error

    def _token(self) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"id": "default"},
                            "password": ADMIN_PASSWORD,
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        found, headers = self._request("POST", "/auth/tokens", body)
        self.project_id = str(found["token"]["project"]["id"])
        return str(headers["X-Subject-Token"])

    def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """GET any service's URL with the admin token (for readiness checks)."""
        return self._request("GET", url, headers=headers)[0]

    def post(self, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        """POST to any service's URL with the admin token."""
        return self._request("POST", url, body, headers)[0]

    def _find(self, collection: str, **query: str) -> dict[str, Any] | None:
        qs = "&".join(f"{key}={value}" for key, value in query.items())
        found, _ = self._request("GET", f"/{collection}?{qs}")
        items = found[collection]
        return items[0] if items else None

    def ensure(
        self, collection: str, singular: str, match: dict[str, str], extra: dict[str, Any]
    ) -> str:
        existing = self._find(collection, **match)
        if existing is not None:
            return str(existing["id"])
        created, _ = self._request("POST", f"/{collection}", {singular: {**match, **extra}})
        return str(created[singular]["id"])

    def project(self, name: str) -> str:
        return self.ensure("projects", "project", {"name": name}, {"domain_id": "default"})

    def role(self, name: str) -> str:
        return self.ensure("roles", "role", {"name": name}, {})

    def user(self, name: str, password: str, project_id: str) -> str:
        return self.ensure(
            "users",
            "user",
            {"name": name},
            {"domain_id": "default", "password": password, "default_project_id": project_id},
        )

    def grant(self, project_id: str, user_id: str, role_id: str) -> None:
        self._request("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")

    def endpoint(self, entry: CatalogEntry) -> None:
        """The service and its three endpoints; an endpoint's URL is corrected if it moved
        (a server on a free port, registered again by a later session)."""
        service_id = self.ensure("services", "service", {"type": entry.type}, {"name": entry.name})
        for interface in ("public", "internal", "admin"):
            endpoint_id = self.ensure(
                "endpoints",
                "endpoint",
                {"service_id": service_id, "interface": interface},
                {"url": entry.url, "region_id": "RegionOne"},
            )
            found, _ = self._request("GET", f"/endpoints/{endpoint_id}")
            if found["endpoint"]["url"] != entry.url:
                self._request("PATCH", f"/endpoints/{endpoint_id}",
                              {"endpoint": {"url": entry.url}})

    def remove_service(self, service_type: str) -> None:
        """Take a service and its endpoints out of the catalog, if there."""
        found = self._find("services", type=service_type)
        if found is not None:
            self._request("DELETE", f"/services/{found['id']}")


def register(config: CloudConfig, entries: list[CatalogEntry], service_users: list[str]) -> None:
    """Create the service project and users, the demo project and user, and the catalog.

    Skipped when this very set was registered before (a marker holds its digest): against a
    busy Keystone the find-or-create calls take ~0.5 s each.
    """
    digest = hashlib.sha256(repr((sorted(service_users), entries)).encode()).hexdigest()
    marker = config.state / "keystone" / ".catalog-registered"
    if marker.exists() and marker.read_text().strip() == digest:
        log.info("catalog_already_registered", users=service_users)
        return
    admin = KeystoneAdmin(config)
    admin_role, member, reader = admin.role("admin"), admin.role("member"), admin.role("reader")
    service_role = admin.role("service")
    service_project = admin.project("service")
    for name in service_users:
        user = admin.user(name, service_password(name), service_project)
        admin.grant(service_project, user, admin_role)
        admin.grant(service_project, user, service_role)
    demo_project = admin.project("demo")
    demo = admin.user("demo", DEMO_PASSWORD, demo_project)
    admin.grant(demo_project, demo, member)
    admin.grant(demo_project, demo, reader)
    for entry in entries:
        admin.endpoint(entry)
    marker.write_text(digest + "\n")
    log.info("catalog_registered", services=[entry.type for entry in entries], users=service_users)


def write_clouds_yaml(config: CloudConfig) -> None:
    """`clouds.yaml` with `devcloud-admin` and `devcloud-demo` (JSON is valid YAML)."""

    def cloud(user: str, password: str, project: str) -> dict[str, Any]:
        return {
            "auth": {
                "auth_url": config.auth_url,
                "username": user,
                "password": password,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": "RegionOne",
            "identity_api_version": 3,
            "interface": "public",
        }

    clouds = {
        "clouds": {
            "devcloud-admin": cloud("admin", ADMIN_PASSWORD, "admin"),
            "devcloud-demo": cloud("demo", DEMO_PASSWORD, "demo"),
        }
    }
    config.clouds_yaml.write_text(json.dumps(clouds, indent=2) + "\n")
