"""Loading every provider file of a directory into a ``ProviderSet``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from plugins.provider.config import read_provider_dir, resolve_providers_dir
from plugins.provider.provider import build_provider
from plugins.provider.selection import ProviderSet
from plugins.registry import PluginRegistry

log = structlog.get_logger(__name__)


async def load_providers(
    directory: Path | None = None, registry: PluginRegistry | None = None
) -> ProviderSet:
    """Load every provider file of ``directory`` (default: see ``resolve_providers_dir``).

    Disabled providers are parsed and checked for syntax but their plugins are not built.

    Raises:
        ProviderConfigError: naming the file, the line and the fault, for the first bad file.
    """
    directory = resolve_providers_dir(directory)
    registry = registry if registry is not None else PluginRegistry()
    configs = await asyncio.to_thread(read_provider_dir, directory)
    providers = []
    for config in configs:
        if not config.enabled:
            log.info("provider_disabled", provider_id=config.id.value, path=str(config.path))
            continue
        providers.append(build_provider(config, registry))
    if not configs:
        log.warning("no_provider_files", directory=str(directory))
    return ProviderSet(directory, providers, configs)
