"""Why Cinder put a volume in an error state, in Cinder's own words.

A volume's record says only ``error_restoring``; the reason (the attach failed, the backup
could not be read) is in Cinder's user messages, an API of its own. A failure names it so
that an operator paged for a failed restore does not need Cinder's logs to start.
"""

from __future__ import annotations

from typing import Any

import structlog

from plugins.context import ActivityContext
from plugins.openstack.errors import OpenStackError
from plugins.openstack.protection_base import OpenStackProtection

log = structlog.get_logger(__name__)

# A failing volume has a handful of messages; the newest few say what happened.
MAX_MESSAGES = 3
MAX_MESSAGE_CHARS = 300


def newest_messages(messages: list[Any], resource_id: str) -> list[str]:
    """The newest user messages about one resource, newest first, each bounded."""
    ours = [m for m in messages if getattr(m, "resource_uuid", None) == resource_id]
    ours.sort(key=lambda m: str(getattr(m, "created_at", "") or ""), reverse=True)
    texts = [str(getattr(m, "user_message", "") or "").strip() for m in ours]
    return [text[:MAX_MESSAGE_CHARS] for text in texts if text][:MAX_MESSAGES]


async def explain_volume(plugin: OpenStackProtection, context: ActivityContext,
                         volume_id: str) -> str | None:
    """Cinder's messages about a volume joined for an error, or None when there are none.

    Never raises: it runs on a failure path, where its own failure must not hide the one
    being reported.
    """
    try:
        messages = await plugin.call(
            context, "list messages", volume_id,
            lambda c: list(c.block_storage.messages(resource_uuid=volume_id)))
    except OpenStackError as error:
        log.info("cinder_messages_unavailable", volume_id=volume_id, error=str(error))
        return None
    texts = newest_messages(messages, volume_id)
    return "; ".join(texts) or None
