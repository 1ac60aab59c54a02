"""Which objects of a bank are sealed in an encrypted store, and the scope each is bound to.

Everything the engine and the plugins write is sealed (``banks.sealed``), except:

- ``/chunks/...``: the chunk store's own objects, its config (the wrapped key: needed to
  open anything) and chunks (already encrypted and authenticated in their own format);
- ``/indices/...``: the listing entries, whose content is the checkpoint id their key
  already shows.

A section object (``/checkpoints/<id>/resource-data/...``) is sealed with the section
key, everything else with the engine key. The scope binds an object to its checkpoint
(``/checkpoints/<id>/...``) or operation (``/operations/<id>/...``, ``/deadlines/<id>``),
besides its key, so none can be moved to another; anything else is bound to its key only.
Unknown prefixes are sealed: a new kind of object is never in the clear by omission.
"""

from __future__ import annotations

import binascii

import msgspec

from banks.keys import decode_segment
from banks.sealed import Purpose

CLEAR_PREFIXES = ("/chunks/", "/indices/")
_SECTION_MARK = "resource-data"


class ObjectPlacement(msgspec.Struct, frozen=True):
    """Whose a sealed object is and what it is bound to."""

    purpose: Purpose
    scope: str


def _named(kind: str, segment: str) -> str:
    try:
        return f"{kind} {decode_segment(segment)}"
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return f"{kind} segment {segment}"


class CheckpointSealing:
    """The sealing layout of a bank holding checkpoints (``banks.sealed.SealingLayout``)."""

    def placement(self, key: str) -> ObjectPlacement | None:
        """None for a key kept in the clear, else the object's purpose and scope."""
        if key.startswith(CLEAR_PREFIXES):
            return None
        parts = key.split("/")
        top = parts[1] if len(parts) > 1 else ""
        if top == "checkpoints" and len(parts) > 3:
            purpose = Purpose.SECTION if parts[3] == _SECTION_MARK else Purpose.ENGINE
            return ObjectPlacement(purpose, _named("checkpoint", parts[2]))
        if top in ("operations", "deadlines") and len(parts) > 2:
            return ObjectPlacement(Purpose.ENGINE, _named("operation", parts[2]))
        return ObjectPlacement(Purpose.ENGINE, "bank")


CHECKPOINT_SEALING = CheckpointSealing()
