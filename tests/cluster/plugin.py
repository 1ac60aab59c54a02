"""A protection plugin for cluster tests whose results live in the bank, not in a process.

Protect writes, for each resource, bytes derived from its key into the checkpoint's bank
section (after ``delay`` seconds of simulated work); restore writes those bytes into a
file under ``target``. A resource whose protect never completed (a lost activity result)
fails the restore, and the restored files can be compared with the expected bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from typing import ClassVar

import msgspec

from bench.synthetic import BenchProject, BenchServer, BenchVolume
from plugins.base import ProtectionPlugin
from plugins.registry import PluginRegistry
from plugins.resource import Resource

PLUGIN_NAME = "cluster-data"
QUIESCING_PLUGIN = "cluster-quiescing"


def expected_bytes(key: str) -> bytes:
    """What protect stores for the resource with this key."""
    return hashlib.sha256(key.encode()).digest() * 64


def restored_name(key: str) -> str:
    """The file name restore writes a resource's bytes to."""
    return hashlib.sha256(key.encode()).hexdigest()


class DataParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    delay: float = 0.0


class RestoreTarget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    target: str = ""
    delay: float = 0.0


class ClusterDataProtection(ProtectionPlugin):
    """Stores and restores a few KiB per resource through the bank."""

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({"*"})
    Parameters = DataParameters
    RestoreParameters = RestoreTarget

    async def activity_protect_parallel(self, checkpoint, context, resource: Resource,
                                        parameters: DataParameters) -> None:
        await asyncio.sleep(parameters.delay)
        await checkpoint.bank_section(resource).put("data", expected_bytes(resource.key))

    async def activity_restore_parallel(self, checkpoint, context, resource: Resource,
                                        parameters: RestoreTarget) -> None:
        await asyncio.sleep(parameters.delay)
        data = await checkpoint.bank_section(resource).get("data")
        path = os.path.join(parameters.target, restored_name(resource.key))
        await asyncio.to_thread(_write, path, data)


class QuiesceParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    marks: str = ""
    fail_at: str | None = None
    hang_at: str | None = None
    delay: float = 0.0
    abort_delay: float = 0.0


def marks_name(key: str) -> str:
    """The file (under ``marks``) where a resource's quiesce, resume and aborts are noted."""
    return key.replace(":", "_").replace("#", "_")


class ClusterQuiescingProtection(ProtectionPlugin):
    """Quiesces in pre, resumes in post or in its abort, noting each in a file every
    process sees: ``quiesced``, ``resumed``, and one ``abort_started``/``abort_ended``
    line per abort (with the time and the process id), so a test can count aborts across
    workers that die."""

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({"*"})
    Parameters = QuiesceParameters

    async def activity_protect_pre(self, checkpoint, context, resource: Resource,
                                   parameters: QuiesceParameters) -> None:
        await self._step(resource, "protect_pre", parameters)
        await asyncio.to_thread(_note, parameters.marks, resource.key, "quiesced")

    async def activity_protect_parallel(self, checkpoint, context, resource: Resource,
                                        parameters: QuiesceParameters) -> None:
        await self._step(resource, "protect_parallel", parameters)

    async def activity_protect_post(self, checkpoint, context, resource: Resource,
                                    parameters: QuiesceParameters) -> None:
        await self._step(resource, "protect_post", parameters)
        await asyncio.to_thread(_note, parameters.marks, resource.key, "resumed")

    async def activity_protect_abort(self, checkpoint, context, resource: Resource,
                                     parameters: QuiesceParameters) -> None:
        await asyncio.to_thread(_note, parameters.marks, resource.key, "abort_started")
        await asyncio.sleep(parameters.abort_delay)
        await asyncio.to_thread(_note, parameters.marks, resource.key, "abort_ended")

    async def _step(self, resource: Resource, activity: str,
                    parameters: QuiesceParameters) -> None:
        await asyncio.sleep(parameters.delay)
        if parameters.fail_at == activity:
            raise RuntimeError(f"{resource.key} failed in {activity} on purpose")
        if parameters.hang_at == activity:
            await asyncio.Event().wait()


def read_marks(marks: str, key: str) -> list[tuple[str, float, int]]:
    """What ``ClusterQuiescingProtection`` noted for a resource: (what, when, process id),
    in order."""
    path = os.path.join(marks, marks_name(key))
    if not os.path.exists(path):
        return []
    with open(path) as file:
        rows = [line.split() for line in file if line.strip()]
    return [(what, float(when), int(pid)) for what, when, pid in rows]


def _note(marks: str, key: str, what: str) -> None:
    with open(os.path.join(marks, marks_name(key)), "a") as file:
        file.write(f"{what} {time.time()} {os.getpid()}\n")


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)


def cluster_registry() -> PluginRegistry:
    """The registry a cluster test worker runs with: the entry points, plus these."""
    registry = PluginRegistry()
    registry.register_protection(PLUGIN_NAME, ClusterDataProtection, replace=True)
    registry.register_protection(QUIESCING_PLUGIN, ClusterQuiescingProtection, replace=True)
    for cls in (BenchProject, BenchServer, BenchVolume):
        registry.register_protectable(cls, replace=True)
    return registry
