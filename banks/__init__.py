"""Banks: where checkpoints are kept. The interface, sections and keys at the top; the
implementations in ``filesystem``, ``s3``, ``swift`` (sharing ``object_store``); ``chunks``."""

from banks.base import Bank, Lease, ObjectInfo
from banks.errors import BankError, BankFull, BankUnavailable, ObjectNotFound
from banks.section import BankSection

__all__ = [
    "Bank",
    "BankError",
    "BankFull",
    "BankSection",
    "BankUnavailable",
    "Lease",
    "ObjectInfo",
    "ObjectNotFound",
]
