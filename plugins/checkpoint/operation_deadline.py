"""Deadlines of running operations (``/deadlines/<id>``), for whoever must end them.

Every operation has an absolute deadline, kept in its spec (``operation_spec``) so a
worker taking it over arms the same one. The spec lives under the operation's own prefix,
beside its journal; finding every running operation there would mean listing every object
of every operation ever run. So a small entry per *running* operation is kept here as
well: written with the spec, removed when the operation ends. The reaper lists these to
end an operation whose deadline passed and that nobody ended (its messages lost, its
operation actor gone).
"""

from __future__ import annotations

import msgspec
import structlog

from banks.base import Bank
from banks.errors import ObjectNotFound
from banks.keys import decode_segment, encode_segment
from plugins.phases import OperationType

log = structlog.get_logger(__name__)

PREFIX = "/deadlines/"


class DeadlineEntry(msgspec.Struct, kw_only=True, frozen=True):
    """One running operation and when it must have ended (``time.time()`` seconds)."""

    operation_id: str
    type: OperationType
    provider_id: str
    checkpoint_id: str
    deadline: float
    resource_count: int = 0
    started_at: float = 0.0


def deadline_key(operation_id: str) -> str:
    """The bank key of an operation's deadline entry."""
    return PREFIX + encode_segment(operation_id)


async def write_deadline(bank: Bank, entry: DeadlineEntry) -> None:
    """Store (replace) a running operation's deadline entry."""
    await bank.put(deadline_key(entry.operation_id), msgspec.json.encode(entry))


async def remove_deadline(bank: Bank, operation_id: str) -> None:
    """Forget an ended operation's deadline entry (a missing one is fine)."""
    await bank.delete(deadline_key(operation_id))


async def running_deadlines(bank: Bank) -> list[DeadlineEntry]:
    """The deadline entries of every operation not known to have ended.

    An unreadable entry is logged and skipped: one bad object must not hide the others.
    """
    entries: list[DeadlineEntry] = []
    async for key in bank.list_all(PREFIX):
        try:
            entries.append(msgspec.json.decode(await bank.get(key), type=DeadlineEntry))
        except ObjectNotFound:
            continue  # removed while we listed: ended meanwhile
        except msgspec.DecodeError as error:
            log.warning("deadline_entry_unreadable", key=key,
                        operation_id=decode_segment(key.removeprefix(PREFIX)), error=str(error))
    return entries
