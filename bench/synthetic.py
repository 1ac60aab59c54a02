"""Synthetic protectables for benchmarks: a project of servers with two volumes each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plugins.base import ProtectablePlugin
from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.resource import Resource

PROJECT = "Bench::Project"
SERVER = "Bench::Server"
VOLUME = "Bench::Volume"
ITEM = "Bench::Item"


class _Synthetic(ProtectablePlugin):
    async def list_resources(self, context: RequestContext,
                             parameters: Mapping[str, Any] | None = None) -> list[Resource]:
        return []

    async def show_resource(self, context: RequestContext, resource_id: str,
                            parameters: Mapping[str, Any] | None = None) -> Resource:
        if not resource_id:
            raise ResourceNotFound(self.resource_type, resource_id)
        return Resource(type=self.resource_type, id=resource_id)


class BenchProject(_Synthetic):
    """A project whose id is the number of servers in it."""

    resource_type: ClassVar[str] = PROJECT


class BenchServer(_Synthetic):
    """Servers of a project: ``int(project id)`` of them."""

    resource_type: ClassVar[str] = SERVER
    parent_resource_types: ClassVar[frozenset[str]] = frozenset({PROJECT})

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        return [Resource(type=SERVER, id=f"s{i}") for i in range(int(parent.id))]


class BenchVolume(_Synthetic):
    """Two volumes per server."""

    resource_type: ClassVar[str] = VOLUME
    parent_resource_types: ClassVar[frozenset[str]] = frozenset({SERVER})

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        return [Resource(type=VOLUME, id=f"{parent.id}v{i}") for i in range(2)]


class BenchItem(_Synthetic):
    """A flat resource with no dependents."""

    resource_type: ClassVar[str] = ITEM
