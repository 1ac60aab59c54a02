"""Errors raised when reading or writing sealed objects.

    BankError                      (banks.errors)
    └── SealedObjectError          a sealed object cannot be written or trusted
        ├── SealedObjectCorrupt    it fails authentication: altered, truncated, or moved
        │                          from another key or checkpoint
        ├── PlaintextRefused       an object in the clear where the store is encrypted
        └── SealingUnavailable     the bank's keys are not loaded, or a write it cannot seal

Every message names the object's key (whose segments are ids and keyed hashes, never a
resource's name); none carries a key or the object's content.
"""

from __future__ import annotations

from banks.errors import BankError


class SealedObjectError(BankError):
    """Base of every sealing error; ``key`` is the object's bank key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class SealedObjectCorrupt(SealedObjectError):
    """The object fails its checks; nothing of it is returned."""

    def __init__(self, key: str, scope: str, reason: str) -> None:
        super().__init__(key, f"sealed object {key!r} ({scope}) cannot be trusted: {reason}")
        self.scope = scope
        self.reason = reason


class PlaintextRefused(SealedObjectError):
    """A plaintext object where the store is encrypted: a downgrade, or a planted object."""

    def __init__(self, key: str, scope: str) -> None:
        super().__init__(
            key,
            f"object {key!r} ({scope}) is in the clear where a sealed object is required, as"
            " the store is encrypted (refused as a downgraded or planted object)",
        )
        self.scope = scope


class SealingUnavailable(SealedObjectError):
    """A sealed object cannot be written or named here (keys not loaded, too large...)."""
