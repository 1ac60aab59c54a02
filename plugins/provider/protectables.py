"""The protectables of one provider: the ones that loaded, and why the others did not.

Every installed protectable is offered to every provider, so one third-party protectable
that fails to import must not stop the rest: it is kept aside with its error, and only an
operation that needs its resource type fails, naming the entry point and the error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from plugins.base import ProtectablePlugin
from plugins.errors import PluginError, PluginLoadError, ResourceTypeNotSupported


class ProtectableUnavailable(PluginLoadError):
    """The protectable of a resource type did not load; the message says why."""

    def __init__(self, resource_type: str, cause: PluginError) -> None:
        self.resource_type = resource_type
        super().__init__(f"the protectable for resource type {resource_type!r} is unavailable: "
                         f"{cause}")


class ProtectableSet(dict[str, ProtectablePlugin]):
    """Protectables by resource type (the ones that loaded); ``broken`` holds the others."""

    def __init__(
        self,
        plugins: Mapping[str, ProtectablePlugin],
        broken: Mapping[str, PluginError] | None = None,
    ) -> None:
        super().__init__(plugins)
        self.broken: dict[str, PluginError] = dict(broken or {})

    def require(self, resource_type: str) -> ProtectablePlugin:
        """The protectable of ``resource_type``.

        Raises:
            ProtectableUnavailable: if it did not load (naming the entry point and error).
            ResourceTypeNotSupported: if no protectable is installed for it.
        """
        self.check_available((resource_type,))
        found = self.get(resource_type)
        if found is None:
            raise ResourceTypeNotSupported(
                resource_type, "protectable plugin", [*self, *self.broken]
            )
        return found

    def check_available(self, resource_types: Iterable[str]) -> None:
        """Raise if the protectable of any of ``resource_types`` did not load.

        Raises:
            ProtectableUnavailable: for the first such type, in sorted order.
        """
        for resource_type in sorted(set(resource_types)):
            cause = self.broken.get(resource_type)
            if cause is not None:
                raise ProtectableUnavailable(resource_type, cause) from cause


__all__ = ["ProtectableSet", "ProtectableUnavailable"]
