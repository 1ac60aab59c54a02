"""The session-scoped ``swift_server`` fixture: one real Swift cluster for the test run.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``). The
cluster installs itself on first use (see :mod:`tests.swift_server.install`); if that is
impossible (no package index reachable) the tests that need it skip, unless ``CI`` is
set, where the same condition fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.swift_server.install import SwiftInstallError
from tests.swift_server.server import SwiftEndpoint, SwiftServer


@pytest.fixture(scope="session")
def swift_server() -> Iterator[SwiftEndpoint]:
    """A running Swift cluster (tempauth + s3api + slo on one loopback port)."""
    server = SwiftServer()
    try:
        endpoint = server.start()
    except SwiftInstallError as err:
        if os.environ.get("CI"):
            pytest.fail(f"swift cannot be installed and CI is set: {err}")
        pytest.skip(f"swift cannot be installed here: {err}")
    try:
        yield endpoint
    finally:
        server.stop()
