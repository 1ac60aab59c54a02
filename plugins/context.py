"""What an activity knows of the operation it runs in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import msgspec

from plugins.access import UNRESTRICTED, PathGrant, ProjectGrant


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who asked, for which project, and which local paths they may use (``paths``).

    ``user_id`` is the identity the broker vouched for (or the local user, embedded).
    Secrets never go here: they stay in the plugin config.
    """

    project_id: str | None = None
    user_id: str | None = None
    paths: PathGrant = UNRESTRICTED
    # set when a Keystone token established the project (docs/security.md)
    project: ProjectGrant | None = None
    # a Keystone trust from the requester to Strongbox's service user: cloud calls for this
    # request act with the requester's authority, not the service's (plugins.openstack)
    trust_id: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


# The request the running activity or discovery acts for: set by the runtime around every
# activity and by the engine around discovery, so a plugin's client code deep in a call
# chain (an SDK connection cache) can act with that request's authority.
CURRENT_REQUEST: ContextVar[RequestContext | None] = ContextVar("strongbox_request",
                                                                default=None)


ProgressCallback = Callable[[int, int | None], None]


class ActivityContext:
    """Handed to every activity as ``context``.

    ``progress(done, total)`` reports bytes moved; the runtime turns it into
    ``ActivityProgress`` events, rate-limited, so a plugin may call it per chunk.
    """

    __slots__ = ("_progress", "activity", "cancelled", "operation_id", "operation_type", "request")

    def __init__(
        self,
        *,
        operation_id: str,
        operation_type: str,
        activity: str,
        request: RequestContext,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.operation_id = operation_id
        self.operation_type = operation_type
        self.activity = activity
        self.request = request
        self._progress = progress
        self.cancelled = asyncio.Event()

    @property
    def project_id(self) -> str | None:
        """The project the operation acts for."""
        return self.request.project_id

    def progress(self, done: int, total: int | None = None) -> None:
        """Report ``done`` bytes of ``total`` (None when unknown)."""
        if self._progress is not None:
            self._progress(done, total)
