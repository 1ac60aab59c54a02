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
from typing import ClassVar

import msgspec

from bench.synthetic import BenchProject, BenchServer, BenchVolume
from plugins.base import ProtectionPlugin
from plugins.registry import PluginRegistry
from plugins.resource import Resource

PLUGIN_NAME = "cluster-data"


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


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)


def cluster_registry() -> PluginRegistry:
    """The registry a cluster test worker runs with: the entry points, plus these."""
    registry = PluginRegistry()
    registry.register_protection(PLUGIN_NAME, ClusterDataProtection, replace=True)
    for cls in (BenchProject, BenchServer, BenchVolume):
        registry.register_protectable(cls, replace=True)
    return registry
