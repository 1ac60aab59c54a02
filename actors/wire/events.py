"""Progress events: what subscribers (the CLI, dashboards, tests) see of an operation.

Every actor transition emits one. Events are a tagged union, JSON on the wire, versioned
by ``v``. ``routing_key`` gives ``<operation>.<resource type>.<state>`` so a subscriber
of a topic exchange can pick one operation, one resource type or one state.

AMQP refuses a routing key over 255 bytes, and a ``.``, ``*`` or ``#`` inside a part would
split it or turn a subscriber's binding into a wildcard. So each part has ``.``, ``*`` and
``#`` replaced by ``_`` and a byte budget (operation 128, type 96, state 29: with the two
dots, 255); a part over its budget keeps its first bytes and ends ``~`` and 8 hex digits
of its SHA-256, so it stays distinct and stable. Operation ids and resource types a
request may carry fit their budgets (``actors.wire.limits``); only a name from elsewhere
(a rejected request's id, a plugin's type) is ever shortened.
"""

from __future__ import annotations

import functools
import hashlib
import time
from datetime import datetime
from typing import Final, Literal

import msgspec

from actors.wire.failure import FailureInfo

EVENT_VERSION: Final = 1
MAX_ROUTING_KEY_BYTES: Final = 255
OPERATION_PART_BYTES: Final = 128
TYPE_PART_BYTES: Final = 96
STATE_PART_BYTES: Final = MAX_ROUTING_KEY_BYTES - OPERATION_PART_BYTES - TYPE_PART_BYTES - 2


def routing_part(text: str, budget: int = OPERATION_PART_BYTES) -> str:
    """One part of a routing key: no ``.``, ``*`` or ``#``, at most ``budget`` bytes.

    Bind ``routing_part(operation_id) + ".#"`` to follow one operation.
    """
    cleaned = text.replace(".", "_").replace("*", "_").replace("#", "_")
    raw = cleaned.encode("utf-8", errors="replace")
    if len(raw) <= budget:
        return raw.decode("utf-8")  # a lone surrogate became "?": the key must encode
    digest = hashlib.sha256(raw).hexdigest()[:8]
    head = raw[:budget - 9].decode("utf-8", errors="ignore")  # never half a character
    return f"{head}~{digest}"


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """The header every event carries."""

    v: int = EVENT_VERSION
    operation_id: str
    at: float = msgspec.field(default_factory=time.time)

    @property
    def routing_key(self) -> str:
        """``<operation>.<resource type>.<state>``, each part made safe (see the module)."""
        return ".".join((routing_part(self.operation_id, OPERATION_PART_BYTES),
                         routing_part(self._routing_type(), TYPE_PART_BYTES),
                         routing_part(self._routing_state(), STATE_PART_BYTES)))

    def _routing_type(self) -> str:
        return "operation"

    def _routing_state(self) -> str:
        return str(msgspec.inspect.type_info(type(self)).tag)  # type: ignore[attr-defined]


class ResourceEvent(Event, frozen=True, kw_only=True):
    """An event about one resource of an operation."""

    node: int
    resource_type: str
    resource_id: str
    resource_name: str = ""
    activity: str  # "protect_pre", "restore_parallel", ...
    state: str  # the actor's state after the transition
    worker: str = ""

    def _routing_type(self) -> str:
        return self.resource_type

    def _routing_state(self) -> str:
        return self.state


class ActivityStarted(ResourceEvent, frozen=True, kw_only=True, tag="activity_started"):
    """A resource entered an activity (a no-op activity publishes only ActivityFinished)."""


class ActivityFinished(ResourceEvent, frozen=True, kw_only=True, tag="activity_finished"):
    """A resource finished an activity."""


class ActivityFailed(ResourceEvent, frozen=True, kw_only=True, tag="activity_failed"):
    """An activity raised or timed out; the resource is failed."""

    failure: FailureInfo


class ActivityProgress(ResourceEvent, frozen=True, kw_only=True, tag="activity_progress"):
    """Bytes moved so far by a data-moving activity."""

    bytes_done: int
    bytes_total: int | None = None


class ResourceStopped(ResourceEvent, frozen=True, kw_only=True, tag="resource_stopped"):
    """A resource stopped without finishing: ``cancelled`` (interrupted) or ``skipped``."""

    reason: str = ""


class OperationStarted(Event, frozen=True, kw_only=True, tag="operation_started"):
    """An operation opened its checkpoint and released its roots."""

    operation_type: str
    provider_id: str
    checkpoint_id: str
    resource_count: int
    request_id: str | None = None

    def _routing_state(self) -> str:
        return "started"


class OperationFinished(Event, frozen=True, kw_only=True, tag="operation_finished"):
    """An operation ended: ``succeeded``, ``failed`` or ``cancelled``.

    A restore's ``restored`` maps each resource it restored (``type#id``) to where it went
    (a directory root: its target directory; a cloud resource: its new id); None for the
    other operations.
    """

    operation_type: str
    checkpoint_id: str
    status: str
    error: str | None = None
    error_resource: str | None = None
    resource_count: int = 0
    duration: float = 0.0
    # aborts (undoing a finished pre) that raised or timed out: "<type>#<id>: <error>";
    # ``error`` stays the operation's first failure
    abort_failures: list[str] = msgspec.field(default_factory=list)
    restored: dict[str, str] | None = None

    def _routing_state(self) -> str:
        return self.status


