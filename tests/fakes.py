"""Test plugins, in one place: recording, failing, slow and shaped activities.

Every fake records what really ran in ``self.calls`` as ``(resource key, activity)``, so
tests can compare what the plugin saw with what the events say.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import msgspec

from plugins.base import ProtectionPlugin
from plugins.errors import PluginError
from plugins.resource import Resource

TEST_TYPE = "Test::Node"


class FakeParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per-resource behaviour, set through ordinary protect parameters."""

    delay: float = 0.0
    fail_at: str | None = None  # e.g. "protect_parallel"
    hang_at: str | None = None


class _Recording(ProtectionPlugin):
    supported_resource_types: ClassVar[frozenset[str]] = frozenset({"*"})
    Parameters = FakeParameters
    RestoreParameters = FakeParameters

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, str]] = []
        self.running: dict[str, int] = {}
        self._lock = threading.Lock()

    def _enter(self, resource: Resource, activity: str, parameters: FakeParameters) -> None:
        with self._lock:
            self.calls.append((resource.key, activity))
        if getattr(parameters, "fail_at", None) == activity:  # delete takes no parameters
            raise RuntimeError(f"{resource.key} failed in {activity} on purpose")


class RecordingProtection(_Recording):
    """Coroutine activities that sleep ``delay`` seconds (the simulated work)."""

    async def _act(self, resource: Resource, activity: str, parameters: FakeParameters) -> None:
        self._enter(resource, activity, parameters)
        if getattr(parameters, "hang_at", None) == activity:
            await asyncio.Event().wait()
        if getattr(parameters, "delay", 0.0):
            await asyncio.sleep(parameters.delay)

    async def activity_protect_pre(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "protect_pre", parameters)

    async def activity_protect_parallel(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "protect_parallel", parameters)

    async def activity_protect_post(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "protect_post", parameters)

    async def activity_restore_pre(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "restore_pre", parameters)

    async def activity_restore_parallel(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "restore_parallel", parameters)

    async def activity_restore_post(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "restore_post", parameters)

    async def activity_delete_pre(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "delete_pre", parameters)

    async def activity_delete_parallel(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "delete_parallel", parameters)

    async def activity_delete_post(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "delete_post", parameters)


class ShapesProtection(_Recording):
    """One activity of each shape: plain, coroutine, generator, async generator."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.polls: dict[str, int] = {}
        self.threads: dict[str, str] = {}

    def activity_protect_pre(self, checkpoint, context, resource, parameters) -> None:
        self._enter(resource, "protect_pre", parameters)
        self.threads["protect_pre"] = threading.current_thread().name

    def activity_protect_parallel(
        self, checkpoint, context, resource, parameters
    ) -> Iterator[None]:
        self._enter(resource, "protect_parallel", parameters)
        for _ in range(5):
            self.polls["protect_parallel"] = self.polls.get("protect_parallel", 0) + 1
            self.threads["protect_parallel"] = threading.current_thread().name
            yield
        context.progress(100, 100)

    async def activity_protect_post(self, checkpoint, context, resource, parameters) -> None:
        self._enter(resource, "protect_post", parameters)
        await asyncio.sleep(0)

    async def activity_delete_parallel(
        self, checkpoint, context, resource, parameters
    ) -> AsyncIterator[None]:
        self._enter(resource, "delete_parallel", parameters)
        for _ in range(5):
            self.polls["delete_parallel"] = self.polls.get("delete_parallel", 0) + 1
            yield


class PollingGeneratorProtection(_Recording):
    """A generator that polls forever: only its timeout ends it; records its clean-up."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.cleaned_up = threading.Event()

    def activity_protect_parallel(
        self, checkpoint, context, resource, parameters
    ) -> Iterator[None]:
        self._enter(resource, "protect_parallel", parameters)
        try:
            while True:
                yield
        finally:
            self.cleaned_up.set()


class BlockingProtection(_Recording):
    """A plain function that blocks its thread: proves the event loop is not blocked."""

    def activity_protect_parallel(self, checkpoint, context, resource, parameters) -> None:
        self._enter(resource, "protect_parallel", parameters)
        time.sleep(parameters.delay)


class QuiescingProtection(RecordingProtection):
    """Quiesces its resource in pre, resumes it in post, and resumes it in its abort (a
    coroutine); ``quiesced`` is what is left quiesced. ``fail_at``/``hang_at`` may name
    ``protect_abort``."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.quiesced: set[str] = set()

    async def activity_protect_pre(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "protect_pre", parameters)
        self.quiesced.add(resource.key)

    async def activity_protect_post(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "protect_post", parameters)
        self.quiesced.discard(resource.key)

    async def activity_protect_abort(self, checkpoint, context, resource, parameters) -> None:
        await self._act(resource, "protect_abort", parameters)
        self.quiesced.discard(resource.key)


class PollingAbortProtection(QuiescingProtection):
    """Its abort is a generator that polls three times (in worker threads) before the
    resource counts as resumed."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.polls: dict[str, int] = {}
        self.threads: set[str] = set()

    def activity_protect_abort(  # type: ignore[override]
        self, checkpoint, context, resource, parameters
    ) -> Iterator[None]:
        self._enter(resource, "protect_abort", parameters)
        for _ in range(3):
            with self._lock:
                self.polls[resource.key] = self.polls.get(resource.key, 0) + 1
                self.threads.add(threading.current_thread().name)
            yield
        self.quiesced.discard(resource.key)


class RestoreRefused(PluginError):
    """A test refusal of a restore, naming the resource as a plugin's check does."""

    def __init__(self, resource_key: str) -> None:
        self.resource_key = resource_key
        super().__init__(f"restore of {resource_key} refused on purpose")


class RestoreCheckingProtection(RecordingProtection):
    """Records its restore check as ``(resource key, "check_restore")`` for each resource
    it is given, and refuses the restore when a resource's restore parameters say
    ``fail_at="check_restore"``. From a shared ``hang_at="derive"`` it derives a
    per-resource ``fail_at`` naming the resource (``per_resource_parameters``)."""

    def per_resource_parameters(self, operation, resources, shared) -> dict[str, dict]:
        if shared.get("hang_at") != "derive":
            return {}
        return {resource.key: {"hang_at": None, "fail_at": f"derived for {resource.id}"}
                for resource in resources}

    async def check_restore(self, checkpoint, planned) -> None:
        with self._lock:
            self.calls.extend((resource.key, "check_restore") for resource, _ in planned)
        for resource, parameters in planned:
            if parameters.fail_at == "check_restore":
                raise RestoreRefused(resource.key)


class TickingProtection(_Recording):
    """A protect whose parallel reports progress until it is cancelled: an operation that
    never ends by itself and keeps writing events (for a reader that goes away)."""

    async def activity_protect_parallel(self, checkpoint, context, resource, parameters) -> None:
        self._enter(resource, "protect_parallel", parameters)
        ticks = 0
        while True:
            ticks += 1
            context.progress(ticks)
            await asyncio.sleep(0.01)  # the simulated work between two reports


def node(i: int | str) -> Resource:
    """A test resource."""
    return Resource(type=TEST_TYPE, id=str(i), name=f"node-{i}")
