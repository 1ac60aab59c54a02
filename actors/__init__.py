"""Actors: messages, transports, the resource and operation actors, the engine and the CLI."""

from actors.engine import Engine
from actors.events import AnyEvent, OperationFinished
from actors.memory_transport import MemoryTransport
from actors.requests import CancelRequest, DeleteRequest, ProtectRequest, RestoreRequest
from actors.transport import Transport

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
