"""The plugin registry: entry points, programmatic registration, import paths, refusals."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from banks.base import Bank
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank
from plugins import registry as registry_module
from plugins.base import ProtectablePlugin, ProtectionPlugin
from plugins.context import RequestContext
from plugins.errors import PluginLoadError, PluginMoved, PluginNotFound
from plugins.moved_modules import MOVED_MODULES
from plugins.noop_protection import NoopProtection
from plugins.registry import BANKS, PROTECTABLES, PROTECTIONS, PluginRegistry
from plugins.resource import Resource


class VolumeProtection(ProtectionPlugin):
    """A synthetic plugin for one explicit type."""

    supported_resource_types = frozenset({"Test::Volume"})


class VolumeProtectable(ProtectablePlugin):
    """A synthetic protectable that finds nothing."""

    resource_type = "Test::Volume"

    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        return []

    async def show_resource(
        self,
        context: RequestContext,
        resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        return Resource(type=self.resource_type, id=resource_id)


class HalfProtectable(ProtectablePlugin):
    """Forgets to implement show_resource."""

    resource_type = "Test::Half"

    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        return []


def not_a_class() -> None:
    """A function where a class is expected."""


@pytest.fixture
def empty() -> PluginRegistry:
    return PluginRegistry(load_entry_points=False)


def test_installed_entry_points_are_listed_and_loaded() -> None:
    registry = PluginRegistry()
    assert {"memory", "filesystem"} <= set(registry.names(BANKS))
    assert "noop" in registry.names(PROTECTIONS)
    assert registry.bank_class("memory") is MemoryBank
    assert registry.protection_class("noop") is NoopProtection


def test_an_unknown_name_raises_plugin_not_found_listing_what_is_available(
    empty: PluginRegistry,
) -> None:
    empty.register_bank("memory", MemoryBank)
    empty.register_protection("noop", NoopProtection)
    empty.register_protection("volume", VolumeProtection)
    with pytest.raises(PluginNotFound) as caught:
        empty.protection_class("nova")
    assert caught.value.group == PROTECTIONS
    assert caught.value.available == ["noop", "volume"]
    assert "'nova'" in str(caught.value) and "noop, volume" in str(caught.value)


def test_an_import_path_whose_module_moved_names_the_new_path(empty: PluginRegistry) -> None:
    with pytest.raises(PluginMoved) as caught:
        empty.bank_class("banks.filesystem_bank:FilesystemBank")
    assert caught.value.new_path == "banks.filesystem.bank:FilesystemBank"
    assert "name it 'banks.filesystem.bank:FilesystemBank'" in str(caught.value)
    # the new path loads the very class the old one named
    assert empty.bank_class(caught.value.new_path) is FilesystemBank


def test_every_moved_module_has_a_new_home_that_imports() -> None:
    for old, new in MOVED_MODULES.items():
        assert importlib.util.find_spec(new) is not None, (old, new)
        try:
            module = importlib.import_module(old)
        except ModuleNotFoundError:
            continue
        assert hasattr(module, "__path__"), f"{old} is still a module beside {new}"


def test_an_old_module_that_is_now_a_package_names_the_new_path(empty: PluginRegistry) -> None:
    with pytest.raises(PluginMoved, match=r"name it 'plugins.checkpoint.checkpoint:Checkpoint'"):
        empty.protection_class("plugins.checkpoint:Checkpoint")


def test_an_empty_group_says_none_are_available(empty: PluginRegistry) -> None:
    with pytest.raises(PluginNotFound, match=r"available: none"):
        empty.bank_class("swift")


def test_registered_protectables_are_keyed_by_resource_type(empty: PluginRegistry) -> None:
    empty.register_protectable(VolumeProtectable)
    assert empty.protectable_classes() == {"Test::Volume": VolumeProtectable}
    assert empty.names(PROTECTABLES) == ["Test::Volume"]


def test_a_class_of_the_wrong_base_is_refused_on_registration(empty: PluginRegistry) -> None:
    with pytest.raises(PluginLoadError, match=r"is not a protection plugin: it does not implement "
                       r"get_supported_resources_types\(\).*docs/plugin-guide.md"):
        empty.register_protection("memory", MemoryBank)  # type: ignore[arg-type]


def test_an_abstract_class_is_refused_naming_what_it_lacks(empty: PluginRegistry) -> None:
    with pytest.raises(PluginLoadError, match=r"abstract.*show_resource"):
        empty.register_protectable(HalfProtectable)  # type: ignore[type-abstract]


def test_registering_a_second_class_under_a_taken_name_is_refused(
    empty: PluginRegistry,
) -> None:
    empty.register_protection("volume", VolumeProtection)
    empty.register_protection("volume", VolumeProtection)  # the same class again is harmless
    with pytest.raises(PluginLoadError) as caught:
        empty.register_protection("volume", NoopProtection)
    message = str(caught.value)
    assert "VolumeProtection" in message and "NoopProtection" in message


def test_replace_lets_a_test_override_an_installed_plugin() -> None:
    registry = PluginRegistry()
    registry.register_protection("noop", VolumeProtection, replace=True)
    assert registry.protection_class("noop") is VolumeProtection


class OtherBank(MemoryBank):
    """A synthetic bank."""


def test_registering_over_an_installed_entry_point_is_refused() -> None:
    registry = PluginRegistry()
    with pytest.raises(PluginLoadError, match=r"already registered as banks.memory_bank"):
        registry.register_bank("memory", OtherBank)


def test_a_dotted_import_path_loads_a_plugin_that_is_not_installed(
    empty: PluginRegistry,
) -> None:
    path = f"{__name__}:VolumeProtection"
    assert empty.protection_class(path) is VolumeProtection
    assert empty.bank_class("banks.memory_bank:MemoryBank") is MemoryBank
    assert path not in empty.names(PROTECTIONS)


def test_a_dotted_path_to_a_missing_module_or_attribute_is_not_found(
    empty: PluginRegistry,
) -> None:
    with pytest.raises(PluginNotFound):
        empty.protection_class("no_such_module_anywhere:Plugin")
    with pytest.raises(PluginNotFound):
        empty.protection_class(f"{__name__}:NoSuchPlugin")


def test_a_dotted_path_to_a_function_is_refused_saying_what_it_is(
    empty: PluginRegistry,
) -> None:
    with pytest.raises(PluginLoadError, match=r"is a function .*not_a_class"):
        empty.protection_class(f"{__name__}:not_a_class")


def _fake_entry_points(*points: EntryPoint) -> Any:
    def select(*, group: str) -> list[EntryPoint]:
        return [p for p in points if p.group == group]

    return select


def test_two_installed_plugins_with_one_name_are_refused_naming_both_targets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        registry_module,
        "entry_points",
        _fake_entry_points(
            EntryPoint("noop", "plugins.noop_protection:NoopProtection", PROTECTIONS),
            EntryPoint("noop", "other_dist.noop:Noop", PROTECTIONS),
        ),
    )
    with pytest.raises(PluginLoadError) as caught:
        PluginRegistry().protection_class("noop")
    assert "plugins.noop_protection:NoopProtection" in str(caught.value)
    assert "other_dist.noop:Noop" in str(caught.value)


def test_an_entry_point_of_the_wrong_kind_is_refused_naming_the_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        registry_module,
        "entry_points",
        _fake_entry_points(
            EntryPoint("memory", "plugins.noop_protection:NoopProtection", BANKS),
        ),
    )
    with pytest.raises(PluginLoadError) as caught:
        PluginRegistry().bank_class("memory")
    message = str(caught.value)
    assert "strongbox.banks:memory = plugins.noop_protection:NoopProtection" in message
    assert "class plugins.noop_protection:NoopProtection" in message
    assert f"not a subclass of {Bank.__module__}:Bank" in message


def test_an_entry_point_that_fails_to_import_is_a_load_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        registry_module,
        "entry_points",
        _fake_entry_points(
            EntryPoint("broken", "no_such_module_anywhere:Plugin", PROTECTIONS),
        ),
    )
    registry = PluginRegistry()
    assert registry.names(PROTECTIONS) == ["broken"]  # listing imports nothing
    with pytest.raises(PluginLoadError, match=r"broken = no_such_module_anywhere:Plugin"):
        registry.protection_class("broken")


def test_a_protectable_entry_name_must_be_its_resource_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        registry_module,
        "entry_points",
        _fake_entry_points(
            EntryPoint("Test::Disk", f"{__name__}:VolumeProtectable", PROTECTABLES),
        ),
    )
    with pytest.raises(PluginLoadError, match=r"declares resource_type 'Test::Volume'"):
        PluginRegistry().protectable_classes()


def test_an_unknown_group_is_a_value_error(empty: PluginRegistry) -> None:
    with pytest.raises(ValueError, match=r"unknown plugin group"):
        empty.names("strongbox.things")
