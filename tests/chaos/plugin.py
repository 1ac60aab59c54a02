"""The chaos suite's resources: a host that is quiesced while its data is protected.

    Chaos::Host#<name>                     pre: quiesce (a marker file), post: thaw,
    ├── Strongbox::Directory#<root>/<name>/a      the real directory plugin
    ├── Strongbox::Directory#<root>/<name>/b
    └── Chaos::Disk#<name>                 pre may raise, parallel stores a little and
                                           takes ``delay`` seconds (the window for faults)

Faults a trial arms before it starts live in ``<root>/faults.json``: ``hang_pre`` (hosts
whose pre hangs past the plugin's timeout) and ``raise_pre`` (hosts whose disk raises in
pre, after the host was quiesced). ``<root>/quiesced/<name>`` exists while a host is
quiesced: whatever ends an operation must leave none behind.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import msgspec

from plugins.base import PluginOptions, ProtectablePlugin, ProtectionPlugin
from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.local.directory.protectable import DIRECTORY_TYPE, DirectoryProtectable
from plugins.registry import PluginRegistry
from plugins.resource import Resource

HOST = "Chaos::Host"
DISK = "Chaos::Disk"
ROOT_ENV = "STRONGBOX_CHAOS_ROOT"
DIRECTORIES = ("a", "b")


def chaos_root() -> Path:
    return Path(os.environ[ROOT_ENV])


def faults() -> dict[str, list[str]]:
    path = chaos_root() / "faults.json"
    return json.loads(path.read_text()) if path.exists() else {}


def quiesce_marker(host: str) -> Path:
    return chaos_root() / "quiesced" / host


class HostProtectable(ProtectablePlugin):
    """Hosts are the directories under ``<root>/hosts``."""

    resource_type = HOST

    async def list_resources(self, context: RequestContext,
                             parameters: Mapping[str, Any] | None = None) -> list[Resource]:
        hosts = chaos_root() / "hosts"
        return [Resource(type=HOST, id=p.name, name=p.name) for p in sorted(hosts.iterdir())]

    async def show_resource(self, context: RequestContext, resource_id: str,
                            parameters: Mapping[str, Any] | None = None) -> Resource:
        if not (chaos_root() / "hosts" / resource_id).is_dir():
            raise ResourceNotFound(HOST, resource_id, "no such host")
        return Resource(type=HOST, id=resource_id, name=resource_id)

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        return []


class HostDirectories(DirectoryProtectable):
    """The real directory protectable, which also finds a host's directories."""

    parent_resource_types = frozenset({HOST})

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        if parent.type != HOST:
            return []
        base = chaos_root() / "hosts" / parent.id
        return [Resource(type=DIRECTORY_TYPE, id=str(base / name), name=name)
                for name in DIRECTORIES]


class DiskProtectable(ProtectablePlugin):
    """One disk per host."""

    resource_type = DISK
    parent_resource_types = frozenset({HOST})

    async def list_resources(self, context: RequestContext,
                             parameters: Mapping[str, Any] | None = None) -> list[Resource]:
        return []

    async def show_resource(self, context: RequestContext, resource_id: str,
                            parameters: Mapping[str, Any] | None = None) -> Resource:
        return Resource(type=DISK, id=resource_id, name=resource_id)

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        return [Resource(type=DISK, id=parent.id, name=parent.id)] if parent.type == HOST \
            else []


class HostProtection(ProtectionPlugin):
    """Quiesce in pre, thaw in post, and thaw when the operation fails after pre."""

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({HOST})
    Options = PluginOptions

    async def activity_protect_pre(self, checkpoint: Any, context: Any, resource: Resource,
                                   parameters: Any) -> None:
        marker = quiesce_marker(resource.id)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        try:
            if resource.id in faults().get("hang_pre", []):
                await asyncio.sleep(3600)  # past the plugin's timeout: the runtime cuts it off
        except BaseException:
            # a pre that does not finish gets no abort: it undoes its own half-work
            marker.unlink(missing_ok=True)
            raise

    async def activity_protect_post(self, checkpoint: Any, context: Any, resource: Resource,
                                    parameters: Any) -> None:
        quiesce_marker(resource.id).unlink(missing_ok=True)

    async def activity_protect_abort(self, checkpoint: Any, context: Any, resource: Resource,
                                     parameters: Any) -> None:
        quiesce_marker(resource.id).unlink(missing_ok=True)


class DiskParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    delay: float = 0.0


class DiskProtection(ProtectionPlugin):
    """Stores a few bytes per disk, slowly; may raise in pre."""

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({DISK})
    Parameters = DiskParameters
    Options = PluginOptions

    async def activity_protect_pre(self, checkpoint: Any, context: Any, resource: Resource,
                                   parameters: DiskParameters) -> None:
        if resource.id in faults().get("raise_pre", []):
            raise RuntimeError(f"disk {resource.id} failed in pre (a chaos fault)")

    async def activity_protect_parallel(self, checkpoint: Any, context: Any,
                                        resource: Resource, parameters: DiskParameters) -> None:
        await asyncio.sleep(parameters.delay)
        await checkpoint.bank_section(resource).put("disk", resource.id.encode() * 64)


def chaos_registry() -> PluginRegistry:
    """The entry points, plus the chaos plugins (which have none)."""
    registry = PluginRegistry()
    registry.register_protection("chaos-host", HostProtection, replace=True)
    registry.register_protection("chaos-disk", DiskProtection, replace=True)
    for cls in (HostProtectable, HostDirectories, DiskProtectable):
        registry.register_protectable(cls, replace=True)
    return registry
