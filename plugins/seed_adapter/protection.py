"""A seed-style protection plugin wrapped once, at load time, into ``ProtectionPlugin``.

The wrapper reads the supported types (``get_supported_resources_types()`` or
``supported_resource_types``) when the class is loaded, validates parameters against the
plugin's JSON Schema documents (Karbor's ``get_options_schema`` and siblings) or its
msgspec schemas, and hands each activity what a seed plugin expects: a checkpoint with
Karbor's synchronous bank section, the resource as a named tuple that reads as a mapping
too, and the parameters as a plain dict. Activities keep their shape (function, coroutine,
generator, async generator), so the activity runner drives them as it drives ours.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, ClassVar

import msgspec

from plugins.base import Activity, PluginOptions, ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import RequestContext
from plugins.errors import PluginLoadError
from plugins.phases import ANY_TYPE, OPERATIONS, PHASES, OperationType, Phase
from plugins.resource import Resource
from plugins.seed_adapter.calling import call, construct, probe
from plugins.seed_adapter.checkpoint_view import SeedCheckpoint
from plugins.seed_adapter.resources import GUIDE, seed_resource
from plugins.seed_adapter.schemas import JsonParameters, check_schema, validate_json

# Karbor's schema methods, by the kind ``Provider.extended_info_schema`` publishes
SCHEMA_METHODS: dict[str, str] = {
    "options_schema": "get_options_schema",
    "restore_schema": "get_restore_schema",
    "saved_info_schema": "get_saved_info_schema",
}
_BY_OPERATION: dict[str, str] = {"protect": "options_schema", "restore": "restore_schema"}


class SeedProtection(ProtectionPlugin):
    """Runs a seed protection plugin's activities, unchanged, through our engine."""

    seed_class: ClassVar[type]
    seed_name: ClassVar[str]

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.seed: Any = construct(self.seed_class, self.config, ProtectionPlugin)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._json: dict[tuple[str, str], dict[str, Any] | None] = {}
        # built once: the runner classifies (and caches) activities by their function
        self._activities: dict[tuple[str, str], Activity] = {}
        for operation in OPERATIONS:
            for phase in PHASES:
                method = getattr(self.seed, f"activity_{operation}_{phase}", None)
                if method is not None:
                    self._activities[operation, phase] = self._wrap(method)

    # -- schemas ----------------------------------------------------------------------

    def json_schema(self, kind: str, resource_type: str) -> dict[str, Any] | None:
        """The plugin's JSON Schema of ``kind`` for ``resource_type``, or None if it gives none.

        Raises:
            PluginLoadError: if the plugin returns something that is not a JSON Schema.
        """
        key = (kind, resource_type)
        if key not in self._json:
            method = getattr(self.seed, SCHEMA_METHODS[kind], None)
            document = None
            if method is not None:
                where = f"{SCHEMA_METHODS[kind]}({resource_type!r}) of plugin {self.seed_name}"
                document = check_schema(_call_schema(method, resource_type), where)
            self._json[key] = document
        return self._json[key]

    def published_schema(self, kind: str, resource_type: str) -> dict[str, Any]:
        document = self.json_schema(kind, resource_type)
        return document if document is not None else super().published_schema(kind, resource_type)

    def validate_parameters(
        self, operation: OperationType, resource: Resource, raw: Mapping[str, Any]
    ) -> msgspec.Struct:
        kind = _BY_OPERATION.get(operation)
        document = self.json_schema(kind, resource.type) if kind is not None else None
        if document is None:
            return super().validate_parameters(operation, resource, raw)
        return validate_json(document, raw, f"{operation} of {resource.key}")

    # -- the rest of the interface ----------------------------------------------------

    def authorize(self, operation: OperationType, context: RequestContext, resource: Resource,
                  parameters: msgspec.Struct) -> None:
        if isinstance(self.seed, ProtectionPlugin):
            self.seed.authorize(operation, context, resource, parameters)

    def activity(self, operation: OperationType, phase: Phase) -> Activity | None:
        return self._activities.get((operation, phase))

    async def setup(self) -> None:
        self._loop = asyncio.get_running_loop()
        method = getattr(self.seed, "setup", None)
        if method is not None:
            await call(method)

    async def close(self) -> None:
        method = getattr(self.seed, "close", None)
        if method is not None:
            await call(method)

    # -- activities -------------------------------------------------------------------

    def _arguments(self, checkpoint: Checkpoint, context: RequestContext, resource: Resource,
                   parameters: Any) -> tuple[Any, ...]:
        if isinstance(self.seed, ProtectionPlugin) and not isinstance(parameters, JsonParameters):
            values = parameters  # our own typed form: the plugin declared msgspec schemas
        elif isinstance(parameters, JsonParameters):
            values = dict(parameters.values)
        else:
            values = msgspec.to_builtins(parameters)
        return (SeedCheckpoint(checkpoint, self._loop), context, seed_resource(resource), values)

    def _wrap(self, method: Callable[..., Any]) -> Activity:
        args = self._arguments
        if inspect.isasyncgenfunction(method):
            async def async_generator(*given: Any) -> AsyncGenerator[Any, None]:
                async for step in method(*args(*given)):
                    yield step
            return async_generator
        if inspect.iscoroutinefunction(method):
            async def coroutine(*given: Any) -> Any:
                return await method(*args(*given))
            return coroutine
        if inspect.isgeneratorfunction(method):
            def generator(*given: Any) -> Generator[Any, None, Any]:
                return (yield from method(*args(*given)))
            return generator

        def function(*given: Any) -> Any:
            return method(*args(*given))
        return function


def _call_schema(method: Callable[..., Any], resource_type: str) -> Any:
    try:
        return method(resource_type)
    except TypeError:  # Karbor's took the type; a plugin with one schema may not
        return method()


def adapt_protection(cls: type, where: str) -> type[ProtectionPlugin]:
    """A ``ProtectionPlugin`` subclass running ``cls``, its supported types read now.

    Raises:
        PluginLoadError: if the types cannot be read or name none.
    """
    if "get_supported_resources_types" in dir(cls):
        types = probe(cls, "get_supported_resources_types", where)
    else:
        types = getattr(cls, "supported_resource_types", ())
    if isinstance(types, str) or not all(isinstance(t, str) and t for t in types or ()):
        raise PluginLoadError(f"{where}: get_supported_resources_types() returned {types!r}, "
                              f"not a collection of resource type names")
    name = f"{cls.__module__}:{cls.__qualname__}"
    options = getattr(cls, "Options", PluginOptions)
    namespace: dict[str, Any] = {
        "seed_class": cls, "seed_name": name, "supported_resource_types": frozenset(types or ()),
        "Options": options if isinstance(options, type) and issubclass(options, msgspec.Struct)
        else PluginOptions,
        "__module__": cls.__module__, "__doc__": cls.__doc__,
    }
    for attribute in ("Parameters", "RestoreParameters", "SavedInfo", "default_timeout",
                      "default_poll_interval"):
        if attribute in dir(cls):
            namespace[attribute] = getattr(cls, attribute)
    return type(f"Seed{cls.__name__}", (SeedProtection,), namespace)


__all__ = ["ANY_TYPE", "GUIDE", "SCHEMA_METHODS", "SeedProtection", "adapt_protection"]
