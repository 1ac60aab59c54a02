"""Checking an operation's parameters against each resource's plugin, before anything runs.

Parameters are given per resource type (``{"OS::Nova::Server": {...}}``) or per resource
(``{"OS::Nova::Server#id": {...}}``); a plugin may derive per-resource values from its
type's (``per_resource_parameters``). Every value is converted into its plugin's schema
here, so a bad one is refused at submit, naming the resource and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from actors.errors import RequestInvalid
from actors.wire.requests import Parameters
from plugins.base import OperationType, ProtectionPlugin
from plugins.checkpoint.graph import ResourceGraph
from plugins.resource import Resource


def validate_parameters(operation: OperationType, graph: ResourceGraph,
                        plugins: Sequence[ProtectionPlugin],
                        parameters: Parameters) -> list[msgspec.Struct]:
    """Each node's parameters: ``parameters[type]`` overlaid by what its plugin derives
    from them for that node (``per_resource_parameters``), overlaid by
    ``parameters["type#id"]``, converted into its plugin's schema.

    Raises:
        RequestInvalid: if a key names no type or resource of the graph.
        InvalidParameters: naming the resource and the field, if a value fails its schema.
    """
    types = graph.types()
    for key in parameters:
        resource_type, _, resource_id = key.partition("#")
        if resource_id and graph.find(resource_type, resource_id) is None:
            raise RequestInvalid(f"parameters key {key!r} names no resource of the graph")
        if not resource_id and resource_type not in types:
            raise RequestInvalid(f"parameters key {key!r} names no resource type of the graph "
                                 f"(types: {', '.join(sorted(types))})")
    derived = _derived_parameters(operation, graph, plugins, parameters)
    by_type: dict[tuple[int, str], msgspec.Struct] = {}
    validated: list[msgspec.Struct] = []
    for resource, plugin in zip(graph.nodes, plugins, strict=True):
        specific = {**derived.get(resource.key, {}), **parameters.get(resource.key, {})}
        if not specific:
            cache_key = (id(plugin), resource.type)
            value = by_type.get(cache_key)
            if value is None:
                value = by_type[cache_key] = plugin.validate_parameters(
                    operation, resource, parameters.get(resource.type, {}))
        else:
            merged = {**parameters.get(resource.type, {}), **specific}
            value = plugin.validate_parameters(operation, resource, merged)
        validated.append(value)
    return validated


def _derived_parameters(operation: OperationType, graph: ResourceGraph,
                        plugins: Sequence[ProtectionPlugin],
                        parameters: Parameters) -> dict[str, dict[str, Any]]:
    """What each plugin derives per resource from the parameters given for a whole type."""
    groups: dict[tuple[int, str], tuple[ProtectionPlugin, list[Resource]]] = {}
    for resource, plugin in zip(graph.nodes, plugins, strict=True):
        if resource.type in parameters:
            groups.setdefault((id(plugin), resource.type), (plugin, []))[1].append(resource)
    derived: dict[str, dict[str, Any]] = {}
    for (_, resource_type), (plugin, resources) in groups.items():
        derived.update(plugin.per_resource_parameters(operation, resources,
                                                      parameters[resource_type]))
    return derived


__all__ = ["validate_parameters"]
