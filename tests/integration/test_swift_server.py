"""The Swift test server itself: tempauth, s3api and slo on one real loopback port."""

from __future__ import annotations

import json
import urllib.request

from tests.swift_server.server import SwiftEndpoint


def test_the_swift_server_gives_a_tempauth_token_and_serves_s3api_and_slo(
    swift_server: SwiftEndpoint,
) -> None:
    request = urllib.request.Request(
        swift_server.auth_url,
        headers={"X-Auth-User": swift_server.user, "X-Auth-Key": swift_server.key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["X-Storage-Url"] == swift_server.storage_url
        assert response.headers["X-Auth-Token"]
    with urllib.request.urlopen(swift_server.s3_endpoint + "/info", timeout=10) as response:
        info = json.load(response)
    assert {"tempauth", "s3api", "slo"} <= info.keys()
    assert swift_server.storage_url.startswith("http://127.0.0.1:")
