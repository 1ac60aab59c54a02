"""The loaded providers: the enabled ones by id or name, and which one is the default.

``load_providers`` (in ``plugins.provider.loading``) returns a ``ProviderSet``. A lookup that
finds no enabled provider raises ``ProviderNotFound`` listing the ones there are.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from plugins.errors import PluginError
from plugins.provider.config import ProviderConfig

if TYPE_CHECKING:  # only the type: a ProviderSet holds providers built elsewhere
    from plugins.provider.provider import Provider

PROVIDER_ENV: Final = "STRONGBOX_PROVIDER"


class ProviderNotFound(PluginError, LookupError):
    """No enabled provider matches; the message lists the ones there are."""

    def __init__(self, problem: str, available: Iterable[str]) -> None:
        self.available = sorted(available)
        super().__init__(f"{problem}; available: {', '.join(self.available) or 'none'}")


class ProviderSet:
    """The enabled providers by id; ``all`` also holds the disabled ones' configs."""

    def __init__(
        self, directory: Path, providers: Iterable[Provider], configs: Iterable[ProviderConfig]
    ) -> None:
        self.directory = directory
        self._providers = {p.id: p for p in providers}
        self.all: dict[str, ProviderConfig] = {c.id.value: c for c in configs}

    def __getitem__(self, provider_id: str) -> Provider:
        return self.get(provider_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._providers

    def values(self) -> list[Provider]:
        """The enabled providers, in file-name order."""
        return list(self._providers.values())

    def disabled(self) -> list[ProviderConfig]:
        """Configs of the providers whose file says ``enabled = false``."""
        return [c for c in self.all.values() if not c.enabled]

    def get(self, id_or_name: str) -> Provider:
        """The enabled provider with this id or, failing that, this name.

        Raises:
            ProviderNotFound: listing the enabled providers (and saying if it is disabled).
        """
        found = self._providers.get(id_or_name)
        found = found or next((p for p in self._providers.values() if p.name == id_or_name), None)
        if found is not None:
            return found
        for config in self.all.values():
            if id_or_name in (config.id.value, config.name.value):
                raise ProviderNotFound(
                    f"provider {id_or_name!r} is disabled in {config.path}", self._labels()
                )
        raise ProviderNotFound(f"no provider {id_or_name!r} in {self.directory}", self._labels())

    def default(self) -> Provider:
        """``$STRONGBOX_PROVIDER`` if set, else the only enabled provider.

        Raises:
            ProviderNotFound: if the variable names no provider, or none or several are enabled.
        """
        wanted = os.environ.get(PROVIDER_ENV)
        if wanted:
            try:
                return self.get(wanted)
            except ProviderNotFound as error:
                raise ProviderNotFound(f"${PROVIDER_ENV}: {error}", ()) from error
        if len(self._providers) == 1:
            return next(iter(self._providers.values()))
        if not self._providers:
            raise ProviderNotFound(f"no enabled provider in {self.directory}", ())
        raise ProviderNotFound(
            f"{len(self._providers)} providers are enabled; choose one with ${PROVIDER_ENV}",
            self._labels(),
        )

    def _labels(self) -> list[str]:
        return [f"{p.name} (id {p.id})" for p in self._providers.values()]

    def __repr__(self) -> str:
        return f"ProviderSet({self.directory}, enabled={list(self._providers)})"


__all__ = ["PROVIDER_ENV", "ProviderNotFound", "ProviderSet"]
