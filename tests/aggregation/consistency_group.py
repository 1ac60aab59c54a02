"""One consistency-group snapshot of all a server's volumes, taken in the server's pre.

The worked example of docs/plugin-guide.md, "Aggregation: several resources in one task".
The server's ``protect_pre`` snapshots every volume the checkpoint's graph gives it, in
one call, and records the group in its own bank section. Each volume's activities then
only record their part: a volume's parallel finds its parent through
``checkpoint.graph`` and reads the parent's section (the seed guarantees the parent's pre
finished before the child's pre, so before its parallel). Restore reads each volume's own
record; the server's post attaches what its children restored; delete drops the group
once, in the server's post, after every volume's post.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from plugins.base import ProtectablePlugin, ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import RequestContext
from plugins.resource import Resource

SERVER, VOLUME = "Agg::Server", "Agg::Volume"


class FakeCloud:
    """A cloud with servers, volumes and consistency-group snapshots (one per process)."""

    def __init__(self) -> None:
        self.servers: dict[str, list[str]] = {"s1": ["v1", "v2"], "s2": ["v3"]}
        self.groups: dict[str, dict[str, str]] = {}  # group id -> volume id -> snapshot id
        self.group_calls: list[tuple[str, ...]] = []
        self.restored: dict[str, str] = {}  # snapshot id -> new volume id
        self.attached: dict[str, list[str]] = {}  # new server id -> new volume ids
        self._lock = threading.Lock()

    def snapshot_group(self, volume_ids: list[str]) -> tuple[str, dict[str, str]]:
        with self._lock:
            group = f"group-{len(self.group_calls) + 1}"
            self.group_calls.append(tuple(volume_ids))
            self.groups[group] = {v: f"{group}/snap-{v}" for v in volume_ids}
            return group, self.groups[group]

    def volume_from_snapshot(self, snapshot_id: str) -> str:
        with self._lock:
            self.restored[snapshot_id] = f"restored-{len(self.restored) + 1}"
            return self.restored[snapshot_id]

    def delete_group(self, group: str) -> None:
        with self._lock:
            del self.groups[group]


CLOUD = FakeCloud()


class ServerProtectable(ProtectablePlugin):
    resource_type = SERVER

    async def list_resources(self, context: RequestContext,
                             parameters: Mapping[str, Any] | None = None) -> list[Resource]:
        return [Resource(type=SERVER, id=s, name=s) for s in CLOUD.servers]

    async def show_resource(self, context: RequestContext, resource_id: str,
                            parameters: Mapping[str, Any] | None = None) -> Resource:
        return Resource(type=SERVER, id=resource_id, name=resource_id)


class VolumeProtectable(ProtectablePlugin):
    resource_type = VOLUME
    parent_resource_types = frozenset({SERVER})

    async def list_resources(self, context: RequestContext,
                             parameters: Mapping[str, Any] | None = None) -> list[Resource]:
        return [Resource(type=VOLUME, id=v, name=v) for vs in CLOUD.servers.values() for v in vs]

    async def show_resource(self, context: RequestContext, resource_id: str,
                            parameters: Mapping[str, Any] | None = None) -> Resource:
        return Resource(type=VOLUME, id=resource_id, name=resource_id)

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        return [Resource(type=VOLUME, id=v, name=v) for v in CLOUD.servers[parent.id]]


def parents_of(checkpoint: Checkpoint, resource: Resource) -> list[Resource]:
    """The resource's parents in the checkpoint's graph (the same graph on every worker)."""
    node = checkpoint.graph.find(resource.type, resource.id)
    if node is None:
        raise LookupError(f"{resource.key} is not in checkpoint {checkpoint.id}")
    return [checkpoint.graph.nodes[p] for p in checkpoint.graph.parents[node]]


def children_of(checkpoint: Checkpoint, resource: Resource) -> list[Resource]:
    """The resource's children in the checkpoint's graph."""
    node = checkpoint.graph.find(resource.type, resource.id)
    if node is None:
        raise LookupError(f"{resource.key} is not in checkpoint {checkpoint.id}")
    return [checkpoint.graph.nodes[c] for c in checkpoint.graph.children[node]]


class ConsistencyGroupProtection(ProtectionPlugin):
    """Servers take the group snapshot; volumes record their part of it."""

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({SERVER, VOLUME})

    async def activity_protect_pre(self, checkpoint: Checkpoint, context: RequestContext,
                                   resource: Resource, parameters: Any) -> None:
        if resource.type != SERVER:
            return
        volumes = [v.id for v in children_of(checkpoint, resource) if v.type == VOLUME]
        group, snapshots = CLOUD.snapshot_group(volumes)  # one call for all the volumes
        record = {"group": group, "snapshots": snapshots}
        await checkpoint.bank_section(resource).put("group", json.dumps(record).encode())

    async def activity_protect_parallel(self, checkpoint: Checkpoint, context: RequestContext,
                                        resource: Resource, parameters: Any) -> None:
        if resource.type != VOLUME:
            return
        # the parent's pre has finished: its section holds the group this volume is in
        for parent in parents_of(checkpoint, resource):
            data = await checkpoint.bank_section(parent).get("group")
            record = json.loads(data)
            if resource.id in record["snapshots"]:
                part = {"server": parent.id, "group": record["group"],
                        "snapshot": record["snapshots"][resource.id]}
                await checkpoint.bank_section(resource).put("part", json.dumps(part).encode())
                return
        raise LookupError(f"{resource.key}: no parent's group snapshot includes it")

    async def activity_restore_parallel(self, checkpoint: Checkpoint, context: RequestContext,
                                        resource: Resource, parameters: Any) -> None:
        if resource.type != VOLUME:
            return
        part = json.loads(await checkpoint.bank_section(resource).get("part"))
        await checkpoint.record_restored(resource, CLOUD.volume_from_snapshot(part["snapshot"]))

    async def activity_restore_post(self, checkpoint: Checkpoint, context: RequestContext,
                                    resource: Resource, parameters: Any) -> None:
        if resource.type != SERVER:
            return
        # every child's post has finished, so every volume has recorded its new id
        new_volumes = [await checkpoint.restored_id(v) for v in children_of(checkpoint, resource)]
        CLOUD.attached[f"restored-{resource.id}"] = [v for v in new_volumes if v]

    async def activity_delete_post(self, checkpoint: Checkpoint, context: RequestContext,
                                   resource: Resource, parameters: Any) -> None:
        if resource.type != SERVER:
            return
        # after every volume's post: the group goes once, not once per volume
        record = json.loads(await checkpoint.bank_section(resource).get("group"))
        CLOUD.delete_group(record["group"])
