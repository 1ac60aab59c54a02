"""Calling a seed plugin's methods: synchronous ones in the thread pool, async ones awaited,
and building the plugin object with whatever constructor it has."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from plugins.errors import PluginLoadError


async def call(method: Callable[..., Any], *args: Any) -> Any:
    """``method(*args)``: awaited if async, else in the loop's thread pool (blocking SDK
    calls never stall the loop), like a synchronous activity."""
    if inspect.iscoroutinefunction(method):
        return await method(*args)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    result = await loop.run_in_executor(None, functools.partial(context.run, method, *args))
    if inspect.isawaitable(result):
        return await result
    return result


def construct(cls: Any, config: Mapping[str, str], base: type) -> Any:
    """An instance of the seed class ``cls``, given its provider-file section when it takes one.

    Our own subclasses get ``cls(config)``; others ``cls(config=config)`` when their
    constructor has a ``config`` parameter (Karbor's did), else ``cls()``.

    Raises:
        PluginLoadError: if the constructor needs arguments we cannot supply.
    """
    if issubclass(cls, base):
        return cls(config)
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls()
    if "config" in parameters:
        return cls(config=config)
    required = [name for name, p in parameters.items()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                       p.KEYWORD_ONLY)]
    if required:
        raise PluginLoadError(
            f"{cls.__module__}:{cls.__qualname__}() needs {', '.join(required)}; a plugin is "
            f"built with no arguments or with config=<its provider-file section>")
    return cls()


def probe(cls: type, method: str, where: str) -> Any:
    """Call ``cls.method()`` at load time, on a bare instance if it is not a classmethod
    (Karbor's ``get_resource_type`` and ``get_supported_resources_types`` return constants).

    Raises:
        PluginLoadError: if the call fails, saying that it must not need the instance's state.
    """
    attribute = inspect.getattr_static(cls, method)
    try:
        if isinstance(attribute, (classmethod, staticmethod)):
            return getattr(cls, method)()
        bare: Any = object.__new__(cls)
        return getattr(bare, method)()
    except Exception as error:
        raise PluginLoadError(
            f"{where}: {method}() failed when read at load time ({type(error).__name__}: "
            f"{error}); it must return a constant, without needing what __init__ sets up"
        ) from error


__all__ = ["call", "construct", "probe"]
