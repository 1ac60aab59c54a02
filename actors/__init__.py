"""Actors: the engine side. ``cli`` > ``service`` > ``plans`` > ``operations`` > ``runtime``
> ``transport`` > ``wire``, each importing only those after it (docs/architecture.md)."""

from actors.operations.engine import Engine
from actors.transport.base import Transport
from actors.transport.memory import MemoryTransport
from actors.wire.events import AnyEvent, OperationFinished
from actors.wire.requests import CancelRequest, DeleteRequest, ProtectRequest, RestoreRequest

__all__ = [
    "AnyEvent",
    "CancelRequest",
    "DeleteRequest",
    "Engine",
    "MemoryTransport",
    "OperationFinished",
    "ProtectRequest",
    "RestoreRequest",
    "Transport",
]
