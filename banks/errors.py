"""Errors raised by banks.

    BankError
    ├── InvalidKey            a key that breaks the key rules (names the key and the rule)
    ├── ObjectNotFound        get/head of a key that is not there
    ├── ReadOnlySection       a write through a read-only section
    ├── LeaseHeld             acquire or renew of a lease another owner holds
    ├── BankUnavailable       the store cannot be reached (retryable)
    └── BankFull              the store refuses a write for lack of space

Every error names the bank and the key it concerns; none ever carries a credential.
"""

from __future__ import annotations


class BankError(Exception):
    """Base of every bank error."""

    retryable: bool = False


class InvalidKey(BankError, ValueError):
    """A key that breaks the key rules."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"invalid bank key {key!r}: {rule}")
        self.key = key
        self.rule = rule


class ObjectNotFound(BankError, KeyError):
    """The object is not in the bank."""

    def __init__(self, key: str, bank: str = "") -> None:
        where = f" in bank {bank}" if bank else ""
        super().__init__(f"object {key!r} not found{where}")
        self.key = key

    def __str__(self) -> str:  # KeyError would quote the whole message again
        return str(self.args[0])


class ReadOnlySection(BankError):
    """A write was attempted through a read-only bank section."""

    def __init__(self, prefix: str) -> None:
        super().__init__(f"bank section {prefix!r} is read-only")


class LeaseHeld(BankError):
    """The lease is held by another owner and has not expired."""

    def __init__(self, key: str, owner: str, expires_at: float) -> None:
        super().__init__(f"lease {key!r} is held by {owner!r} until {expires_at:.3f}")
        self.key = key
        self.owner = owner
        self.expires_at = expires_at


class BankUnavailable(BankError):
    """The bank's store could not be reached or answered with a server error."""

    retryable = True


class BankFull(BankError):
    """The bank's store refused a write for lack of space or quota."""
