"""Options shared by the object-store banks (S3, Swift): their schema, numbers, the pool.

Both banks use synchronous clients (keystoneauth/requests, botocore), so every request
runs in a bounded :class:`~concurrent.futures.ThreadPoolExecutor` of ``concurrency``
threads: the event loop never blocks, and no more requests are in flight at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

import msgspec

from banks.errors import BankError
from banks.option_schema import OptionSchema

Seconds = Annotated[float, msgspec.Meta(ge=0.001)]
Delay = Annotated[float, msgspec.Meta(ge=0)]


class ObjectStoreOptions(OptionSchema, frozen=True):
    """The options S3 and Swift share. Left out: ``$STRONGBOX_<BANK>_<OPTION>``, else the
    bank's default (concurrency 8, timeouts 5 s and 60 s, 5 attempts, 0.2 s to 5 s)."""

    concurrency: Annotated[int, msgspec.Meta(ge=1)] | None = None
    connect_timeout: Seconds | None = None
    read_timeout: Seconds | None = None
    retry_attempts: Annotated[int, msgspec.Meta(ge=1)] | None = None
    retry_base_delay: Delay | None = None
    retry_max_delay: Delay | None = None


def option(config: Mapping[str, str], name: str, env_prefix: str) -> str | None:
    """``name`` from the provider section, else ``$<env_prefix><NAME>``, else None."""
    return config.get(name) or os.environ.get(f"{env_prefix}{name.upper()}") or None


def number_option(
    config: Mapping[str, str],
    name: str,
    default: float,
    *,
    bank: str,
    env_prefix: str,
    minimum: float = 0.0,
) -> float:
    """A numeric option (``1048576`` or ``16MiB`` style sizes are not parsed: bytes only).

    Raises:
        BankError: naming the option if it is not a number or below ``minimum``.
    """
    raw = option(config, name, env_prefix)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BankError(f"{bank} bank: option {name!r} is {raw!r}, not a number") from None
    if value < minimum:
        raise BankError(f"{bank} bank: option {name!r} is {raw!r}, below {minimum:g}")
    return value
