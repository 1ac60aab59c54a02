"""Plugins written to the seeds' interface (Karbor's), wrapped once at load time.

``adapt`` is called by the registry for every class it loads. A class written to our
interface (``plugins.base``: async discovery, ``resource_type`` and
``supported_resource_types`` attributes, msgspec schemas) passes through untouched; a class
written to the seeds' interface, whether it derives from our base classes or from nothing,
is wrapped into one that does (``SeedProtectable``, ``SeedProtection``). Nothing past the
registry knows the difference. Anything else is refused with the methods it lacks.
"""

from __future__ import annotations

import inspect
from typing import Any

from plugins.base import ProtectablePlugin, ProtectionPlugin
from plugins.errors import PluginLoadError
from plugins.seed_adapter.protectable import SeedProtectable, adapt_protectable
from plugins.seed_adapter.protection import SeedProtection, adapt_protection
from plugins.seed_adapter.resources import GUIDE, NotAResource, SeedResource

_DISCOVERY = ("list_resources", "show_resource", "get_dependent_resources")
_KARBOR_PROTECTION = ("get_supported_resources_types", "get_options_schema",
                      "get_restore_schema", "get_saved_info_schema")


def adapt(base: type, obj: Any, where: str) -> Any:
    """``obj`` itself if it is one of our plugin classes, or a wrapper if it is written to
    the seeds' interface; anything that is not a plugin class of ``base`` is returned as is
    (the registry's own checks explain it).

    Raises:
        PluginLoadError: for a class that implements neither form (naming what is missing
            and pointing to the guide), or whose type or supported types cannot be read or
            are empty.
    """
    if not isinstance(obj, type) or issubclass(obj, (SeedProtectable, SeedProtection)):
        return obj
    if base is ProtectablePlugin:
        if _native_protectable(obj):
            return obj
        _require(obj, where, "protectable", _missing_protectable(obj))
        return adapt_protectable(obj, where)
    if base is ProtectionPlugin:
        if issubclass(obj, ProtectionPlugin) and not any(hasattr(obj, m)
                                                         for m in _KARBOR_PROTECTION):
            cls = obj
        else:
            _require(obj, where, "protection", _missing_protection(obj))
            cls = adapt_protection(obj, where)
        if not cls.supported_resource_types:
            raise PluginLoadError(
                f"{where}: protection plugin {_name(obj)} supports no resource type; set "
                f"supported_resource_types (or return them from "
                f"get_supported_resources_types()), '*' for every type (see {GUIDE})")
        return cls
    return obj


def _native_protectable(cls: type) -> bool:
    if not issubclass(cls, ProtectablePlugin) or not isinstance(
            getattr(cls, "resource_type", None), str):
        return False
    if cls.get_resource_type is not ProtectablePlugin.get_resource_type:
        return False
    return all(inspect.iscoroutinefunction(getattr(cls, m)) for m in _DISCOVERY)


def _missing_protectable(cls: type) -> list[str]:
    missing = []
    method = getattr(cls, "get_resource_type", None)
    if not (isinstance(getattr(cls, "resource_type", None), str)
            or (callable(method) and method is not ProtectablePlugin.get_resource_type)):
        missing.append("get_resource_type()")
    for name in ("list_resources", "show_resource"):
        if not callable(getattr(cls, name, None)) or name in getattr(
                cls, "__abstractmethods__", ()):
            missing.append(f"{name}()")
    return missing


def _missing_protection(cls: type) -> list[str]:
    missing = []
    if not (callable(getattr(cls, "get_supported_resources_types", None))
            or getattr(cls, "supported_resource_types", None)):
        missing.append("get_supported_resources_types()")
    if not any(name.startswith("activity_") for name in dir(cls)):
        missing.append("at least one activity_<protect|restore|delete>_<pre|parallel|post>()")
    return missing


def _require(cls: type, where: str, kind: str, missing: list[str]) -> None:
    if missing:
        raise PluginLoadError(
            f"{where}: {_name(cls)} is not a {kind} plugin: it does not implement "
            f"{', '.join(missing)}. Implement the seed's methods (a plain class is fine) or "
            f"derive from plugins.base:{_BASES[kind]}; "
            f"see {GUIDE}")


_BASES = {"protectable": "ProtectablePlugin", "protection": "ProtectionPlugin"}


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


__all__ = ["GUIDE", "NotAResource", "SeedProtectable", "SeedProtection", "SeedResource", "adapt"]
