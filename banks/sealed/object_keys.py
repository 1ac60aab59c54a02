"""The keys of sealed objects: three HKDF subkeys of the root the chunk store gives.

The chunk store's master key yields, besides its chunk keys, a root for sealed objects
(``banks.chunks.master_key``); HKDF-SHA256 splits that root again so that no key serves
two purposes: one AES-256-GCM key for the objects plugins write through their sections,
one for the objects the engine writes, and one HMAC key that turns resource keys into
the key segments of their sections (so a key name says nothing of the resource).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROOT_SIZE = 32
# keyed names are cut to 128 bits: collisions stay out of reach (2^64 resources) and the
# keys of a section stay short
NAME_HEX_LENGTH = 32


def _expand(root: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)


@dataclass(frozen=True)
class ObjectKeys:
    """The subkeys for sealed objects. ``repr`` never shows them."""

    section_key: bytes = field(repr=False)
    engine_key: bytes = field(repr=False)
    name_key: bytes = field(repr=False)

    @classmethod
    def derive(cls, root: bytes) -> ObjectKeys:
        """Split ``root`` (32 bytes) into the three subkeys.

        Raises:
            ValueError: if ``root`` is not 32 bytes.
        """
        if len(root) != ROOT_SIZE:
            raise ValueError("a sealing root must be 32 bytes")
        return cls(
            section_key=_expand(root, b"strongbox section objects"),
            engine_key=_expand(root, b"strongbox engine objects"),
            name_key=_expand(root, b"strongbox object names"),
        )

    def keyed_name(self, text: str) -> str:
        """A key segment for ``text`` (a resource key) that only a key holder can compute."""
        mac = hmac.new(self.name_key, b"strongbox object name\0", hashlib.sha256)
        mac.update(text.encode("utf-8", "surrogateescape"))
        return mac.hexdigest()[:NAME_HEX_LENGTH]
