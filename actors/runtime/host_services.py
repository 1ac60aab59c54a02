"""What an actor asks of the host that holds it: transport, limits, leases, progress.

A ``Protocol`` below both, so that the actors need not know the ``ActorHost`` that
creates them (the host imports the actors; the actors import only this).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from actors.runtime.activity_runner import ActivityRunner
from actors.runtime.operation_run import OperationRun
from actors.runtime.progress import ProgressReporter
from actors.transport.base import Transport
from actors.wire.events import OperationFinished
from banks.base import Bank
from plugins.base import ProtectionPlugin


class HostServices(Protocol):
    """The part of ``actors.runtime.host.ActorHost`` that its actors use."""

    transport: Transport
    worker_id: str
    runner: ActivityRunner
    activity_slots: asyncio.Semaphore
    lease_ttl: float
    gc_wait: float

    @property
    def durable(self) -> bool:
        """Whether the transport redelivers unsettled messages to another worker."""

    def plugin_slots(self, plugin: ProtectionPlugin) -> contextlib.AbstractAsyncContextManager[Any]:
        """The bound on the plugin's concurrent activities on this worker."""

    def bank_of(self, run: OperationRun) -> Bank:
        """The bank an operation writes to."""

    def progress_reporter(self, fields: dict[str, Any]) -> ProgressReporter:
        """A progress callback for one activity."""

    def finished(self, operation_id: str, event: OperationFinished) -> None:
        """Called by an operation actor when its operation ended."""
