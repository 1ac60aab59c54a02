"""Configuration errors of the S3 and Swift banks name the option, never the secret."""

from __future__ import annotations

import socket

import pytest

from banks.errors import BankError, BankUnavailable
from banks.s3.bank import S3Bank
from banks.swift.bank import SwiftBank

NO_RETRY = {"retry_attempts": "2", "retry_base_delay": "0"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"auth": "bogus"}, "option 'auth' is 'bogus'"),
        ({"auth_url": "http://127.0.0.1:1/auth/v1.0", "user": "u"}, "option 'key' is not set"),
        ({"auth": "keystone", "cloud": "no-such-cloud-here"}, "no-such-cloud-here"),
        ({"segment_size": "1000"}, "option 'segment_size'"),
        ({"read_timeout": "soon"}, "option 'read_timeout'"),
        ({"container": "a/b"}, "option 'container'"),
        ({"retry_attempts": "0"}, "retry_attempts"),
    ],
)
async def test_a_wrong_swift_option_is_named(config: dict[str, str], named: str) -> None:
    with pytest.raises(BankError, match=named):
        await SwiftBank.open(config)


# openstacksdk 4.22 warns about InfluxDB metrics on every Keystone connection, configured
# or not (its loader returns an empty-but-truthy influxdb config): not ours to fix.
@pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK60Warning")
async def test_an_unreachable_keystone_is_bank_unavailable_without_the_password() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v3"
    config = {
        "auth": "keystone",
        "auth_url": url,
        "username": "backup",
        "password": "the-keystone-password",
        "project_name": "demo",
        **NO_RETRY,
    }

    with pytest.raises(BankUnavailable) as raised:
        await SwiftBank.open(config)

    message = str(raised.value)
    assert url in message
    assert "after 2 attempts" in message
    assert "the-keystone-password" not in message


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"addressing_style": "sideways"}, "option 'addressing_style'"),
        ({"part_size": str(1 << 20)}, "option 'part_size'"),
        ({"concurrency": "none"}, "option 'concurrency'"),
    ],
)
async def test_a_wrong_s3_option_is_named(config: dict[str, str], named: str) -> None:
    credentials = {"access_key": "id", "secret_key": "the-s3-secret", "endpoint_url": "http://x"}
    with pytest.raises(BankError, match=named) as raised:
        await S3Bank.open({**credentials, **config})
    assert "the-s3-secret" not in str(raised.value)
