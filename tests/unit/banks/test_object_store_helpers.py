"""The pieces the S3 and Swift banks share: metadata headers and the retry policy."""

from __future__ import annotations

import pytest

from banks.errors import BankError, BankFull, BankUnavailable
from banks.object_store.metadata_headers import (
    MAX_ENCODED,
    PIECE,
    MetadataTooLarge,
    decode_metadata,
    encode_metadata,
)
from banks.object_store.retry import RetryPolicy, with_retries


def test_metadata_round_trips_names_and_values_exactly_through_header_pieces() -> None:
    metadata = {"Kind": "greeting", "codec": "zstd", "ünï": "välue with spaces\nand a newline"}
    metadata |= {f"name-{index}": "x" * 20 for index in range(20)}

    headers = encode_metadata(metadata)

    assert len(headers) > 1
    assert all(len(value) <= PIECE and value.isascii() for value in headers.values())
    # a store that changes the case of names still hands back what was given
    assert decode_metadata({name.lower(): value for name, value in headers.items()}) == metadata


def test_empty_metadata_needs_no_header_and_foreign_headers_are_ignored() -> None:
    assert encode_metadata({}) == {}
    assert encode_metadata(None) == {}
    assert decode_metadata({"color": "blue"}) == {}
    assert decode_metadata({"sbx0": "not base64 json!"}) == {}


def test_metadata_too_large_for_the_stores_is_refused_and_non_str_is_a_type_error() -> None:
    with pytest.raises(MetadataTooLarge, match=str(MAX_ENCODED)):
        encode_metadata({"big": "x" * MAX_ENCODED})
    with pytest.raises(TypeError):
        encode_metadata({"n": 1})  # type: ignore[dict-item]


def test_retry_policy_options_are_read_and_wrong_ones_named() -> None:
    policy = RetryPolicy.from_config({"retry_attempts": "2", "retry_base_delay": "0"}, "s3")
    assert (policy.attempts, policy.base_delay, policy.max_delay) == (2, 0.0, 5.0)
    with pytest.raises(BankError, match="retry_attempts"):
        RetryPolicy.from_config({"retry_attempts": "0"}, "s3")
    with pytest.raises(BankError, match="s3 bank"):
        RetryPolicy.from_config({"retry_max_delay": "soon"}, "s3")


def test_retry_delays_stay_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=3.0)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        assert all(0 <= policy.delay(retry) <= ceiling for _ in range(50))


async def test_retryable_failures_are_retried_then_reported_with_bank_operation_and_key() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise BankUnavailable("HTTP 503")
        return "done"

    policy = RetryPolicy(attempts=3, base_delay=0.0)
    assert await with_retries(policy, "s3 bank x", "write", "/k", flaky) == "done"
    assert len(calls) == 3

    async def down() -> str:
        calls.append(1)
        raise BankUnavailable("connection refused")

    calls.clear()
    with pytest.raises(BankUnavailable) as raised:
        await with_retries(policy, "s3 bank x", "write", "/k", down)
    assert str(raised.value).startswith("s3 bank x: cannot write '/k' after 3 attempts")
    assert isinstance(raised.value.__cause__, BankUnavailable)
    assert len(calls) == 3


async def test_a_failure_that_is_not_retryable_is_raised_at_once() -> None:
    calls: list[int] = []

    async def full() -> None:
        calls.append(1)
        raise BankFull("507")

    with pytest.raises(BankFull):
        await with_retries(RetryPolicy(attempts=5, base_delay=0.0), "b", "write", "/k", full)
    assert calls == [1]
