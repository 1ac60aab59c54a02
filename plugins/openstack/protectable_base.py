"""The shape every OpenStack protectable shares: list, show and skip unusable states.

A subclass says which service it talks to, how to list and get its resources (blocking
functions of a connection, run in the SDK pool) and which states it skips: a resource in
an error or transitional state cannot be protected consistently, so it is left out of
listings and ``show_resource`` refuses it, naming the state.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import structlog

from plugins.base import ProtectablePlugin
from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.openstack.cloud import Connection, OpenStackCloud
from plugins.openstack.errors import CloudNotFound, CloudServiceMissing
from plugins.openstack.settings import CloudOptions, CloudSettings
from plugins.resource import Resource

_T = TypeVar("_T")
log = structlog.get_logger(__name__)


class OpenStackProtectable(ProtectablePlugin):
    """A protectable backed by one OpenStack service.

    Options of its ``[protectable:<type>]`` section are connection settings (see
    ``plugins.openstack.settings``); nothing connects before the first listing.
    """

    service: ClassVar[str]
    skipped_states: ClassVar[frozenset[str]] = frozenset()
    Options = CloudOptions

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.cloud = OpenStackCloud(CloudSettings.from_config(self.config))

    async def call(
        self,
        project_id: str | None,
        call: str,
        resource_id: str | None,
        function: Callable[[Connection], _T],
    ) -> _T:
        """One SDK call for ``project_id`` in the pool, errors translated."""
        return await self.cloud.call(project_id, self.service, call, resource_id, function)

    @abc.abstractmethod
    def fetch_all(self, connection: Connection) -> list[Any]:
        """Every resource of the type in the connection's project (blocking)."""

    @abc.abstractmethod
    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        """One resource by id (blocking; the SDK raises NotFound)."""

    @abc.abstractmethod
    def to_resource(self, item: Any) -> Resource:
        """Our resource for an SDK object."""

    def state_of(self, item: Any) -> str:
        """The item's status, lower case."""
        return str(getattr(item, "status", "") or "").lower()

    def usable(self, item: Any) -> bool:
        """False for an item in an error or transitional state."""
        return self.state_of(item) not in self.skipped_states

    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        """The usable resources of the context's project."""
        return await self.list_for(context.project_id)

    async def list_for(self, project_id: str | None) -> list[Resource]:
        """The usable resources of ``project_id`` (None: the credentials' project)."""
        items = await self.call(project_id, "list", project_id, self.fetch_all)
        return [self.to_resource(item) for item in items if self.usable(item)]

    async def dependents_of_project(self, project_id: str) -> list[Resource]:
        """The usable resources of a project, or none if the cloud lacks the service.

        A project is the root of most graphs; a cloud without Manila or Trove must not
        make every project unprotectable (Karbor, too, treated a failed dependent
        listing as no dependents). Other errors still fail the discovery.
        """
        try:
            items = await self.call(project_id, "list", project_id, self.fetch_all)
        except CloudServiceMissing as error:
            log.warning("openstack_service_missing", resource_type=self.resource_type,
                        project_id=project_id, error=str(error))
            return []
        return [self.to_resource(item) for item in items
                if self.usable(item) and self.owned_by(item, project_id)]

    def owned_by(self, item: Any, project_id: str) -> bool:
        """False for an item the listing shows but another project owns."""
        owner = getattr(item, "project_id", None)
        return owner in (None, project_id)

    async def show_resource(
        self,
        context: RequestContext,
        resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        """One resource.

        Raises:
            ResourceNotFound: if it does not exist or is in a state that is skipped.
        """
        try:
            item = await self.call(
                context.project_id, "get", resource_id,
                lambda connection: self.fetch_one(connection, resource_id),
            )
        except CloudNotFound as error:
            raise ResourceNotFound(self.resource_type, resource_id, error.reason) from error
        if not self.usable(item):
            reason = f"in state '{self.state_of(item)}', not protectable"
            raise ResourceNotFound(self.resource_type, resource_id, reason)
        return self.to_resource(item)


__all__ = ["OpenStackProtectable"]
