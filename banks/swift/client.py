"""The Swift bank's HTTP calls: one blocking request, its errors as bank errors.

Requests go through the keystoneauth session from :mod:`banks.swift.auth` (it adds the
token and re-authenticates on a 401). Every call here blocks; the bank runs it in its
thread pool. Status codes and connection errors become bank errors here, once:

====================================  ===================
404                                   ObjectNotFound
413 (object too large, quota), 507    BankFull
408, 429, 498, 499, 5xx               BankUnavailable (retried)
refused, reset, timed out             BankUnavailable (retried)
412                                   PreconditionFailed
401, 403 and any other failure        BankError
====================================  ===================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session

from banks.errors import BankError, BankFull, BankUnavailable, ObjectNotFound

_RETRYABLE = frozenset({408, 429, 498, 499})
_FULL = frozenset({413, 507})


class PreconditionFailed(BankError):
    """A conditional request (``If-None-Match: *``) found its condition false (412)."""


def status_error(status: int, reason: str, label: str, operation: str, key: str) -> BankError:
    """The bank error for an HTTP ``status`` met by ``operation`` on ``key`` in bank ``label``."""
    if status == 404:
        return ObjectNotFound(key, label)
    if status == 412:
        return PreconditionFailed(f"{label}: {operation} {key!r}: precondition failed")
    message = f"{label}: cannot {operation} {key!r}: HTTP {status} {reason}".rstrip()
    if status in _FULL:
        return BankFull(message)
    if status >= 500 or status in _RETRYABLE:
        return BankUnavailable(message)
    return BankError(message)


class SwiftClient:
    """Blocking requests against one Swift account."""

    def __init__(
        self,
        sess: session.Session,
        storage_url: str,
        timeout: tuple[float, float],
        label: str,
    ) -> None:
        """``timeout`` is (connect, read) seconds; ``label`` names the bank in errors."""
        self.session = sess
        self.storage_url = storage_url.rstrip("/")
        self.timeout = timeout
        self.label = label

    def url(self, container: str, name: str | None = None) -> str:
        """The URL of a container, or of an object in it (names quoted, '/' kept)."""
        url = f"{self.storage_url}/{quote(container, safe='')}"
        return url if name is None else f"{url}/{quote(name, safe='/')}"

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        key: str,
        ok: frozenset[int] = frozenset({200, 201, 202, 204}),
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; return the response if its status is in ``ok``.

        Raises:
            BankError: the translated failure (see the module docstring), naming the
                bank, ``operation`` and ``key``.
        """
        kwargs: dict[str, Any] = {"headers": dict(headers or {}), "params": params}
        if data is not None:
            kwargs["data"] = data
        try:
            response = self.session.request(
                url,
                method,
                raise_exc=False,
                connect_retries=0,  # banks.object_store.retry retries, with backoff and a log line
                timeout=self.timeout,
                stream=stream,
                **kwargs,
            )
        except (ks_exceptions.ConnectionError, requests.RequestException) as err:
            # Messages name the URL and the cause; the token is never part of them.
            raise BankUnavailable(
                f"{self.label}: cannot {operation} {key!r}: {type(err).__name__}: {err}"
            ) from None
        if response.status_code in ok:
            return response
        reason = response.reason or ""
        response.close()
        raise status_error(response.status_code, reason, self.label, operation, key)
