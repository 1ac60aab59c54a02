"""A Swift cluster behind the dev cloud's Keystone, in its catalog as ``object-store``.

The dev cloud runs no Swift; ``tests/swift_server`` does, and here it authenticates through
the dev cloud's Keystone as a production Swift does (keystonemiddleware's ``authtoken``,
Swift's ``keystoneauth``: a project's ``admin`` and ``member`` own ``AUTH_<project id>``).
So the shipped provider's Swift bank (``auth = keystone``) runs as shipped: it finds the
endpoint in the catalog through the same ``OS_*``/clouds.yaml settings as the plugins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.devcloud.catalog import KeystoneAdmin
from tests.devcloud.context import service_password
from tests.devcloud.fixture import DevCloud
from tests.devcloud.service import CatalogEntry
from tests.swift_server.install import SwiftInstallError
from tests.swift_server.server import SwiftEndpoint, SwiftServer

SERVICE_USER = "swift"
OBJECT_STORE = "object-store"


def authtoken(devcloud: DevCloud) -> dict[str, str]:
    """keystonemiddleware's options for the Swift proxy's service user."""
    keystone = devcloud.config.url("keystone")
    return {
        "www_authenticate_uri": keystone,
        "auth_url": keystone,
        "auth_type": "password",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": "service",
        "username": SERVICE_USER,
        "password": service_password(SERVICE_USER),
        "region_name": "RegionOne",
    }


def register_service_user(admin: KeystoneAdmin) -> None:
    """The ``swift`` service user, admin of the service project (authtoken validates with it)."""
    project = admin.project("service")
    user = admin.user(SERVICE_USER, service_password(SERVICE_USER), project)
    admin.grant(project, user, admin.role("admin"))


@pytest.fixture(scope="session")
def keystone_swift(devcloud: DevCloud) -> Iterator[SwiftEndpoint]:
    """The cluster, started and put in the catalog; out of the catalog again at the end."""
    admin = KeystoneAdmin(devcloud.config)
    register_service_user(admin)
    server = SwiftServer(keystone=authtoken(devcloud))
    try:
        endpoint = server.start()
    except SwiftInstallError as err:
        pytest.fail(f"swift cannot be installed: {err}")
    try:
        admin.endpoint(CatalogEntry("swift", OBJECT_STORE, endpoint.keystone_storage_url))
        yield endpoint
    finally:
        KeystoneAdmin(devcloud.config).remove_service(OBJECT_STORE)
        server.stop()


def object_sizes(conn: Any, container: str, prefix: str) -> dict[str, int]:
    """Name -> bytes of every object under ``prefix``, read with the connection's own token
    and the catalog's endpoint (plain HTTP: independent of the Swift bank under test)."""
    url = f"{conn.object_store.get_endpoint().rstrip('/')}/{container}"
    listing = requests.get(url, timeout=30, headers={"X-Auth-Token": conn.auth_token},
                           params={"prefix": prefix, "format": "json", "limit": "10000"})
    if listing.status_code == 404:
        return {}
    listing.raise_for_status()
    return {item["name"]: int(item["bytes"]) for item in listing.json()}