class RequestRejected(Event, frozen=True, kw_only=True, tag="request_rejected"):
    """A request could not be decoded or validated, or was forbidden; it was not carried
    out. A refusal's ``reason`` starts ``forbidden:``; ``user_id`` is the publisher's
    broker user when the message carried one, ``request_kind`` the request's kind."""

    request_id: str | None = None
    reason: str
    user_id: str | None = None
    request_kind: str | None = None
    subject: list[str] = msgspec.field(default_factory=list)

    def _routing_state(self) -> str:
        return "rejected"


class RequestAccepted(Event, frozen=True, kw_only=True, tag="request_accepted"):
    """The audit record of a request a worker accepted: who asked for what."""

    request_id: str
    user_id: str | None = None
    request_kind: str
    subject: list[str] = msgspec.field(default_factory=list)
    keystone: str | None = None  # the token's user@project, for OpenStack providers
    project_id: str | None = None  # the project the operation acts for

    def _routing_state(self) -> str:
        return "accepted"


class RequestDuplicate(Event, frozen=True, kw_only=True, tag="request_duplicate"):
    """A request named an operation that exists (``reason``: ``exists``, ``being
    submitted`` or ``running on this worker``): nothing new was started, and the request
    was acked, not set aside. A client that published again (after a lost confirm, say)
    follows ``operation_id`` as before; a client that reused an id learns it here."""

    request_id: str
    reason: str
    user_id: str | None = None
    request_kind: str
    subject: list[str] = msgspec.field(default_factory=list)

    def _routing_state(self) -> str:
        return "duplicate"


class PlanEvent(Event, frozen=True, kw_only=True):
    """An event about a plan; routing ``<operation>.plan.<state>``."""

    plan_id: str
    plan_name: str
    worker: str = ""

    def _routing_type(self) -> str:
        return "plan"


class SlotEvent(PlanEvent, frozen=True, kw_only=True):
    """How one slot of a plan's schedule ended: exactly one of scheduled, skipped and
    missed per slot, whichever worker decided it. ``operation_id`` is the slot's request
    id (the operation's id when it ran)."""

    slot: datetime  # UTC


class SlotScheduled(SlotEvent, frozen=True, kw_only=True, tag="slot_scheduled"):
    """The slot's protect was submitted; ``operation_id`` is its operation."""

    def _routing_state(self) -> str:
        return "scheduled"


class SlotSkipped(SlotEvent, frozen=True, kw_only=True, tag="slot_skipped"):
    """The slot came and nothing ran: ``reason`` says why (``previous operation <id>
    still running``, or the plan's protect was refused)."""

    reason: str

    def _routing_state(self) -> str:
        return "skipped"


class SlotMissed(SlotEvent, frozen=True, kw_only=True, tag="slot_missed"):
    """The slot passed with no worker to run it within the grace period (or while the
    plan was being decided elsewhere); ``missed_count`` counts it with those passed with it
    that this event stands for."""

    missed_count: int = 1

    def _routing_state(self) -> str:
        return "missed"


class PlanChanged(PlanEvent, frozen=True, kw_only=True, tag="plan_changed"):
    """A plan request was carried out: the plan was ``created``, ``updated`` or
    ``deleted``; ``operation_id`` is the request's id."""

    action: Literal["created", "updated", "deleted"]
    request_id: str
    user_id: str | None = None

    def _routing_state(self) -> str:
        return self.action


class RetentionApplied(PlanEvent, frozen=True, kw_only=True, tag="retention_applied"):
    """A plan's retention policy was applied after a protect; ``deleted`` lists the
    checkpoints whose delete was submitted, ``kept`` how many stay."""

    deleted: list[str] = msgspec.field(default_factory=list)
    kept: int = 0

    def _routing_state(self) -> str:
        return "retention"


AnyEvent = (
    ActivityStarted
    | ActivityFinished
    | ActivityFailed
    | ActivityProgress
    | ResourceStopped
    | OperationStarted
    | OperationFinished
    | RequestRejected
    | RequestAccepted
    | RequestDuplicate
    | SlotScheduled
    | SlotSkipped
    | SlotMissed
    | PlanChanged
    | RetentionApplied
)

def event_kind(event: Event) -> str:
    """The event's tag (``activity_finished``, ``operation_started``, ...)."""
    return _tag_of(type(event))


@functools.cache
def _tag_of(event_type: type[Event]) -> str:
    return str(msgspec.inspect.type_info(event_type).tag)  # type: ignore[attr-defined]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """Encode an event as JSON."""
    return _encoder.encode(event)


def decode_event(raw: bytes) -> AnyEvent:
    """Decode an event.

    Raises:
        msgspec.DecodeError: if the bytes are not an event.
    """
    event: AnyEvent = _decoder.decode(raw)
    return event
