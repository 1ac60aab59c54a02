"""The loaded providers: the enabled ones by id or name, and which one is the default.

``load_providers`` (in ``plugins.provider.loading``) returns a ``ProviderSet``. A lookup that
finds no enabled provider raises ``ProviderNotFound`` listing the ones there are; asking for
a provider whose file did not load raises that file's ``ProviderConfigError``.

A provider file that does not load still counts when the default is chosen: with a good
and a broken file and no ``$STRONGBOX_PROVIDER``, there is no default, because the broken
file may be the provider the user meant, and data must not go to the other one's bank.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from plugins.errors import PluginError
from plugins.provider.config import BrokenProvider, ProviderConfig

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
        self,
        directory: Path,
        providers: Iterable[Provider],
        configs: Iterable[ProviderConfig],
        broken: Iterable[BrokenProvider] = (),
    ) -> None:
        self.directory = directory
        self._providers = {p.id: p for p in providers}
        self.all: dict[str, ProviderConfig] = {c.id.value: c for c in configs}
        # files that did not load, and enabled providers whose bank or plugins did not
        self.broken: list[BrokenProvider] = list(broken)

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
        for broken in self.broken:
            if id_or_name in broken.names():
                raise broken.error_again()
        for config in self.all.values():
            if id_or_name in (config.id.value, config.name.value):
                raise ProviderNotFound(
                    f"provider {id_or_name!r} is disabled in {config.path}", self._labels()
                )
        raise ProviderNotFound(
            f"no provider {id_or_name!r} in {self.directory}{self._unparsed()}", self._labels()
        )

    def default(self) -> Provider:
        """``$STRONGBOX_PROVIDER`` if set, else the only enabled provider.

        Raises:
            ProviderNotFound: if the variable names no provider, or none or several are
                enabled (a provider file that does not load counts as one).
            ProviderConfigError: if the one provider there is does not load.
        """
        wanted = os.environ.get(PROVIDER_ENV)
        if wanted:
            try:
                return self.get(wanted)
            except ProviderNotFound as error:
                raise ProviderNotFound(f"${PROVIDER_ENV}: {error}", ()) from error
        broken = [b for b in self.broken if b.config is None or b.config.enabled]
        if len(self._providers) == 1 and not broken:
            return next(iter(self._providers.values()))
        if not self._providers:
            self.raise_if_none_loads()
            raise ProviderNotFound(f"no enabled provider in {self.directory}", ())
        if broken:
            raise ProviderNotFound(
                f"{len(self._providers) + len(broken)} providers are enabled and "
                f"{len(broken)} of them do not load (first: {broken[0].error}); fix it or "
                f"choose one with ${PROVIDER_ENV}",
                self._labels(),
            )
        raise ProviderNotFound(
            f"{len(self._providers)} providers are enabled; choose one with ${PROVIDER_ENV}",
            self._labels(),
        )

    def raise_if_none_loads(self) -> None:
        """Raise when no provider loads and some file is broken (else do nothing).

        Raises:
            ProviderConfigError: the one broken file's error.
            ProviderNotFound: naming each broken file's error, if there are several.
        """
        if self._providers or not self.broken:
            return
        if len(self.broken) == 1:
            raise self.broken[0].error_again()
        raise ProviderNotFound(
            f"no provider loads in {self.directory}: "
            + "; ".join(str(b.error) for b in self.broken),
            (),
        )

    def _unparsed(self) -> str:
        unparsed = [str(b.path) for b in self.broken if b.config is None]
        return f" (files that do not parse: {', '.join(unparsed)})" if unparsed else ""

    def _labels(self) -> list[str]:
        return [f"{p.name} (id {p.id})" for p in self._providers.values()]

    def __repr__(self) -> str:
        broken = [str(b.path) for b in self.broken]
        return f"ProviderSet({self.directory}, enabled={list(self._providers)}, broken={broken})"


__all__ = ["PROVIDER_ENV", "ProviderNotFound", "ProviderSet"]
