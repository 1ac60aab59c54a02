"""Request ids every worker derives alike: one per (plan, slot), one per forgotten checkpoint.

A plan's protect for a slot, and retention's delete of a checkpoint, are submitted with
these ids as ``request_id``. The engine keeps one operation per request id, so two workers
that both decide a slot is due (or that a checkpoint goes) start one operation, not two.

The ids are UUID5 in ``PLANS_NAMESPACE`` (fixed for good: changing it would let a worker
of the old version and one of the new both run a slot). A UUID is a valid request id
(``actors.wire.limits.ID_PATTERN``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final

__all__ = ["PLANS_NAMESPACE", "retention_delete_request_id", "slot_request_id"]

PLANS_NAMESPACE: Final = uuid.UUID("bd35b92b-92bc-4a5f-bfc7-ddaf580943a7")


def slot_request_id(plan_id: str, slot: datetime) -> str:
    """The request id of ``plan_id``'s protect for ``slot`` (aware): the same instant in any
    zone gives the same id.

    Raises:
        ValueError: ``slot`` is naive.
    """
    if slot.utcoffset() is None:
        raise ValueError(f"slot: {slot.isoformat()}: naive; give a time zone")
    return str(uuid.uuid5(PLANS_NAMESPACE, f"{plan_id}/{slot.astimezone(UTC).isoformat()}"))


def retention_delete_request_id(plan_id: str, checkpoint_id: str) -> str:
    """The request id of the delete that retention sends for ``checkpoint_id``."""
    return str(uuid.uuid5(PLANS_NAMESPACE, f"{plan_id}/forget/{checkpoint_id}"))
