"""Errors raised by the actor layer.

    StrongboxError
    ├── RequestInvalid        a request that fails validation (names the field and why)
    ├── OperationNotFound     no operation with that id on this engine
    ├── ActivityTimeout       an activity ran past its plugin's timeout
    ├── OperationCancelled    the operation was cancelled (reason "cancelled")
    ├── MessageDecodeError    bytes that are not a message we know (carries the raw bytes)
    ├── TransportError        the transport failed (retryable when the broker may come back)
    ├── OperationUnavailable  an operation could not be loaded from its bank now (retryable)
    └── PolicyError           the policy file is wrong (``<file>:<line>: <what>``)
"""

from __future__ import annotations

from plugins.errors import AtFileLine


class StrongboxError(Exception):
    """Base of every actor-layer error."""


class RequestInvalid(StrongboxError, ValueError):
    """A request that fails validation."""


class OperationNotFound(StrongboxError, LookupError):
    """No operation with that id."""

    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id
        super().__init__(f"operation {operation_id!r} not found")


class ActivityTimeout(StrongboxError, TimeoutError):
    """An activity ran past its plugin's timeout."""


class OperationCancelled(StrongboxError):
    """The operation was cancelled."""


class MessageDecodeError(StrongboxError, ValueError):
    """Bytes that do not decode into a known message."""

    def __init__(self, reason: str, raw: bytes) -> None:
        self.reason = reason
        self.raw = raw
        super().__init__(f"undecodable message ({len(raw)} bytes): {reason}")


class TransportError(StrongboxError):
    """The transport failed to send, publish or consume."""

    retryable: bool = True


class OperationUnavailable(StrongboxError):
    """An operation known to exist could not be loaded now (its bank is unreachable)."""

    retryable: bool = True


class PolicyError(AtFileLine, StrongboxError):
    """The policy file is wrong; the message is ``<file>:<line>: <what is wrong>``."""
