"""The last step of both volume plugins' restores: the new volume, made like the original.

Whichever way a volume came back (from a Cinder backup, or created from an image rebuilt
from the bank), the restore waits for it to be ``available``, gives it the description
asked for and the original's bootable flag, and deletes it if it never gets there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from plugins.context import ActivityContext
from plugins.openstack.cinder_messages import explain_volume
from plugins.openstack.errors import CloudResourceFailed
from plugins.openstack.protection_base import OpenStackProtection

VOLUME_FAILED = ("error", "error_restoring", "error_extending")


def is_true(flag: Any) -> bool:
    """Cinder's ``bootable`` flag, a string ``"true"``/``"false"`` or a bool, as a bool."""
    if isinstance(flag, str):
        return flag.lower() == "true"
    return bool(flag)


async def finish_volume(plugin: OpenStackProtection, context: ActivityContext,
                        volume_id: str, *, description: str | None,
                        bootable: bool) -> AsyncIterator[None]:
    """Wait for the new volume, describe it, set its bootable flag as the original's;
    delete it if any of that fails.

    The flag is set both ways, because Cinder sets its own: a volume restored from a
    backup is bootable only if the original carried image metadata (a volume flagged
    bootable by hand came back unbootable, and Nova refused to boot from it), and a
    volume created from an image is always bootable, whatever the original was.
    """
    ready = False
    try:
        wait = plugin.wait(context, what="volume", resource_id=volume_id,
                           fetch=lambda c: c.block_storage.get_volume(volume_id),
                           ready=("available",), failed=VOLUME_FAILED)
        try:
            async for _ in wait.steps():
                yield
        except CloudResourceFailed as failed:
            cinder_says = await explain_volume(plugin, context, volume_id)
            if cinder_says is None:
                raise
            raise CloudResourceFailed(failed.service, failed.call, failed.resource_id,
                                      f"{failed.reason}; Cinder: {cinder_says}") from failed
        if description:
            await plugin.call(context, "update volume", volume_id,
                              lambda c: c.block_storage.update_volume(
                                  volume_id, description=description))
        if bootable != is_true(wait.item.is_bootable):
            await plugin.call(context, "set volume bootable", volume_id,
                              lambda c: c.block_storage.set_volume_bootable_status(
                                  volume_id, bootable))
        ready = True
    finally:
        if not ready:
            await plugin.delete_quietly(
                context, "volume", volume_id,
                lambda c: c.block_storage.delete_volume(volume_id, ignore_missing=True))
