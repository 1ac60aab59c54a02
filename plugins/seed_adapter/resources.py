"""Resources in the three forms a seed-style plugin may use, and back.

A seed (Karbor) protectable returns resources as our ``Resource``, as a named tuple of
``type, id, name, extra_info`` (Karbor's own ``Resource``) or as a mapping with ``type``,
``id``, ``name`` and optionally ``extra_info``. Everything past the adapter sees only
``Resource``; a parent is handed back to the plugin in the form its protectable returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from plugins.errors import PluginLoadError
from plugins.resource import Resource

GUIDE = "docs/plugin-guide.md"


class NotAResource(PluginLoadError):
    """A plugin returned something that is not a resource (names method, plugin, value)."""


class SeedResource(NamedTuple):
    """What a seed-style activity receives: Karbor's named tuple, readable as a mapping too.

    ``resource.id``, ``resource["id"]``, ``resource.get("extra_info")``, and our own
    ``resource.extra`` and ``resource.key`` all work, so code written against any of the
    three forms runs unchanged.
    """

    type: str
    id: str
    name: str
    extra_info: dict[str, Any]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return getattr(self, key)
            except AttributeError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping-style access with a default."""
        return getattr(self, key, default) if key in self._fields else default

    def keys(self) -> tuple[str, ...]:
        """The mapping keys, so ``dict(resource)`` works."""
        return self._fields

    @property
    def extra(self) -> dict[str, Any]:
        """Our ``Resource.extra`` under its Strongbox name."""
        return self.extra_info

    @property
    def key(self) -> str:
        """``type#id``."""
        return f"{self.type}#{self.id}"


def seed_resource(resource: Resource) -> SeedResource:
    """Our resource as a seed-style activity sees it."""
    return SeedResource(resource.type, resource.id, resource.name, dict(resource.extra))


def to_resource(value: Any, method: str, plugin: str) -> Resource:
    """Convert one returned value into a ``Resource`` and remember its form.

    Raises:
        NotAResource: naming ``method``, ``plugin`` and what was returned.
    """
    if isinstance(value, Resource):
        _remember(value.type, _as_is)
        return value
    try:
        if isinstance(value, Mapping):
            resource = _build(value["type"], value["id"], value.get("name"),
                              value.get("extra_info", value.get("extra")))
            _remember(resource.type, _as_mapping)
            return resource
        fields = getattr(type(value), "_fields", None)
        if isinstance(value, tuple) and fields is not None and {"type", "id"} <= set(fields):
            extra = getattr(value, "extra_info", None) or getattr(value, "extra", None)
            resource = _build(value.type, value.id, getattr(value, "name", ""), extra)  # type: ignore[attr-defined]
            _remember(resource.type, _named_tuple_factory(type(value)))
            return resource
    except (KeyError, TypeError, ValueError) as error:
        raise _not_a_resource(value, method, plugin,
                              f" ({type(error).__name__}: {error})") from error
    raise _not_a_resource(value, method, plugin, "")


def to_resources(values: Any, method: str, plugin: str) -> list[Resource]:
    """Convert a returned list (or any iterable but a mapping or string).

    Raises:
        NotAResource: if it is not a list of resources.
    """
    if values is None:
        return []
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise _not_a_resource(values, method, plugin, "; it must return a list of resources")
    return [to_resource(value, method, plugin) for value in values]


def in_plugin_form(resource: Resource) -> Any:
    """``resource`` in the form its own protectable returned it (a ``SeedResource`` when no
    seed-style protectable has returned one of its type in this process)."""
    with _LOCK:
        factory = _FORMS.get(resource.type)
    return factory(resource) if factory is not None else seed_resource(resource)


def _build(resource_type: Any, resource_id: Any, name: Any, extra: Any) -> Resource:
    if not isinstance(resource_type, str) or not resource_type:
        raise ValueError(f"type {resource_type!r} is not a non-empty string")
    if resource_id is None or str(resource_id) == "":
        raise ValueError("id is empty")
    if extra is not None and not isinstance(extra, Mapping):
        raise ValueError(f"extra_info {extra!r} is not a mapping")
    return Resource(type=resource_type, id=str(resource_id), name=str(name or ""),
                    extra=dict(extra or {}))


def _not_a_resource(value: Any, method: str, plugin: str, why: str) -> NotAResource:
    shown = repr(value)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return NotAResource(
        f"{method}() of plugin {plugin} returned {shown}{why}; a resource is a "
        f"plugins.resource.Resource, a named tuple of (type, id, name, extra_info) or a mapping "
        f"with 'type', 'id', 'name' and optionally 'extra_info' (see {GUIDE}, 'Building a "
        f"Resource')")


Form = Callable[[Resource], Any]


def _as_is(resource: Resource) -> Resource:
    return resource


def _as_mapping(resource: Resource) -> dict[str, Any]:
    return {"type": resource.type, "id": resource.id, "name": resource.name,
            "extra_info": dict(resource.extra)}


def _named_tuple_factory(cls: type) -> Form:
    fields = set(getattr(cls, "_fields", ()))

    def build(resource: Resource) -> Any:
        values = {"type": resource.type, "id": resource.id, "name": resource.name,
                  "extra_info": dict(resource.extra), "extra": dict(resource.extra)}
        return cls(**{key: value for key, value in values.items() if key in fields})
    return build


# one form per resource type (not per resource), so memory does not grow with the graph
_FORMS: dict[str, Form] = {}
_LOCK = threading.Lock()


def _remember(resource_type: str, form: Form) -> None:
    with _LOCK:
        _FORMS.setdefault(resource_type, form)


__all__ = ["GUIDE", "NotAResource", "SeedResource", "in_plugin_form", "seed_resource",
           "to_resource", "to_resources"]
