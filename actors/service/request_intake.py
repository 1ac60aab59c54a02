"""Carrying out requests from the request queue: decode, validate, submit, or set aside.

A request that cannot be carried out (malformed JSON, an unknown kind, a wrong version,
an unknown resource type, bad parameters, too large) is rejected: the transport moves it
to the rejected-requests queue with the reason in its headers, and a ``RequestRejected``
event tells subscribers. A request that fails for a reason that may pass (its bank is
unreachable) is delivered again later instead. Either way the worker keeps serving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.transport.base import RequestVerdict
from actors.wire.events import RequestRejected
from actors.wire.requests import decode_request
from banks.errors import BankError
from plugins.errors import PluginError

if TYPE_CHECKING:
    from actors.operations.engine import Engine

log = structlog.get_logger(__name__)

# Requests name resources and parameters; a megabyte is thousands of resources. Anything
# larger is a mistake or an attack, and is refused before it is parsed.
MAX_REQUEST_BYTES = 1 << 20
UNKNOWN_REQUEST = "unknown-request"


class RequestIntake:
    """The request queue's handler for one worker's engine."""

    def __init__(self, engine: Engine, *, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self.accepted = 0
        self.rejected = 0

    async def __call__(self, body: bytes, message_id: str | None) -> RequestVerdict:
        """Carry out one request; say whether it was accepted, rejected or is to retry."""
        if len(body) > self.max_bytes:
            return await self._reject(message_id, f"request is {len(body)} bytes; "
                                                  f"the limit is {self.max_bytes}")
        try:
            request = decode_request(body)
        except StrongboxError as error:
            return await self._reject(_request_id_of(body) or message_id, str(error))
        try:
            operation_id = await self.engine.submit(request)
        except (StrongboxError, PluginError, BankError) as error:
            if getattr(error, "retryable", False):  # the bank or broker may come back
                return self._retry(request.request_id, str(error))
            return await self._reject(request.request_id, f"{type(error).__name__}: {error}")
        self.accepted += 1
        log.info("request_accepted", request_id=request.request_id, operation_id=operation_id,
                 kind=type(request).__name__)
        return RequestVerdict(accepted=True)

    def _retry(self, request_id: str, reason: str) -> RequestVerdict:
        log.warning("request_retry", request_id=request_id, reason=reason)
        return RequestVerdict(accepted=False, reason=reason, retry=True)

    async def _reject(self, request_id: str | None, reason: str) -> RequestVerdict:
        self.rejected += 1
        log.warning("request_rejected", request_id=request_id, reason=reason)
        await self.engine.host.transport.publish(RequestRejected(
            operation_id=request_id or UNKNOWN_REQUEST, request_id=request_id, reason=reason))
        return RequestVerdict(accepted=False, reason=reason)


def _request_id_of(body: bytes) -> str | None:
    """The request id of a request that failed validation, when it has a readable one."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    found = raw.get("request_id") if isinstance(raw, dict) else None
    return found if isinstance(found, str) and len(found) <= 200 else None
