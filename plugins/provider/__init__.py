"""Providers: reading `providers.d/*.conf` (with line numbers kept), building each provider's
bank and plugins, and choosing one provider among the loaded ones."""

from plugins.provider.ini_reader import ProviderConfigError
from plugins.provider.loading import load_providers
from plugins.provider.provider import Provider, build_provider
from plugins.provider.selection import PROVIDER_ENV, ProviderNotFound, ProviderSet

__all__ = [
    "PROVIDER_ENV",
    "Provider",
    "ProviderConfigError",
    "ProviderNotFound",
    "ProviderSet",
    "build_provider",
    "load_providers",
]
