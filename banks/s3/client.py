"""The S3 bank's client: botocore, configured from the provider section, errors translated.

botocore is imported in this module and :mod:`banks.s3.bank` only. Its client is
synchronous and thread-safe; the bank calls it from a bounded thread pool. botocore's
own retries are switched off (``total_max_attempts = 1``) so that :mod:`banks.object_store.retry`
is the one policy, with its log line per retry.

Errors, once, here:

==========================================================  ==================
404, NoSuchKey, NotFound                                    ObjectNotFound
412 PreconditionFailed, 409 ConditionalRequestConflict      PreconditionFailed
501 NotImplemented                                          NotSupported
EntityTooLarge, QuotaExceeded, 507, InsufficientStorage     BankFull
5xx, SlowDown, RequestTimeout, refused, timed out           BankUnavailable (retried)
NoSuchBucket, AccessDenied, no credentials, anything else   BankError
==========================================================  ==================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import botocore.session  # type: ignore[import-untyped]  # botocore ships no type hints
from botocore import exceptions as boto_exceptions
from botocore.config import Config  # type: ignore[import-untyped]

from banks.errors import BankError, BankFull, BankUnavailable, ObjectNotFound
from banks.object_store.options import option

ENV_PREFIX = "STRONGBOX_S3_"
# Options and, in order, the environment variables read when the section lacks them.
ENV_FALLBACKS: Mapping[str, tuple[str, ...]] = {
    "endpoint_url": ("STRONGBOX_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "region": ("STRONGBOX_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "access_key": ("STRONGBOX_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
    "secret_key": ("STRONGBOX_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
    "session_token": ("STRONGBOX_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"),
}
ADDRESSING_STYLES = ("path", "virtual", "auto")
_FULL_CODES = frozenset({"EntityTooLarge", "QuotaExceeded", "InsufficientStorage"})
_RETRY_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling"}
)
_CONNECTION_ERRORS = (
    boto_exceptions.ConnectionError,  # refused, connect timeouts
    # read timeouts, closed or reset connections, ResponseStreamingError mid-body
    boto_exceptions.HTTPClientError,
    boto_exceptions.IncompleteReadError,  # a body that broke off
)


class PreconditionFailed(BankError):
    """A conditional write (If-None-Match / If-Match) found its condition false."""


class NotSupported(BankError):
    """The store does not implement a request or header (HTTP 501)."""


def s3_option(config: Mapping[str, str], name: str) -> str | None:
    """``name`` from the section, else its environment variables (see :data:`ENV_FALLBACKS`)."""
    if config.get(name):
        return config[name]
    for variable in ENV_FALLBACKS.get(name, ()):
        if value := option({}, variable, ""):
            return value
    return option({}, name, ENV_PREFIX)


def make_client(config: Mapping[str, str], timeouts: tuple[float, float], concurrency: int) -> Any:
    """A botocore S3 client from the section; credentials never leave this function.

    Raises:
        BankError: naming the option that is wrong.
    """
    style = s3_option(config, "addressing_style") or "path"
    if style not in ADDRESSING_STYLES:
        raise BankError(
            f"s3 bank: option 'addressing_style' is {style!r}, expected one of {ADDRESSING_STYLES}"
        )
    client_config = Config(
        connect_timeout=timeouts[0],
        read_timeout=timeouts[1],
        max_pool_connections=concurrency,
        retries={"total_max_attempts": 1},
        s3={"addressing_style": style},
        # S3-compatible stores vary in their support of the newer default checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name=s3_option(config, "region") or "us-east-1",
        endpoint_url=s3_option(config, "endpoint_url"),
        aws_access_key_id=s3_option(config, "access_key"),
        aws_secret_access_key=s3_option(config, "secret_key"),
        aws_session_token=s3_option(config, "session_token"),
        config=client_config,
    )


def translate(err: Exception, label: str, operation: str, key: str) -> BankError:
    """The bank error for a botocore exception met by ``operation`` on ``key``."""
    where = f"{label}: cannot {operation} {key!r}"
    if isinstance(err, boto_exceptions.ClientError):
        return _client_error(err, label, where, key)
    if isinstance(err, _CONNECTION_ERRORS):
        return BankUnavailable(f"{where}: {type(err).__name__}: {err}")
    if isinstance(
        err, boto_exceptions.NoCredentialsError | boto_exceptions.PartialCredentialsError
    ):
        return BankError(f"{where}: no credentials: set options 'access_key' and 'secret_key'")
    # botocore's messages name the bucket, key and endpoint, never a credential.
    return BankError(f"{where}: {type(err).__name__}: {err}")


def _client_error(err: Any, label: str, where: str, key: str) -> BankError:
    error = err.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    detail = f"{where}: HTTP {status} {code}".rstrip()
    if code in ("NoSuchKey", "NotFound") or (status == 404 and code != "NoSuchBucket"):
        return ObjectNotFound(key, label)
    if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
        return PreconditionFailed(detail)
    if status == 501 or code == "NotImplemented":
        return NotSupported(detail)
    if code in _FULL_CODES or status == 507:
        return BankFull(detail)
    if status >= 500 or code in _RETRY_CODES:
        return BankUnavailable(detail)
    return BankError(f"{detail}: {error.get('Message', '')}".rstrip(": "))
