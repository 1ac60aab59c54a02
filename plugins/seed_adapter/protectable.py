"""A seed-style protectable plugin wrapped once, at load time, into ``ProtectablePlugin``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from banks.option_schema import NoOptions
from plugins.base import ProtectablePlugin
from plugins.context import RequestContext
from plugins.errors import PluginLoadError
from plugins.resource import Resource
from plugins.seed_adapter.calling import call, construct, probe
from plugins.seed_adapter.resources import in_plugin_form, to_resource, to_resources


class SeedProtectable(ProtectablePlugin):
    """Runs a seed protectable's methods (sync in the thread pool, async awaited) and turns
    whatever resource form they return into ``Resource``."""

    seed_class: ClassVar[type]
    seed_name: ClassVar[str]

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.seed: Any = construct(self.seed_class, self.config, ProtectablePlugin)

    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        result = await call(self.seed.list_resources, context, parameters)
        return to_resources(result, "list_resources", self.seed_name)

    async def show_resource(
        self, context: RequestContext, resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        result = await call(self.seed.show_resource, context, resource_id, parameters)
        return to_resource(result, "show_resource", self.seed_name)

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        method = getattr(self.seed, "get_dependent_resources", None)
        if method is None:
            return []
        result = await call(method, context, in_plugin_form(parent))
        return to_resources(result, "get_dependent_resources", self.seed_name)


def adapt_protectable(cls: type, where: str) -> type[ProtectablePlugin]:
    """A ``ProtectablePlugin`` subclass running ``cls``; its type read from
    ``get_resource_type()`` (or the ``resource_type`` attribute) now.

    Raises:
        PluginLoadError: if the type or parent types cannot be read.
    """
    resource_type = _read_type(cls, where)
    parents: Any = ()
    if "get_parent_resource_types" in dir(cls) and _overrides(cls, "get_parent_resource_types"):
        parents = probe(cls, "get_parent_resource_types", where)
    else:
        parents = getattr(cls, "parent_resource_types", ())
    if isinstance(parents, str) or not all(isinstance(p, str) for p in parents or ()):
        raise PluginLoadError(f"{where}: get_parent_resource_types() returned {parents!r}, "
                              f"not a collection of resource type names")
    name = f"{cls.__module__}:{cls.__qualname__}"
    options = getattr(cls, "Options", NoOptions)
    namespace: dict[str, Any] = {
        "seed_class": cls, "seed_name": name, "resource_type": resource_type,
        "parent_resource_types": frozenset(parents or ()),
        "Options": options if isinstance(options, type) and issubclass(options, msgspec.Struct)
        else NoOptions,
        "__module__": cls.__module__, "__doc__": cls.__doc__,
    }
    return type(f"Seed{cls.__name__}", (SeedProtectable,), namespace)


def _overrides(cls: type, method: str) -> bool:
    return getattr(cls, method, None) is not getattr(ProtectablePlugin, method, None)


def _read_type(cls: type, where: str) -> str:
    if _overrides(cls, "get_resource_type"):
        value = probe(cls, "get_resource_type", where)
    else:
        value = getattr(cls, "resource_type", None)
    if not isinstance(value, str) or not value:
        raise PluginLoadError(f"{where}: get_resource_type() returned {value!r}, "
                              f"not a resource type name")
    return value


__all__ = ["SeedProtectable", "adapt_protectable"]
