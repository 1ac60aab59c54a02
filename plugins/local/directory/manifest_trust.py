"""What a reader trusts of a stored directory manifest: the versions a store reads, and
what the pointer's MAC binds.

An encrypted store promises that whoever can write the bank, but holds no key, can
neither read a tree nor make a restore write a tree of their choosing. Two holes in
manifests of older versions broke the second half:

- *Downgrade*. Versions 1 to 3 keep the manifest whole in the section, in the clear and
  with no MAC; planted in an encrypted store's bank, one was restored as it stood (and
  its ``root`` became the default target). So an encrypted store reads only
  :data:`ENCRYPTED_MINIMUM_VERSION`. A bank with no chunk store at all (one written by
  version 1 only) is judged by the operator's options, not by the bank: deleting
  ``/chunks/config`` must not turn plaintext back on (``NoChunkStore``).
- *Swap*. The version 4 pointer's MAC covered the body and the walk time, not where the
  pointer belongs: one copied from an older checkpoint of the same resource (a silent
  rollback) or from another resource of the same checkpoint passed. The version 5 MAC
  (:func:`pointer_mac`) binds the pointer's version, the checkpoint id and the
  resource's ``type#id`` key as well. Checkpoint ids are unique in a bank (a section's
  path is made of them) and a store's key is its bank's, so a pointer from another
  provider or bank fails too. The chunk list needs no binding: the MAC covers the body
  the chunks make up, and each chunk is authenticated against its keyed id.

Version 4 pointers are refused by an encrypted store rather than read as a legacy form:
any that exist could otherwise be replayed, forever, over any checkpoint or resource,
including over new version 5 ones (the very rollback closed here). An unencrypted store
reads every version: its key is in the clear in ``/chunks/config``, so none of its MACs
can stop whoever writes the bank, and they are checked only against accidents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from banks.chunks import ChunkStore, KeyRequired, NoChunkStore, WrongKey
from plugins.local.directory.errors import ManifestDowngrade
from plugins.local.directory.manifest import MANIFEST_VERSION

# opens the bank's chunk store when a manifest turns out to need it
StoreOpener = Callable[[], Awaitable[ChunkStore]]

ENCRYPTED_MINIMUM_VERSION = MANIFEST_VERSION
_V4_LABEL = b"strongbox directory manifest v4"
_V5_LABEL = b"strongbox directory manifest pointer v5"


async def refuse_downgrade(
    open_store: StoreOpener, version: int, *, resource_key: str, checkpoint_id: str
) -> None:
    """Refuse a manifest of ``version`` if the bank's store is, or is meant to be, encrypted.

    The store is opened (``open_store``) only for a version below the minimum; an
    encrypted one is refused without its key.

    Raises:
        ManifestDowngrade: naming the checkpoint, the resource, the version found and
            the version required.
        ChunkStoreConfigError: the store's config is bad, or is unencrypted while the
            options ask for encryption (refused by the store itself).
    """
    if version >= ENCRYPTED_MINIMUM_VERSION:
        return
    try:
        store = await open_store()
    except NoChunkStore as error:
        if error.configured_encryption == "none":
            return  # the operator chose plaintext, and the bank has no store to say otherwise
        raise _downgrade(
            resource_key, checkpoint_id, version,
            "the bank holds no chunk store and the options ask for an encrypted one",
        ) from error
    except (KeyRequired, WrongKey) as error:
        # only an encrypted store asks for a key
        raise _downgrade(resource_key, checkpoint_id, version, "the store is encrypted") from error
    if store.encrypted:
        raise _downgrade(resource_key, checkpoint_id, version, "the store is encrypted")


async def pointer_mac(
    store: ChunkStore,
    *,
    version: int,
    checkpoint_id: str,
    resource_key: str,
    walked_at_ns: int,
    body: bytes,
) -> str:
    """The MAC a pointer of ``version`` carries (64 hex digits; see the module).

    Version 5: HMAC-SHA256 under the id key of the label, a NUL, then each of version,
    checkpoint id, resource key, walk time and body as an 8-byte big-endian length and
    its bytes (so no two sequences of fields give the same input). Version 4: the label
    of v4, a NUL, the walk time (8 bytes) and the body.
    """
    walk_time = walked_at_ns.to_bytes(8, "big", signed=True)
    if version == 4:
        return await store.keyed_digest(_V4_LABEL, walk_time, body)
    fields = (
        version.to_bytes(8, "big"),
        _text(checkpoint_id),
        _text(resource_key),
        walk_time,
        body,
    )
    # each field after its length, as separate parts: the body is not copied
    parts = [part for field in fields for part in (len(field).to_bytes(8, "big"), field)]
    return await store.keyed_digest(_V5_LABEL, *parts)


def _text(value: str) -> bytes:
    # a path that is not valid UTF-8 arrives as surrogates: keep it exact
    return value.encode("utf-8", "surrogateescape")


def _downgrade(resource_key: str, checkpoint_id: str, version: int, why: str) -> ManifestDowngrade:
    return ManifestDowngrade(resource_key, checkpoint_id, version, ENCRYPTED_MINIMUM_VERSION, why)
