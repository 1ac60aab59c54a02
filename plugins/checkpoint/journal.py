"""The operation journal: each finished activity, recorded in the bank before it counts.

An actor's in-memory state is a cache of this journal. Entries are appended in batches
(group commit): every waiter whose entry was in a batch resumes once that batch's bank
object is written, so one bank write covers many resources under load while a lone
entry is written at once. Segments live at
``/operations/<operation id>/journal/<writer>/<sequence>`` so that several workers can
write one operation's journal without coordinating.

A segment whose bank is unavailable (after the bank's own retries) is tried again for up
to ``RETRY_WINDOW`` before its entries are given up: an actor rebuilt from the journal
(another worker taking its shard over) knows only what was written, and an entry lost to
a store's hiccup of a few seconds left an operation that had failed and stopped looking
as if it had neither, waiting for messages already sent (found by the chaos suite's
``bank_503``: a protect that then ran until its deadline). The waiters wait meanwhile, so
the delivery that led to the entry is not acked and its shard is not handed on.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import msgspec
import structlog

from banks.base import Bank
from banks.errors import BankUnavailable
from banks.keys import encode_segment

log = structlog.get_logger(__name__)

EntryState = Literal["done", "failed", "cancelled", "skipped"]

# how long a segment is tried again while its bank is unavailable, and the pause between
RETRY_WINDOW = 30.0
RETRY_PAUSE = 1.0


class JournalEntry(msgspec.Struct, array_like=True, frozen=True):
    """One activity of one resource (``node`` index; -1 is the operation) reached ``state``."""

    node: int
    activity: str
    state: EntryState
    at: float
    reason: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[JournalEntry])


def journal_prefix(operation_id: str) -> str:
    """The bank prefix holding an operation's journal segments."""
    return f"/operations/{encode_segment(operation_id)}/journal/"


class Journal:
    """Appends entries for one operation from one writer, in group-committed segments."""

    def __init__(self, bank: Bank, operation_id: str, writer: str) -> None:
        self._bank = bank
        self._prefix = journal_prefix(operation_id) + encode_segment(writer) + "/"
        self._sequence = 0
        self._pending: list[JournalEntry] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, node: int, activity: str, state: EntryState,
                     reason: str | None = None) -> None:
        """Append one entry and return once it is stored in the bank.

        Raises:
            BankError: if the segment holding it could not be written.
        """
        self._pending.append(JournalEntry(node, activity, state, time.time(), reason))
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        await waiter

    def append(self, node: int, activity: str, state: EntryState,
               reason: str | None = None) -> None:
        """Append one entry without waiting for it to be stored.

        For entries whose loss is harmless (a no-op activity runs again for free after a
        crash); :meth:`close` still waits for them.
        """
        self._pending.append(JournalEntry(node, activity, state, time.time(), reason))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending:
            batch, waiters = self._pending, self._waiters
            self._pending, self._waiters = [], []
            self._sequence += 1
            key = f"{self._prefix}{self._sequence:010d}"
            try:
                await self._put(key, _encoder.encode(batch))
            except Exception as error:  # every waiter must learn the write failed
                log.error("journal_write_failed", key=key, entries=len(batch), error=str(error))
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(error)
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _put(self, key: str, data: bytes) -> None:
        """Write one segment, again while the bank is unavailable (see the module)."""
        started = time.monotonic()
        while True:
            try:
                await self._bank.put(key, data)
                return
            except BankUnavailable as error:
                if time.monotonic() - started + RETRY_PAUSE > RETRY_WINDOW:
                    raise
                log.warning("journal_write_retried", key=key, error=str(error))
                await asyncio.sleep(RETRY_PAUSE)

    async def sync(self) -> None:
        """Return once every entry appended so far is stored (or its write failed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        """Wait for the last batch to be written."""
        await self.sync()


async def read_journal(bank: Bank, operation_id: str) -> list[JournalEntry]:
    """Every entry of an operation, from every writer, in segment order per writer."""
    entries: list[JournalEntry] = []
    async for key in bank.list_all(journal_prefix(operation_id)):
        entries.extend(_decoder.decode(await bank.get(key)))
    return entries
