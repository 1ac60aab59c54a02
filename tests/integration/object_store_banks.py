"""Open an S3 or Swift bank on the test Swift cluster (directly or through a proxy URL)."""

from __future__ import annotations

import uuid

from banks.base import Bank
from banks.s3.bank import S3Bank
from banks.swift.bank import SwiftBank
from tests.swift_server.server import SwiftEndpoint

FAST_RETRIES = {"retry_attempts": "3", "retry_base_delay": "0.01", "retry_max_delay": "0.05"}


def bank_options(kind: str, server: SwiftEndpoint, base_url: str | None = None) -> dict[str, str]:
    """Provider-section options for a fresh container/bucket; ``base_url`` replaces the
    server's ``http://host:port`` (a fault proxy in front of it)."""

    def at(url: str) -> str:
        return url.replace(server.s3_endpoint, base_url) if base_url else url

    name = f"t-{uuid.uuid4().hex[:12]}"
    if kind == "swift":
        return {
            "auth_url": at(server.auth_url),
            "user": server.user,
            "key": server.key,
            "container": name,
        }
    return {
        "endpoint_url": at(server.s3_endpoint),
        "access_key": server.user,
        "secret_key": server.key,
        "bucket": name,
    }


async def open_bank(kind: str, options: dict[str, str]) -> Bank:
    """``SwiftBank.open`` or ``S3Bank.open`` with ``options``."""
    if kind == "swift":
        return await SwiftBank.open(options)
    return await S3Bank.open(options)
