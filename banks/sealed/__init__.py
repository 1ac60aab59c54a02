"""Sealed objects: a bank's small objects encrypted and bound to their key and scope.

``SealedBank(bank, layout, open_root)`` seals what ``layout`` places sealed with keys
derived from the chunk store's master key (``ObjectKeys``); ``envelope`` is the stored
form. See ``docs/checkpoint-format.md`` ("Sealed objects").
"""

from banks.sealed.bank import Placement, SealedBank, SealingLayout
from banks.sealed.envelope import Purpose, is_sealed
from banks.sealed.errors import (
    PlaintextRefused,
    SealedObjectCorrupt,
    SealedObjectError,
    SealingUnavailable,
)
from banks.sealed.object_keys import ObjectKeys

__all__ = [
    "ObjectKeys",
    "Placement",
    "PlaintextRefused",
    "Purpose",
    "SealedBank",
    "SealedObjectCorrupt",
    "SealedObjectError",
    "SealingLayout",
    "SealingUnavailable",
    "is_sealed",
]
