"""What the journal says about an operation: the state actors are rebuilt from.

When an actor's mailbox moves to this worker (its previous worker died or lost the
broker), the messages that worker had already consumed are gone. Everything those
messages said is also in the journal, because a message is only sent once the entry that
justifies it is stored: a parent's ``ParentPreDone`` follows its ``<op>_pre`` entry, a
child's ``ChildPostDone`` its ``<op>_post`` entry. So an actor's state is a fold of the
journal: which of its phases finished, which parents finished their pre, which children
their post, and whether the operation is stopping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from banks.base import Bank
from plugins.base import OperationType
from plugins.checkpoint.journal import JournalEntry, read_journal

# Journal activities of the operation actor (node -1).
OPENED = "open"
CANCEL_REQUESTED = "cancel"
# A resource's abort (``actors.runtime.compensation``): it undoes a pre, so it is kept apart.
ABORT_ACTIVITY = "{}_abort"
# Operations whose resources are independent checks: one that fails stops no other.
FAILURES_STOP_NOTHING: frozenset[str] = frozenset({"verify"})


@dataclass(slots=True)
class NodeHistory:
    """One node's journal entries, folded."""

    done: set[str] = field(default_factory=set)
    final_state: str | None = None  # failed | cancelled | skipped
    reason: str | None = None
    # its abort (``<op>_abort``): done | failed; never its final state nor a first failure
    abort_state: str | None = None
    abort_reason: str | None = None


@dataclass(slots=True)
class JournalSnapshot:
    """The journal of one operation as read at ``taken_at`` (monotonic seconds)."""

    operation_type: OperationType
    taken_at: float
    nodes: dict[int, NodeHistory]
    opened: bool = False
    cancel_reason: str | None = None
    first_failure: tuple[int, str] | None = None  # the first that stops the operation

    def history(self, node: int) -> NodeHistory:
        """The node's entries (empty if it has none)."""
        return self.nodes.get(node) or NodeHistory()

    def phase_done(self, node: int, phase: str) -> bool:
        """Whether ``node`` finished the activity of ``phase`` in this operation."""
        found = self.nodes.get(node)
        return found is not None and f"{self.operation_type}_{phase}" in found.done

    @property
    def stopping(self) -> bool:
        """Whether the operation was told to stop (a cancel, or a resource failed)."""
        return self.cancel_reason is not None or self.first_failure is not None


def fold(entries: list[JournalEntry], operation_type: OperationType) -> JournalSnapshot:
    """Fold journal entries (any order across writers) into a snapshot."""
    snapshot = JournalSnapshot(operation_type=operation_type, taken_at=time.monotonic(),
                               nodes={})
    for entry in sorted(entries, key=lambda e: e.at):
        if entry.node < 0:
            if entry.activity == OPENED:
                snapshot.opened = True
            elif entry.activity == CANCEL_REQUESTED and snapshot.cancel_reason is None:
                snapshot.cancel_reason = entry.reason or "cancelled"
            continue
        history = snapshot.nodes.setdefault(entry.node, NodeHistory())
        if entry.activity == ABORT_ACTIVITY.format(operation_type):
            if history.abort_state is None:
                history.abort_state, history.abort_reason = entry.state, entry.reason
            continue
        if entry.state == "done":
            history.done.add(entry.activity)
        elif history.final_state is None:
            history.final_state = entry.state
            history.reason = entry.reason
            if (entry.state == "failed" and snapshot.first_failure is None
                    and operation_type not in FAILURES_STOP_NOTHING):
                snapshot.first_failure = (entry.node, entry.reason or "failed")
    return snapshot


async def take_snapshot(bank: Bank, operation_id: str,
                        operation_type: OperationType) -> JournalSnapshot:
    """Read the whole journal of an operation now."""
    taken_at = time.monotonic()  # before reading: entries stored later may be missing
    snapshot = fold(await read_journal(bank, operation_id), operation_type)
    snapshot.taken_at = taken_at
    return snapshot
