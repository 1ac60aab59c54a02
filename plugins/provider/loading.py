"""Loading every provider file of a directory into a ``ProviderSet``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from plugins.provider.config import BrokenProvider, read_provider_dir, resolve_providers_dir
from plugins.provider.ini_reader import ProviderConfigError
from plugins.provider.provider import build_provider
from plugins.provider.selection import ProviderSet
from plugins.registry import PluginRegistry

log = structlog.get_logger(__name__)


async def load_providers(
    directory: Path | None = None, registry: PluginRegistry | None = None
) -> ProviderSet:
    """Load every provider file of ``directory`` (default: see ``resolve_providers_dir``).

    Disabled providers are parsed and checked for syntax but their plugins are not built.
    A file that does not parse, or whose bank or plugins do not load, fails alone: it is
    in ``ProviderSet.broken`` with its error (file and line), and the others load.

    Raises:
        ProviderConfigError: if the directory does not exist.
    """
    directory = resolve_providers_dir(directory)
    registry = registry if registry is not None else PluginRegistry()
    configs, broken = await asyncio.to_thread(read_provider_dir, directory)
    providers = []
    for config in configs:
        if not config.enabled:
            log.info("provider_disabled", provider_id=config.id.value, path=str(config.path))
            continue
        try:
            providers.append(build_provider(config, registry))
        # anything a third-party plugin raises while being set up fails its provider only
        except Exception as error:
            problem = error if isinstance(error, ProviderConfigError) else config.error(
                config.line, f"cannot be loaded: {type(error).__name__}: {error}"
            )
            broken.append(BrokenProvider(config.path, problem, config))
    for failed in broken:
        log.warning("provider_not_loaded", path=str(failed.path), error=str(failed.error))
    if not configs and not broken:
        log.warning("no_provider_files", directory=str(directory))
    return ProviderSet(directory, providers, configs, broken)
