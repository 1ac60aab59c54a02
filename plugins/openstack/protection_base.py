"""What every OpenStack protection plugin shares: its cloud, waits, and its saved info.

Options of the plugin's provider-file section: the connection settings (see
``plugins.openstack.settings``), ``timeout``/``poll_interval`` (every plugin) and
``wait_timeout``, the longest one wait for a cloud resource may take (default: the
activity ``timeout``). Saved info is written as JSON to ``saved_info`` in the resource's
bank section, as the directory plugin does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, ClassVar, TypeVar

import msgspec
import structlog

from banks.errors import ObjectNotFound
from banks.option_schema import OptionSchema, combine_schemas
from banks.section import BankSection
from plugins.base import PluginOptions, Positive, ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.cloud import Connection, OpenStackCloud
from plugins.openstack.errors import CloudNotFound, OpenStackError
from plugins.openstack.settings import CloudOptions, CloudSettings, positive_seconds
from plugins.openstack.waiting import StatusWait
from plugins.resource import Resource

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_S = TypeVar("_S", bound=msgspec.Struct)
SAVED_INFO_KEY = "saved_info"


class SavedInfoMissing(OpenStackError):
    """The checkpoint holds no saved info for the resource: its protect never finished."""


class WaitOptions(OptionSchema, frozen=True):
    """``wait_timeout``: the longest one wait for a cloud resource may take."""

    wait_timeout: Positive | None = None


OpenStackOptions = combine_schemas("OpenStackOptions", PluginOptions, CloudOptions, WaitOptions)


class OpenStackProtection(ProtectionPlugin):
    """A protection plugin acting through one OpenStack cloud."""

    service: ClassVar[str]
    Options = OpenStackOptions

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.cloud = OpenStackCloud(CloudSettings.from_config(self.config))
        self.wait_timeout = _wait_timeout(self.config, self.timeout)

    async def close(self) -> None:
        """Close the cloud sessions and the SDK pool."""
        self.cloud.close()

    async def call(
        self,
        context: ActivityContext,
        call: str,
        resource_id: str | None,
        function: Callable[[Connection], _T],
        *,
        service: str | None = None,
    ) -> _T:
        """One SDK call acting for the operation's project, errors translated."""
        return await self.cloud.call(
            context.project_id, service or self.service, call, resource_id, function
        )

    def wait(
        self,
        context: ActivityContext,
        *,
        what: str,
        resource_id: str,
        fetch: Callable[[Connection], Any],
        ready: Collection[str],
        failed: Collection[str] = ("error",),
        service: str | None = None,
        fault_of: Callable[[Any], str | None] | None = None,
        status_of: Callable[[Any], str] | None = None,
    ) -> StatusWait[Any]:
        """A wait for one cloud resource; iterate ``steps()`` inside the activity."""
        name = service or self.service

        def fetch_once() -> Awaitable[Any]:
            return self.cloud.call(context.project_id, name, f"get {what}", resource_id, fetch)

        return StatusWait(
            fetch=fetch_once,
            status_of=status_of or (lambda item: str(getattr(item, "status", "") or "")),
            ready=ready,
            failed=failed,
            service=name,
            what=what,
            resource_id=resource_id,
            deadline=time.monotonic() + self.wait_timeout,
            fault_of=fault_of,
        )

    async def delete_quietly(
        self,
        context: ActivityContext,
        what: str,
        resource_id: str | None,
        function: Callable[[Connection], Any],
        *,
        service: str | None = None,
    ) -> None:
        """Clean-up of a temporary resource: gone already is fine, a failure is logged.

        Used on failure paths, where raising would hide the error that matters.
        """
        if not resource_id:
            return
        try:
            await self.call(context, f"delete {what}", resource_id, function, service=service)
        except CloudNotFound:
            return
        except OpenStackError as error:
            log.warning("openstack_cleanup_failed", what=what, resource_id=resource_id,
                        error=str(error), operation_id=context.operation_id)

    async def save_info(self, section: BankSection, info: msgspec.Struct) -> None:
        """Write ``info`` as the resource's saved info."""
        await section.put(SAVED_INFO_KEY, msgspec.json.encode(info))

    async def load_info(self, checkpoint: Checkpoint, resource: Resource,
                        schema: type[_S]) -> _S:
        """The saved info the protect wrote for ``resource``.

        Raises:
            SavedInfoMissing: if there is none (the protect did not complete).
        """
        section = checkpoint.bank_section(resource)
        try:
            data = await section.get(SAVED_INFO_KEY)
        except ObjectNotFound as error:
            raise SavedInfoMissing(self.service, "read saved info", resource.key,
                                   "missing: the protect did not complete") from error
        return msgspec.json.decode(data, type=schema)

    async def try_load_info(self, checkpoint: Checkpoint, resource: Resource,
                            schema: type[_S]) -> _S | None:
        """The saved info, or None when the protect never wrote it."""
        try:
            return await self.load_info(checkpoint, resource, schema)
        except SavedInfoMissing:
            return None


def _wait_timeout(config: Mapping[str, str], default: float | None) -> float:
    value = positive_seconds(config, "wait_timeout")
    if value is not None:
        return value
    return default if default is not None else 3600.0


def restore_name(parameter: str | None, checkpoint: Checkpoint, resource: Resource) -> str:
    """The name of a restored resource: the parameter, else ``<checkpoint>@<original>``."""
    return parameter or f"{checkpoint.id}@{resource.name or resource.id}"


__all__ = [
    "SAVED_INFO_KEY",
    "OpenStackOptions",
    "OpenStackProtection",
    "SavedInfoMissing",
    "WaitOptions",
    "restore_name",
]
