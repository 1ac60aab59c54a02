"""``OS::Glance::Image``: the images a project owns, and the image a server booted from."""

from __future__ import annotations

from typing import Any

from plugins.context import RequestContext
from plugins.openstack.cloud import Connection
from plugins.openstack.errors import CloudNotFound
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import IMAGE, PROJECT, SERVER
from plugins.resource import Resource

SKIPPED_IMAGE_STATES = frozenset(
    {"killed", "deleted", "pending_delete", "deactivated", "queued", "saving", "importing",
     "uploading"}
)


class ImageProtectable(OpenStackProtectable):
    """Images; a server's dependent is its boot image (none when it boots from a volume)."""

    resource_type = IMAGE
    parent_resource_types = frozenset({PROJECT, SERVER})
    service = "glance"
    skipped_states = SKIPPED_IMAGE_STATES

    def fetch_all(self, connection: Connection) -> list[Any]:
        return list(connection.image.images())

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return connection.image.get_image(resource_id)

    def owned_by(self, item: Any, project_id: str) -> bool:
        """Only the project's own images: public ones of other projects are not its data."""
        return bool(item.owner == project_id)

    def to_resource(self, item: Any) -> Resource:
        return Resource(
            type=IMAGE,
            id=item.id,
            name=item.name or "",
            extra={"disk_format": item.disk_format, "size": item.size},
        )

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """A server's boot image, or the images a project owns."""
        if parent.type == PROJECT:
            return await self.dependents_of_project(parent.id)
        server = await self.cloud.call(
            context.project_id, "nova", "get", parent.id,
            lambda connection: connection.compute.get_server(parent.id),
        )
        image_id = getattr(server.image, "id", None) if server.image else None
        if not image_id:
            return []
        try:
            image = await self.call(
                context.project_id, "get", image_id,
                lambda connection: self.fetch_one(connection, image_id),
            )
        except CloudNotFound:
            return []  # booted from an image since deleted: nothing to protect
        if not self.usable(image):
            return []
        found = self.to_resource(image)
        return [Resource(type=IMAGE, id=found.id, name=found.name,
                         extra={**found.extra, "server_id": parent.id})]
