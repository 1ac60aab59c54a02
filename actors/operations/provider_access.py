"""The engine's providers, their banks and their protectables, each opened once.

Discovery lives here too: listing and showing resources, and the depth-first walk from
the selected resources through their dependents into the resource graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.operations.bank_sealing import seal_bank
from actors.wire.requests import ResourceRef
from banks.base import Bank
from plugins.base import ProtectablePlugin
from plugins.checkpoint.graph import ResourceGraph, build_graph
from plugins.checkpoint.store import CheckpointStore
from plugins.context import RequestContext
from plugins.provider import Provider, ProviderSet
from plugins.provider.protectables import ProtectableSet
from plugins.registry import PluginRegistry
from plugins.resource import Resource


class ProviderAccess:
    """Providers, banks and protectables for the engine (see the module)."""

    def __init__(self, providers: ProviderSet, registry: PluginRegistry | None = None) -> None:
        self.providers = providers
        self.registry = registry if registry is not None else PluginRegistry()
        self._banks: dict[str, Bank] = {}
        self._protectables: dict[str, ProtectableSet] = {}

    def provider(self, id_or_name: str | None = None) -> Provider:
        """The named provider, or the default one.

        Raises:
            ProviderNotFound: listing the providers there are.
        """
        return self.providers.get(id_or_name) if id_or_name else self.providers.default()

    async def bank(self, provider: Provider) -> Bank:
        """The provider's bank, opened once; sealed if its chunk store is encrypted
        (``actors/operations/bank_sealing.py``)."""
        bank = self._banks.get(provider.id)
        if bank is None:
            bank = self._banks[provider.id] = seal_bank(provider, await provider.open_bank())
        return bank

    async def store(self, provider: Provider) -> CheckpointStore:
        """The checkpoints of the provider's bank."""
        return CheckpointStore(await self.bank(provider))

    def protectables(self, provider: Provider) -> ProtectableSet:
        """The protectable plugins, configured from the provider's file (the ones that
        did not load are in its ``broken``)."""
        found = self._protectables.get(provider.id)
        if found is None:
            found = self._protectables[provider.id] = provider.protectables(self.registry)
        return found

    def protectable(self, provider: Provider, resource_type: str) -> ProtectablePlugin:
        """The protectable for one type.

        Raises:
            ResourceTypeNotSupported: listing the known types.
            ProtectableUnavailable: if its protectable did not load (naming why).
        """
        return self.protectables(provider).require(resource_type)

    async def list_resources(self, resource_type: str, *, provider: str | None = None,
                             context: RequestContext | None = None) -> list[Resource]:
        """Every resource of a type."""
        plugin = self.protectable(self.provider(provider), resource_type)
        return await plugin.list_resources(context or RequestContext())

    async def show_resource(self, resource_type: str, resource_id: str, *,
                            provider: str | None = None,
                            context: RequestContext | None = None) -> Resource:
        """One resource.

        Raises:
            ResourceNotFound: if it does not exist.
        """
        plugin = self.protectable(self.provider(provider), resource_type)
        return await plugin.show_resource(context or RequestContext(), resource_id)

    async def build_graph(self, refs: Sequence[ResourceRef], *, provider: str | None = None,
                          context: RequestContext | None = None) -> ResourceGraph:
        """Resolve the selected resources and walk their dependents into a graph.

        Raises:
            ResourceTypeNotSupported, ResourceNotFound, ResourceGraphLoop.
            ProtectableUnavailable: if the protectable of a selected type, or of a type this
                provider's plugins protect (so one its graphs may hold), did not load: a
                graph walked without it would leave out resources without a word.
        """
        chosen = self.provider(provider)
        context = context or RequestContext()
        protectables = self.protectables(chosen)
        protectables.check_available([*(ref.type for ref in refs), *chosen.type_map])
        by_parent: dict[str, list[ProtectablePlugin]] = {}
        for plugin in protectables.values():
            for parent_type in plugin.get_parent_resource_types():
                by_parent.setdefault(parent_type, []).append(plugin)

        async def dependents(parent: Resource) -> list[Resource]:
            found: list[Resource] = []
            for plugin in by_parent.get(parent.type, ()):
                found.extend(await plugin.get_dependent_resources(context, parent))
            return found

        selected = [await self.protectable(chosen, ref.type).show_resource(context, ref.id)
                    for ref in refs]
        return await build_graph(selected, dependents)


__all__ = ["ProviderAccess"]
