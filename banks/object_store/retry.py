"""Bounded exponential backoff for the object-store banks (S3, Swift).

A bank wraps each request in :func:`with_retries`. The request itself translates its
vendor error into a bank error (``BankUnavailable`` for a 5xx, a refused connection or
a timeout; ``BankFull``, ``ObjectNotFound``... for the rest). Only retryable errors are
tried again; after the last attempt the error raised is a ``BankUnavailable`` naming the
bank, the operation, the key and the number of attempts.

Every request a bank retries is idempotent (PUT of a whole object or of one part, GET,
HEAD, DELETE); a conditional lease write that is retried after a lost reply is sorted
out by the lease logic, which re-reads the lease and accepts it if it is its own.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import msgspec
import structlog

from banks import metrics
from banks.errors import BankError, BankUnavailable

log = structlog.get_logger(__name__)

_T = TypeVar("_T")


class RetryPolicy(msgspec.Struct, frozen=True):
    """How often and how patiently a request is tried.

    The delay before retry ``n`` (1-based) is ``min(max_delay, base_delay * 2**(n-1))``
    with full jitter (a random fraction of it), so that many clients do not retry in step.
    """

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping[str, str], bank: str) -> RetryPolicy:
        """Read ``retry_attempts``, ``retry_base_delay`` and ``retry_max_delay``.

        Raises:
            BankError: naming the option whose value is not a positive number.
        """
        default = cls()
        try:
            policy = cls(
                attempts=int(config.get("retry_attempts", default.attempts)),
                base_delay=float(config.get("retry_base_delay", default.base_delay)),
                max_delay=float(config.get("retry_max_delay", default.max_delay)),
            )
        except ValueError as err:
            raise BankError(f"{bank} bank: a retry_* option is not a number: {err}") from None
        if policy.attempts < 1:
            raise BankError(f"{bank} bank: option 'retry_attempts' must be at least 1")
        if policy.base_delay < 0 or policy.max_delay < 0:
            raise BankError(f"{bank} bank: options 'retry_*_delay' must not be negative")
        return policy

    def delay(self, retry: int) -> float:
        """The jittered pause before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        return random.uniform(0, ceiling)  # jitter, not cryptography


async def with_retries(
    policy: RetryPolicy,
    bank: str,
    operation: str,
    key: str,
    request: Callable[[], Awaitable[_T]],
) -> _T:
    """Await ``request()`` until it succeeds, fails for good, or attempts run out.

    Raises:
        BankUnavailable: after ``policy.attempts`` retryable failures, naming ``bank``,
            ``operation`` and ``key``, chained to the last failure.
        BankError: a non-retryable failure, at once.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return await request()
        except BankError as err:
            if not err.retryable:
                raise
            kind = metrics.label(bank.split(" ", 1)[0])  # "s3", "swift": never the URL
            if attempt == policy.attempts:
                metrics.BANK_GIVE_UPS.labels(kind).inc()
                raise BankUnavailable(
                    f"{bank}: cannot {operation} {key!r} after {attempt} attempts: {err}"
                ) from err
            metrics.BANK_RETRIES.labels(kind, metrics.label(operation.split(" ", 1)[0])).inc()
            pause = policy.delay(attempt)
            log.warning(
                "bank_request_retried",
                bank=bank,
                operation=operation,
                key=key,
                attempt=attempt,
                pause=round(pause, 3),
                error=str(err),
            )
            await asyncio.sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")
