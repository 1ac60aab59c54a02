"""Errors raised by the chunk store.

    BankError                       (banks.errors)
    └── ChunkStoreError
        ├── ChunkStoreConfigError   the store's settings or stored config are wrong or missing
        │   └── NoChunkStore        the bank holds no chunk store (and none was to be created)
        ├── KeyRequired             the store is encrypted and no passphrase or key file was given
        ├── WrongKey                the passphrase or key file does not open the store's key
        ├── ChunkNotFound           a referenced chunk is not in the bank
        └── CorruptChunk            a chunk fails authentication, decoding or its hash check

Every message names the bank (and the chunk, where there is one); none ever carries a
passphrase, a key or key material.
"""

from __future__ import annotations

from banks.errors import BankError


class ChunkStoreError(BankError):
    """Base of every chunk store error."""


class ChunkStoreConfigError(ChunkStoreError):
    """An option or the stored ``/chunks/config`` is invalid, or the modes disagree.

    ``where`` says whose: ``bank filesystem`` or ``options of [directory]``.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        super().__init__(f"chunk store ({where}): {reason}")


class NoChunkStore(ChunkStoreConfigError):
    """The bank holds no ``/chunks/config``, and the caller did not ask to create one.

    ``configured_encryption`` is what the options that looked for it ask of a store
    (``"none"`` or a cipher): a reader that finds no store has only the operator's
    settings to tell whether plaintext is acceptable, since whoever can write the bank
    can also delete its config.
    """

    def __init__(self, bank: str, config_key: str, configured_encryption: str) -> None:
        self.bank = bank
        self.configured_encryption = configured_encryption
        super().__init__(f"bank {bank}", f"holds no chunk store ({config_key})")


class KeyRequired(ChunkStoreError):
    """The store is (or would be) encrypted and no secret was configured.

    ``needed_for``, if given, says what could not be read without it (a checkpoint's
    manifest), so the message names it.
    """

    def __init__(self, bank: str, needed_for: str | None = None) -> None:
        self.bank = bank
        self.needed_for = needed_for
        super().__init__(
            f"chunk store in bank {bank} is encrypted{_for(needed_for)}: give a passphrase"
            " (option 'passphrase' or $STRONGBOX_PASSPHRASE) or a key file (option"
            " 'key_file' or $STRONGBOX_KEY_FILE), or configure 'encryption = none' for a"
            " new store"
        )

    def needed(self, what: str) -> KeyRequired:
        """The same error, naming ``what`` could not be read without the key."""
        return KeyRequired(self.bank, what)


class WrongKey(ChunkStoreError):
    """The passphrase or key file given does not unwrap the store's master key.

    ``needed_for``: as for :class:`KeyRequired`.
    """

    def __init__(self, bank: str, needed_for: str | None = None) -> None:
        self.bank = bank
        self.needed_for = needed_for
        super().__init__(
            f"chunk store in bank {bank}: the passphrase or key file does not open its key"
            + _for(needed_for)
        )

    def needed(self, what: str) -> WrongKey:
        """The same error, naming ``what`` could not be read without the key."""
        return WrongKey(self.bank, what)


def _for(needed_for: str | None) -> str:
    return f" (needed to read {needed_for})" if needed_for else ""


class ChunkNotFound(ChunkStoreError):
    """A chunk a manifest refers to is missing from the bank."""

    def __init__(self, bank: str, chunk_id: str) -> None:
        self.bank = bank
        self.chunk_id = chunk_id
        super().__init__(f"chunk {chunk_id} is missing from bank {bank}")


class CorruptChunk(ChunkStoreError):
    """A stored chunk cannot be trusted: it was altered, truncated or is not what its id says."""

    def __init__(self, bank: str, chunk_id: str, reason: str) -> None:
        self.bank = bank
        self.chunk_id = chunk_id
        self.reason = reason
        super().__init__(f"chunk {chunk_id} in bank {bank} is corrupt: {reason}")
