"""What a Swift container holds, read straight from Swift (not through our bank).

The round trip checks that its checkpoint really went into the object store the shipped
provider names; reading the listing with plain HTTP keeps that check independent of the
Swift bank under test.
"""

from __future__ import annotations

import requests

from tests.swift_server.server import SwiftEndpoint


def object_sizes(server: SwiftEndpoint, container: str, prefix: str) -> dict[str, int]:
    """Name -> bytes of every object under ``prefix`` (one listing page is plenty here)."""
    auth = requests.get(server.auth_url, timeout=30,
                        headers={"X-Auth-User": server.user, "X-Auth-Key": server.key})
    auth.raise_for_status()
    listing = requests.get(f"{auth.headers['X-Storage-Url']}/{container}", timeout=30,
                           headers={"X-Auth-Token": auth.headers["X-Auth-Token"]},
                           params={"prefix": prefix, "format": "json"})
    if listing.status_code == 404:
        return {}
    listing.raise_for_status()
    return {item["name"]: int(item["bytes"]) for item in listing.json()}
