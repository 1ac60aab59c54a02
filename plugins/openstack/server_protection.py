"""``OS::Nova::Server``: the server's description, rebuilt around its restored children.

Protect saves flavor, key pair, availability zone, security groups, metadata, ports with
their fixed and floating IPs, attached volumes and the boot source (``server_info``); the
disks themselves are the volume and image plugins' business, as children of the server.
Restore runs in the **post** activity, after every child (volumes, boot image, network
topology) is restored: it boots a new server from the restored image or boot volume,
plugs it into the restored ports (else the restored or original networks), waits for
ACTIVE, attaches the other restored volumes and records its id. If anything fails the
new server is deleted. Delete clears the section.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.errors import CloudResourceFailed
from plugins.openstack.protection_base import OpenStackProtection, restore_name
from plugins.openstack.resource_types import IMAGE, NEUTRON_NET, NEUTRON_PORT, SERVER, VOLUME
from plugins.openstack.server_info import ServerSavedInfo, read_server
from plugins.resource import Resource

log = structlog.get_logger(__name__)


class ServerRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                              kw_only=True):
    """Restore parameters (Karbor's): a name, and a network or flavor to use instead."""

    restore_name: str | None = None
    restore_net_id: str | None = None
    restore_flavor_id: str | None = None


class ServerProtection(OpenStackProtection):
    """Saves a server's description; rebuilds it after its children are restored."""

    supported_resource_types = frozenset({SERVER})
    RestoreParameters = ServerRestoreParameters
    SavedInfo = ServerSavedInfo
    service = "nova"
    default_poll_interval = 3.0

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Read and save the server's description."""
        info = await self.call(context, "describe server", resource.id,
                               lambda c: read_server(c, resource.id))
        await self.save_info(checkpoint.bank_section(resource), info)

    async def activity_restore_post(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: ServerRestoreParameters,
    ) -> AsyncIterator[None]:
        """Create the server from its restored children, attach volumes, record it.

        Raises:
            SavedInfoMissing: the protect did not complete.
            CloudResourceFailed: the server went to ERROR, or a boot volume was not restored.
        """
        info = await self.load_info(checkpoint, resource, ServerSavedInfo)
        arguments = await self._create_arguments(checkpoint, context, resource, info,
                                                 parameters)
        server = await self.call(context, "create server", resource.id,
                                 lambda c: c.compute.create_server(**arguments))
        done = False
        try:
            active = self.wait(context, what="server", resource_id=server.id,
                               fetch=lambda c: c.compute.get_server(server.id),
                               ready=("active",), failed=("error",),
                               fault_of=lambda s: str((s.fault or {}).get("message") or ""))
            async for _ in active.steps():
                yield
            for attached in info.volumes:
                if attached.volume_id == info.boot_volume_id:
                    continue
                new_volume = await checkpoint.restored_id(Resource(type=VOLUME,
                                                                   id=attached.volume_id))
                if new_volume is None:
                    continue  # not part of this checkpoint's restore
                async for _ in self._attach(context, server.id, new_volume):
                    yield
            await checkpoint.record_restored(resource, server.id)
            done = True
        finally:
            if not done:
                await self.delete_quietly(context, "server", server.id,
                                          lambda c: c.compute.delete_server(
                                              server.id, ignore_missing=True))
        log.info("server_restored", operation_id=context.operation_id, resource=resource.key,
                 new_id=server.id)

    async def _attach(self, context: ActivityContext, server_id: str,
                      volume_id: str) -> AsyncIterator[None]:
        await self.call(context, "attach volume", server_id,
                        lambda c: c.compute.create_volume_attachment(server_id,
                                                                     volume_id=volume_id))
        in_use = self.wait(context, what="volume", resource_id=volume_id,
                           fetch=lambda c: c.block_storage.get_volume(volume_id),
                           ready=("in-use",), failed=("error",), service="cinder")
        async for _ in in_use.steps():
            yield

    async def _create_arguments(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        info: ServerSavedInfo,
        parameters: ServerRestoreParameters,
    ) -> dict[str, Any]:
        flavor_id = parameters.restore_flavor_id or await self._flavor(context, info)
        arguments: dict[str, Any] = {
            "name": restore_name(parameters.restore_name, checkpoint, resource),
            "flavor_id": flavor_id, "networks": await self._nics(checkpoint, info, parameters),
            "metadata": info.metadata,
        }
        if info.key_name:
            arguments["key_name"] = info.key_name
        if info.availability_zone:
            arguments["availability_zone"] = info.availability_zone
        if info.boot_volume_id:
            boot = await checkpoint.restored_id(Resource(type=VOLUME, id=info.boot_volume_id))
            if boot is None:
                raise CloudResourceFailed(self.service, "create server", resource.id,
                                          f"boot volume {info.boot_volume_id} was not restored")
            arguments["block_device_mapping"] = [{
                "boot_index": 0, "uuid": boot, "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": False}]
        elif info.boot_image_id:
            restored = await checkpoint.restored_id(Resource(type=IMAGE, id=info.boot_image_id))
            arguments["image_id"] = restored or info.boot_image_id
        if not any("port" in nic for nic in arguments["networks"]):
            # ports carry their own groups; a server on bare networks needs them named
            arguments["security_groups"] = [{"name": name} for name in info.security_groups]
        return arguments

    async def _flavor(self, context: ActivityContext, info: ServerSavedInfo) -> str:
        wanted = info.flavor_id or info.flavor_name or ""
        flavor = await self.call(context, "find flavor", wanted,
                                 lambda c: c.compute.find_flavor(wanted, ignore_missing=False))
        return str(flavor.id)

    async def _nics(self, checkpoint: Checkpoint, info: ServerSavedInfo,
                    parameters: ServerRestoreParameters) -> list[dict[str, str]]:
        if parameters.restore_net_id:
            return [{"uuid": parameters.restore_net_id}]
        nics: list[dict[str, str]] = []
        for port in info.ports:
            new_port = await checkpoint.restored_id(Resource(type=NEUTRON_PORT, id=port.port_id))
            if new_port is not None:
                nics.append({"port": new_port})
                continue
            network = await checkpoint.restored_id(Resource(type=NEUTRON_NET,
                                                            id=port.network_id))
            nics.append({"uuid": network or port.network_id})
        return nics

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Clear the section."""
        await checkpoint.bank_section(resource).delete_all()


__all__ = ["ServerProtection", "ServerRestoreParameters"]
