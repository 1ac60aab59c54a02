"""Actor messages: one tagged union, JSON on the wire, versioned by ``v``.

An actor is addressed by ``(operation_id, to)``: ``to`` is the resource's node index in
the operation's graph, or ``OPERATION_NODE`` for the operation actor. New fields get
defaults; tags never change.
"""

from __future__ import annotations

from typing import Final

import msgspec

from actors.errors import MessageDecodeError
from actors.wire.failure import FailureInfo

OPERATION_NODE: Final = -1
MESSAGE_VERSION: Final = 1


class ActorMessage(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """The header every actor message carries."""

    v: int = MESSAGE_VERSION
    operation_id: str
    to: int


class Start(ActorMessage, frozen=True, kw_only=True, tag="start"):
    """Sets an operation in motion (to the operation actor)."""


class ParentPreDone(ActorMessage, frozen=True, kw_only=True, tag="parent_pre_done"):
    """Parent ``sender`` finished its pre activity (or the operation opened, sender -1)."""

    sender: int


class ChildPostDone(ActorMessage, frozen=True, kw_only=True, tag="child_post_done"):
    """Child ``sender`` finished its post activity."""

    sender: int


class Failed(ActorMessage, frozen=True, kw_only=True, tag="failed"):
    """Resource ``sender`` failed (to the operation actor)."""

    sender: int
    activity: str
    failure: FailureInfo


class Cancel(ActorMessage, frozen=True, kw_only=True, tag="cancel"):
    """Stop: cancel the running activity, skip the rest, reply Stopped to the operation."""

    reason: str


class ChildAbortDone(ActorMessage, frozen=True, kw_only=True, tag="child_abort_done"):
    """Child ``sender`` stopped and its abort is over (finished, failed or timed out), or it
    needed none: its pre never finished, or its post did. A parent's abort waits for one
    from every child."""

    sender: int


class Stopped(ActorMessage, frozen=True, kw_only=True, tag="stopped"):
    """Resource ``sender`` reached a final state after a Cancel, its abort (if it needed
    one) included (to the operation actor). ``abort_failure``: its abort raised or timed
    out."""

    sender: int
    state: str
    abort_failure: FailureInfo | None = None


Message = Start | ParentPreDone | ChildPostDone | Failed | Cancel | Stopped | ChildAbortDone

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Message)
_batch_decoder = msgspec.json.Decoder(list[Message])


def encode_message(message: Message) -> bytes:
    """Encode one message as JSON."""
    return _encoder.encode(message)


def encode_messages(messages: list[Message]) -> bytes:
    """Encode a batch of messages as one JSON array (one AMQP message for many hops)."""
    return _encoder.encode(messages)


def decode_message(raw: bytes) -> Message:
    """Decode one message.

    Raises:
        MessageDecodeError: carrying the raw bytes, if they are not a message we know.
    """
    try:
        message: Message = _decoder.decode(raw)
    except msgspec.DecodeError as error:
        raise MessageDecodeError(str(error), raw) from error
    if message.v != MESSAGE_VERSION:
        raise MessageDecodeError(f"message version {message.v} is not supported", raw)
    return message


def decode_messages(raw: bytes) -> list[Message]:
    """Decode a batch encoded by :func:`encode_messages`.

    Raises:
        MessageDecodeError: carrying the raw bytes.
    """
    try:
        messages: list[Message] = _batch_decoder.decode(raw)
        return messages
    except msgspec.DecodeError as error:
        raise MessageDecodeError(str(error), raw) from error
