"""Providers: one bank and the protection plugins that act on each resource type.

``load_providers`` reads ``providers.d/*.conf`` (see ``plugins.provider.config``), looks
every bank and plugin name up in the registry, checks every section against the option
schema of what it configures (``plugins.provider.options_check``), builds the plugins and
computes which plugin handles which resource type: a plugin listing a type explicitly wins
over one supporting ``*``; two explicit plugins for one type, or two ``*`` plugins, are an
error naming both. The bank is opened later, with ``await provider.open_bank()``.
The loaded providers are a ``ProviderSet`` (``plugins.provider.selection``), built by
``load_providers`` (``plugins.provider.loading``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from banks.base import Bank
from banks.extras import MissingExtra
from plugins.base import ANY_TYPE, ProtectablePlugin, ProtectionPlugin
from plugins.errors import (
    PluginError,
    PluginLoadError,
    PluginMoved,
    PluginNotFound,
    ResourceTypeNotSupported,
)
from plugins.provider.config import ProviderConfig
from plugins.provider.deadlines import DEADLINE_KEYS, ProviderDeadlines
from plugins.provider.ini_reader import Entry, ProviderConfigError, Section
from plugins.provider.options_check import check_options, check_sections
from plugins.provider.protectables import ProtectableSet
from plugins.redaction import RedactedDict, scrub
from plugins.registry import PROTECTABLES, PluginRegistry

log = structlog.get_logger(__name__)
_T = TypeVar("_T")


@dataclass(eq=False)
class Provider:
    """A bank plus protection plugins, built from one provider file."""

    id: str
    name: str
    description: str
    bank_name: str
    bank_class: type[Bank] = field(repr=False)
    bank_config: RedactedDict
    plugins: dict[str, ProtectionPlugin]
    type_map: dict[str, str]
    wildcard_plugin: str | None
    config: ProviderConfig = field(repr=False)
    deadlines: ProviderDeadlines = field(default_factory=ProviderDeadlines)

    @property
    def source(self) -> Path:
        """The provider file this came from."""
        return self.config.path

    def resource_types(self) -> list[str]:
        """The types some plugin lists explicitly (``*`` plugins cover the rest)."""
        return sorted(self.type_map)

    def plugin_for(self, resource_type: str) -> ProtectionPlugin:
        """The protection plugin that handles ``resource_type``.

        Raises:
            ResourceTypeNotSupported: listing the types this provider handles.
        """
        name = self.type_map.get(resource_type, self.wildcard_plugin)
        if name is None:
            raise ResourceTypeNotSupported(
                resource_type, f"protection plugin in provider {self.name}", self.type_map
            )
        return self.plugins[name]

    async def open_bank(self) -> Bank:
        """Open this provider's bank with its section of the provider file.

        Raises:
            BankError: from the bank, naming the option at fault.
        """
        return await self.bank_class.open(self.bank_config)

    def protectables(self, registry: PluginRegistry | None = None) -> ProtectableSet:
        """A new instance of every registered protectable, keyed by resource type.

        Each is configured from its ``[protectable:<type>]`` section, if the file has one.
        One that cannot be imported or set up is kept aside in ``broken`` with its error
        (an operation needing its type fails; the others do not).
        """
        registry = registry if registry is not None else PluginRegistry()
        sections = self.config.protectable_sections()
        plugins: dict[str, ProtectablePlugin] = {}
        broken: dict[str, PluginError] = {}
        for resource_type in registry.names(PROTECTABLES):
            try:
                plugins[resource_type] = _instantiate(
                    self.config,
                    sections.get(resource_type),
                    self.config.line,
                    f"protectable {resource_type!r}",
                    registry.protectable_class(resource_type),
                )
            except PluginError as error:
                # a type whose extra is not installed is expected, not worth a warning
                quiet = isinstance(error.__cause__, MissingExtra)
                (log.debug if quiet else log.warning)(
                    "protectable_unavailable", resource_type=resource_type,
                    provider=self.name, error=str(error))
                broken[resource_type] = error
        return ProtectableSet(plugins, broken)

    def extended_info_schema(self) -> dict[str, dict[str, Any]]:
        """JSON Schemas per explicitly supported type, shaped like Karbor's provider API.

        ``{"options_schema": {type: schema}, "restore_schema": ..., "saved_info_schema": ...}``
        """
        kinds = ("options_schema", "restore_schema", "saved_info_schema")
        return {
            kind: {
                t: self.plugins[name].published_schema(kind, t)
                for t, name in sorted(self.type_map.items())
            }
            for kind in kinds
        }


def build_provider(config: ProviderConfig, registry: PluginRegistry) -> Provider:
    """Look up the bank and plugins of ``config`` and build the plugins.

    Raises:
        ProviderConfigError: for an unknown or broken bank or plugin, a plugin refusing its
            options, a resource type claimed twice, or an unknown protectable section.
    """
    check_sections(config, registry.names(PROTECTABLES))
    bank_class = _lookup(config, config.bank, "bank", registry.bank_class)
    bank = config.bank.value
    check_options(config, config.section(bank), bank_class.Options, f"bank {bank!r}")
    plugins: dict[str, ProtectionPlugin] = {}
    for ref in config.plugins:
        cls = _lookup(config, ref, "protection plugin", registry.protection_class)
        section = config.section(ref.value)
        what = f"protection plugin {ref.value!r}"
        check_options(config, section, cls.Options, what)
        plugins[ref.value] = _instantiate(config, section, ref.line, what, cls)
        plugins[ref.value].plugin_name = ref.value
    type_map, wildcard = _type_map(config, plugins)
    _check_protectable_sections(config, registry)
    deadlines = _deadlines(config)
    provider = Provider(
        id=config.id.value,
        name=config.name.value,
        description=config.description,
        bank_name=config.bank.value,
        bank_class=bank_class,
        bank_config=config.options(config.bank.value),
        plugins=plugins,
        type_map=type_map,
        wildcard_plugin=wildcard,
        config=config,
        deadlines=deadlines,
    )
    log.info(
        "provider_loaded",
        provider_id=provider.id,
        provider=provider.name,
        path=str(config.path),
        bank=provider.bank_name,
        plugins=list(plugins),
    )
    return provider


def _deadlines(config: ProviderConfig) -> ProviderDeadlines:
    """The deadline keys of ``[provider]``, checked like any option (file and line)."""
    section = config.provider_section
    entries = [e for e in section.entries if e.key in DEADLINE_KEYS] if section else []
    if section is None or not entries:
        return ProviderDeadlines()
    only = Section(name=section.name, line=section.line, entries=entries)
    converted = check_options(config, only, ProviderDeadlines, "the provider")
    assert isinstance(converted, ProviderDeadlines)  # converted into the schema given
    return converted


def _lookup(
    config: ProviderConfig, ref: Entry, what: str, getter: Callable[[str], type[_T]]
) -> type[_T]:
    try:
        return getter(ref.value)
    except PluginMoved as error:
        raise config.error(ref.line, f"unknown {what} {ref.value!r}: {error}") from error
    except PluginNotFound as error:
        raise config.error(
            ref.line,
            f"unknown {what} {ref.value!r}; available: {', '.join(error.available) or 'none'}",
        ) from error
    except PluginLoadError as error:
        raise config.error(ref.line, f"{what} {ref.value!r} cannot be loaded: {error}") from error


def _instantiate(
    config: ProviderConfig,
    section: Section | None,
    fallback_line: int,
    what: str,
    cls: Callable[[RedactedDict], _T],
) -> _T:
    """``cls(options)``; a refusal becomes a ProviderConfigError at the section's line."""
    options = section.options() if section is not None else RedactedDict()
    try:
        return cls(options)
    except Exception as error:
        detail = str(error)
        safe = scrub(detail, section.secret_values() if section is not None else [])
        where = f" in [{section.name}]" if section is not None else ""
        line = section.line if section is not None else fallback_line
        problem = f"invalid options for {what}{where}: {safe}"
        if safe != detail:  # the original would show a secret in a traceback
            raise config.error(line, problem) from None
        raise config.error(line, problem) from error


