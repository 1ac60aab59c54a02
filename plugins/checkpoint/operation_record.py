"""The durable record of one operation (``/operations/<id>/index``).

Written when the operation opens and when it ends, so anyone sharing the bank (``strongbox
watch`` in another terminal, another worker) can follow it with its journal.
"""

from __future__ import annotations

import msgspec

from banks.base import Bank
from banks.errors import ObjectNotFound
from banks.keys import encode_segment


class OperationRecord(msgspec.Struct, kw_only=True):
    """What an operation is and how it ended."""

    v: int = 1
    id: str
    type: str
    provider_id: str
    checkpoint_id: str
    status: str  # running | succeeded | failed | cancelled
    started_at: float
    finished_at: float | None = None
    resource_count: int = 0
    error: str | None = None
    error_resource: str | None = None
    request_id: str | None = None
    worker: str = ""
    # aborts that raised or timed out: "<type>#<id>: <error>" (the error is the first failure)
    abort_failures: list[str] = msgspec.field(default_factory=list)
    restored: dict[str, str] | None = None  # a restore's: resource key -> where it went


def operation_record_key(operation_id: str) -> str:
    """The bank key of an operation's record."""
    return f"/operations/{encode_segment(operation_id)}/index"


async def write_operation_record(bank: Bank, record: OperationRecord) -> None:
    """Store (replace) an operation's record."""
    await bank.put(operation_record_key(record.id), msgspec.json.encode(record))


async def read_operation_record(bank: Bank, operation_id: str) -> OperationRecord | None:
    """An operation's record, or None if it never opened."""
    try:
        data = await bank.get(operation_record_key(operation_id))
    except ObjectNotFound:
        return None
    return msgspec.json.decode(data, type=OperationRecord)
