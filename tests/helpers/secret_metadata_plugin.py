"""A protection plugin that writes distinctive names and metadata through its section.

It stands for the OpenStack plugins' saved info (a server's name and metadata, a
project's quotas) in tests of what an encrypted bank shows: every value it writes is a
string no other part of the system produces, so a scan of the bank finds it only if it
is stored in the clear.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from plugins.base import ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.resource import Resource

SERVER_TYPE = "Test::Server"
SERVER_NAME = "strongbox-secret-server-name-7f3a"
SERVER_ID = "strongbox-secret-server-id-5d1e"
METADATA_VALUE = "strongbox-secret-metadata-value-91c2"
USER_DATA = b"#cloud-config strongbox-secret-user-data-0b6e"


class ServerInfo(msgspec.Struct, frozen=True):
    """What the plugin keeps of a server, as the OpenStack server plugin's saved info."""

    name: str
    metadata: dict[str, str]
    quotas: dict[str, int]


class SecretMetadataProtection(ProtectionPlugin):
    """Saves a server's info and a small data object; reads both back on restore."""

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({SERVER_TYPE})

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        # resource key -> (saved info, user data) read by the last restore
        self.restored: dict[str, tuple[ServerInfo, bytes]] = {}

    async def activity_protect_parallel(self, checkpoint: Checkpoint, context: ActivityContext,
                                        resource: Resource, parameters: Any) -> None:
        section = checkpoint.bank_section(resource)
        info = ServerInfo(name=resource.name, metadata={"owner": METADATA_VALUE},
                          quotas={"instances": 17})
        await section.put("saved_info", msgspec.json.encode(info))
        await section.put("user_data", USER_DATA)

    async def activity_restore_parallel(self, checkpoint: Checkpoint, context: ActivityContext,
                                        resource: Resource, parameters: Any) -> None:
        section = checkpoint.bank_section(resource)
        info = msgspec.json.decode(await section.get("saved_info"), type=ServerInfo)
        self.restored[resource.key] = (info, await section.get("user_data"))
        await checkpoint.record_restored(resource, f"restored-{info.name}")

    async def activity_delete_parallel(self, checkpoint: Checkpoint, context: ActivityContext,
                                       resource: Resource, parameters: Any) -> None:
        await checkpoint.bank_section(resource).delete_all()