def _type_map(
    config: ProviderConfig, plugins: dict[str, ProtectionPlugin]
) -> tuple[dict[str, str], str | None]:
    lines = {ref.value: ref.line for ref in config.plugins}
    explicit: dict[str, str] = {}
    wildcard: str | None = None
    for name, plugin in plugins.items():
        types = sorted(plugin.supported_resource_types)
        for resource_type in types:
            owner = wildcard if resource_type == ANY_TYPE else explicit.get(resource_type)
            if owner is not None:
                claim = "every type ('*')" if resource_type == ANY_TYPE else repr(resource_type)
                raise config.error(
                    lines[name],
                    f"plugins {owner!r} (line {lines[owner]}) and {name!r} (line {lines[name]}) "
                    f"both support {claim}; list only one of them",
                )
            if resource_type == ANY_TYPE:
                wildcard = name
            else:
                explicit[resource_type] = name
    return explicit, wildcard


def _check_protectable_sections(config: ProviderConfig, registry: PluginRegistry) -> None:
    """Load the protectables this file configures and check their options.

    A protectable that a section names is used by this provider: if it does not load,
    the provider does not either, at the section's line.
    """
    for resource_type, section in config.protectable_sections().items():
        what = f"protectable {resource_type!r}"
        try:
            cls = registry.protectable_class(resource_type)
        except PluginLoadError as error:
            raise config.error(section.line, f"{what} cannot be loaded: {error}") from error
        check_options(config, section, cls.Options, what)


__all__ = [
    "Provider",
    "ProviderConfigError",
    "build_provider",
]
