"""Seed-style (Karbor) plugin classes, wrapped at load time: what loads, and what is refused."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from typing import Any

import pytest

from plugins.base import ProtectablePlugin, ProtectionPlugin
from plugins.context import RequestContext
from plugins.errors import InvalidParameters, PluginLoadError
from plugins.registry import PluginRegistry
from plugins.resource import Resource

KarborResource = namedtuple("KarborResource", ["type", "id", "name", "extra_info"])


class SyncVolumes(ProtectablePlugin):
    """Derives from our base, but with the seed's method forms: sync, get_resource_type()."""

    def get_resource_type(self) -> str:
        return "Seed::Volume"

    def get_parent_resource_types(self) -> Any:
        return ["Seed::Server"]

    def list_resources(self, context: Any, parameters: Any = None) -> Any:  # type: ignore[override]
        return [KarborResource("Seed::Volume", "v1", "one", {"size": 1})]

    def show_resource(self, context: Any, resource_id: str, parameters: Any = None) -> Any:  # type: ignore[override]
        return {"type": "Seed::Volume", "id": resource_id, "name": "x"}

    def get_dependent_resources(self, context: Any, parent_resource: Any) -> Any:  # type: ignore[override]
        return [{"type": "Seed::Volume", "id": f"of-{parent_resource['id']}", "name": ""}]


class ReturnsJunk:
    def get_resource_type(self) -> str:
        return "Seed::Junk"

    def list_resources(self, context: Any, parameters: Any = None) -> Any:
        return ["not-a-resource"]

    def show_resource(self, context: Any, resource_id: str, parameters: Any = None) -> Any:
        return 42


class NoTypes:
    @classmethod
    def get_supported_resources_types(cls) -> list[str]:
        return []

    def activity_protect_pre(self, checkpoint: Any, context: Any, resource: Any,
                             parameters: Any) -> None:
        pass


class Nothing:
    def list_resources(self) -> None:
        pass


class JsonSchemas:
    @classmethod
    def get_supported_resources_types(cls) -> list[str]:
        return ["Seed::Volume"]

    @classmethod
    def get_options_schema(cls, resources_type: str) -> dict[str, Any]:
        return {"type": "object", "properties": {"copies": {"type": "integer", "default": 2}},
                "additionalProperties": False}

    def activity_protect_parallel(self, checkpoint: Any, context: Any, resource: Any,
                                  parameters: Any) -> Any:
        yield


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_sync_protectable_with_get_resource_type_and_karbor_resources_loads() -> None:
    registry = PluginRegistry(load_entry_points=False)
    registry.register_protectable(SyncVolumes)  # type: ignore[arg-type]
    assert registry.names("strongbox.protectables") == ["Seed::Volume"]
    plugin = registry.protectable_class("Seed::Volume")()
    assert plugin.parent_resource_types == frozenset({"Seed::Server"})
    context = RequestContext()
    listed = run(plugin.list_resources(context))
    assert listed == [Resource(type="Seed::Volume", id="v1")]
    assert listed[0].extra == {"size": 1} and listed[0].name == "one"
    shown = run(plugin.show_resource(context, "v9"))
    assert shown.key == "Seed::Volume#v9"
    parent = Resource(type="Seed::Server", id="s1")
    assert run(plugin.get_dependent_resources(context, parent))[0].id == "of-s1"


def test_a_non_resource_return_names_the_method_the_plugin_and_the_value() -> None:
    registry = PluginRegistry(load_entry_points=False)
    registry.register_protectable(ReturnsJunk)  # type: ignore[arg-type]
    plugin = registry.protectable_class("Seed::Junk")()
    with pytest.raises(PluginLoadError, match=r"list_resources\(\) of plugin "
                       r"(tests.unit.plugins.)?test_seed_adapter:ReturnsJunk returned "
                       r"'not-a-resource'.*docs/plugin-guide.md"):
        run(plugin.list_resources(RequestContext()))
    with pytest.raises(PluginLoadError, match=r"show_resource\(\) of plugin .*ReturnsJunk "
                       r"returned 42"):
        run(plugin.show_resource(RequestContext(), "x"))


def test_a_protection_plugin_supporting_no_type_is_a_load_error() -> None:
    registry = PluginRegistry(load_entry_points=False)
    with pytest.raises(PluginLoadError, match=r"protection plugin .*NoTypes supports no "
                       r"resource type.*docs/plugin-guide.md"):
        registry.register_protection("none", NoTypes)  # type: ignore[arg-type]


def test_our_own_protection_plugin_supporting_no_type_is_a_load_error_too() -> None:
    class Empty(ProtectionPlugin):
        pass
    with pytest.raises(PluginLoadError, match=r"supports no resource type"):
        PluginRegistry(load_entry_points=False).register_protection("empty", Empty)


def test_a_class_of_neither_form_names_the_missing_methods_and_the_guide() -> None:
    registry = PluginRegistry(load_entry_points=False)
    with pytest.raises(PluginLoadError, match=r"Nothing is not a protectable plugin: it does "
                       r"not implement get_resource_type\(\), show_resource\(\).*"
                       r"docs/plugin-guide.md"):
        registry.register_protectable(Nothing)  # type: ignore[arg-type]


def test_json_schema_parameters_are_validated_with_defaults_and_name_resource_and_field() -> None:
    registry = PluginRegistry(load_entry_points=False)
    registry.register_protection("json", JsonSchemas)  # type: ignore[arg-type]
    plugin = registry.protection_class("json")()
    volume = Resource(type="Seed::Volume", id="v1")
    validated = plugin.validate_parameters("protect", volume, {})
    assert validated.values == {"copies": 2}  # type: ignore[attr-defined]
    with pytest.raises(InvalidParameters, match=r"protect of Seed::Volume#v1.*'x' is not of "
                       r"type 'integer' - at `\$.copies`"):
        plugin.validate_parameters("protect", volume, {"copies": "x"})
    assert plugin.published_schema("options_schema", "Seed::Volume")["properties"] == {
        "copies": {"type": "integer", "default": 2}}
    assert plugin.activity("protect", "parallel") is not None
    assert plugin.activity("protect", "pre") is None
