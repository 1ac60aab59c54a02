"""Provider files: every fault named with its file and line; good files become providers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from banks.memory_bank import MemoryBank
from banks.option_schema import OptionSchema, combine_schemas
from plugins.base import PluginOptions, ProtectablePlugin, ProtectionPlugin
from plugins.context import RequestContext
from plugins.errors import InvalidParameters, ResourceTypeNotSupported
from plugins.noop_protection import NoopProtection
from plugins.provider import ProviderNotFound, ProviderSet, load_providers
from plugins.provider.config import (
    ProviderConfigError,
    default_providers_dir,
    parse_provider_file,
    resolve_providers_dir,
)
from plugins.registry import PluginRegistry
from plugins.resource import Resource

SECRET = "hunter2-very-secret"


class VolumeParameters(msgspec.Struct, frozen=True):
    incremental: bool = False


class ModeOptions(OptionSchema):
    mode: str | None = None


class VolumeProtection(ProtectionPlugin):
    supported_resource_types = frozenset({"Test::Volume"})
    Parameters = VolumeParameters
    Options = combine_schemas("VolumeOptions", PluginOptions, ModeOptions)


class OtherVolumeProtection(ProtectionPlugin):
    supported_resource_types = frozenset({"Test::Volume", "Test::Image"})


class EverythingProtection(ProtectionPlugin):
    supported_resource_types = frozenset({"*"})


class VaultProtection(ProtectionPlugin):
    """Quotes its token when refusing it, as careless plugins do."""

    supported_resource_types = frozenset({"Test::Vault"})

    class Options(PluginOptions):
        api_token: str | None = None

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        if not self.config.get("api_token", "").startswith("tok-"):
            raise InvalidParameters("option 'api_token'", f"{self.config.get('api_token')!r}")


class RegionBankOptions(OptionSchema):
    region: str | None = None
    secret_key: str | None = None


class RegionBank(MemoryBank):
    """A memory bank that takes options, as real banks do."""

    Options = RegionBankOptions


class VolumeProtectable(ProtectablePlugin):
    resource_type = "Test::Volume"

    class Options(OptionSchema):
        roots: str | None = None

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


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGBOX_PROVIDER", raising=False)
    monkeypatch.delenv("STRONGBOX_PROVIDERS_DIR", raising=False)


@pytest.fixture
def registry() -> PluginRegistry:
    registry = PluginRegistry(load_entry_points=False)
    registry.register_bank("memory", MemoryBank)
    registry.register_bank("region", RegionBank)
    registry.register_protection("noop", NoopProtection)
    registry.register_protection("volume", VolumeProtection)
    registry.register_protection("other-volume", OtherVolumeProtection)
    registry.register_protection("everything", EverythingProtection)
    registry.register_protection("vault", VaultProtection)
    registry.register_protectable(VolumeProtectable)
    return registry


GOOD = "[provider]\nname = Test\nid = test-1\nbank = memory\nplugin = noop\n"


def write(directory: Path, text: str, name: str = "test.conf") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


async def refused(directory: Path, registry: PluginRegistry) -> ProviderConfigError:
    """The error of the one file that does not load; using the providers raises it too."""
    providers = await load_providers(directory, registry)
    [broken] = providers.broken
    with pytest.raises(ProviderConfigError) as caught:
        providers.default()
    assert str(caught.value) == str(broken.error)
    return broken.error


async def load_error(
    directory: Path, registry: PluginRegistry, text: str
) -> tuple[Path, ProviderConfigError]:
    path = write(directory, text)
    return path, await refused(directory, registry)


def assert_points_at(error: ProviderConfigError, path: Path, line: int | None, phrase: str) -> None:
    message = str(error)
    assert error.path == path and error.line == line, message
    where = f"{path.name}:{line}: " if line is not None else f"{path.name}: "
    assert where in message, message
    assert phrase in message, message


# -- one test per kind of bad file --------------------------------------------------------

HEADER_FIRST = "# header comment\n" + GOOD
BAD_FILES = [
    # (sentence id, file text, line or None, phrase naming the fault)
    ("no provider section", "[memory]\npath = /x\n", None, "missing [provider] section"),
    *[
        (
            f"no {key}",
            HEADER_FIRST.replace(f"{key} = ", "#"),
            2,
            f"missing key '{key}' in [provider]",
        )
        for key in ("name", "id", "bank")
    ],
    ("no plugin line", GOOD.replace("plugin = noop\n", ""), 1, "no 'plugin =' line"),
    ("unknown bank", GOOD.replace("memory", "ftp"), 4, "unknown bank 'ftp'; available: memory"),
    (
        "unknown plugin",
        GOOD + "plugin = nova\n",
        6,
        "unknown protection plugin 'nova'; available: everything, noop",
    ),
    ("repeated key", GOOD + "id = test-2\n", 6, "duplicate key 'id' in [provider] (lines 3 and 6)"),
    ("repeated plugin", GOOD + "plugin = noop\n", 6, "'noop' is listed twice (lines 5 and 6)"),
    ("line without equals", GOOD + "[memory]\njust some words\n", 7, "malformed line"),
    ("key before any section", "; comment\nname = x\n" + GOOD, 2, "before any [section]"),
    ("unclosed section header", GOOD + "\n[memory\n", 7, "section header is not closed"),
    (
        "repeated section",
        GOOD + "[noop]\n[noop]\n",
        7,
        "duplicate section [noop] (first at line 6)",
    ),
    ("enabled not a boolean", GOOD + "enabled = maybe\n", 6, "invalid enabled value 'maybe'"),
    ("id with spaces", GOOD.replace("test-1", "my provider"), 3, "invalid id 'my provider'"),
    ("empty name", GOOD.replace("name = Test", "name ="), 2, "empty value for 'name'"),
    ("unknown provider key", GOOD + "plugins = volume\n", 6, "unknown key 'plugins' in [provider]"),
    (
        "bad plugin option",
        GOOD + "\n[noop]\npoll_interval = 1\ntimeout = abc\n",
        9,
        "invalid value for option 'timeout' in [noop] = 'abc': expected `float",
    ),
    (
        "one type claimed twice",
        GOOD + "plugin = volume\nplugin = other-volume\n",
        7,
        "plugins 'volume' (line 6) and 'other-volume' (line 7) both support 'Test::Volume'",
    ),
    (
        "two plugins for every type",
        GOOD + "plugin = everything\n",
        6,
        "plugins 'noop' (line 5) and 'everything' (line 6) both support every type ('*')",
    ),
    (
        "unknown protectable section",
        GOOD + "[protectable:Test::Disk]\nroots = /a\n",
        6,
        "unknown protectable type 'Test::Disk'",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "phrase"), [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES]
)
async def test_a_bad_file_is_refused_naming_the_file_the_line_and_the_fault(
    tmp_path: Path, registry: PluginRegistry, text: str, line: int | None, phrase: str
) -> None:
    path = write(tmp_path, text)
    assert_points_at(await refused(tmp_path, registry), path, line, phrase)


async def test_one_id_in_two_files_names_both_files_and_lines(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    first = write(tmp_path, GOOD, "a.conf")
    second = write(tmp_path, "\n" + GOOD.replace("name = Test", "name = Other"), "b.conf")
    providers = await load_providers(tmp_path, registry)
    [broken] = providers.broken
    assert_points_at(broken.error, second, 4, "duplicate provider id 'test-1'")
    assert f"{first}:3" in str(broken.error)
    assert list(providers) == ["test-1"] and providers.get("Test").source == first


async def test_one_name_in_two_files_is_refused_too(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    write(tmp_path, GOOD, "a.conf")
    second = write(tmp_path, GOOD.replace("test-1", "test-2"), "b.conf")
    [broken] = (await load_providers(tmp_path, registry)).broken
    assert_points_at(broken.error, second, 2, "duplicate provider name 'Test'")
    assert "a.conf:2" in str(broken.error)


# -- secrets ------------------------------------------------------------------------------


async def test_a_plugin_quoting_its_secret_option_has_it_scrubbed_from_the_error(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    text = GOOD + f"plugin = vault\n[vault]\napi_token = {SECRET}\n"
    path, error = await load_error(tmp_path, registry, text)
    assert_points_at(error, path, 7, "invalid options for protection plugin 'vault'")
    assert SECRET not in str(error) and "***" in str(error)
    assert error.__cause__ is None and error.__suppress_context__


async def test_a_malformed_secret_line_is_not_quoted(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    path, error = await load_error(tmp_path, registry, GOOD + f"[memory]\npassword {SECRET}\n")
    assert_points_at(error, path, 7, "malformed line")
    assert SECRET not in str(error)


async def test_secret_values_stay_out_of_reprs(tmp_path: Path, registry: PluginRegistry) -> None:
    text = GOOD.replace("bank = memory", "bank = region")
    write(tmp_path, text + f"[region]\nregion = north\nsecret_key = {SECRET}\n")
    provider = (await load_providers(tmp_path, registry)).default()
    assert provider.bank_config["secret_key"] == SECRET
    for shown in (provider.bank_config, provider, provider.config.sections["region"]):
        assert SECRET not in repr(shown)
    assert "north" in repr(provider.bank_config)


# -- good files ---------------------------------------------------------------------------


async def test_a_good_file_becomes_a_provider_with_plugins_in_file_order(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    path = write(
        tmp_path,
        (
            "[provider]\nname = Test\nid = 2e0c8826-81d6-44f5-bbe5-8f46a98c5845\n"
            "description = A test provider\nbank = region\nplugin = volume\nplugin = noop\n"
            "\n[region]\n; the bank's options\nregion = north\n"
            "\n[volume]\ntimeout = 30\nmode = fast\n"
        ),
    )
    providers = await load_providers(tmp_path, registry)
    provider = providers.get("2e0c8826-81d6-44f5-bbe5-8f46a98c5845")
    assert (provider.name, provider.description, provider.source) == (
        "Test",
        "A test provider",
        path,
    )
    assert list(provider.plugins) == ["volume", "noop"]
    assert provider.plugins["volume"].config == {"timeout": "30", "mode": "fast"}
    assert provider.plugins["volume"].timeout == 30.0
    assert provider.bank_name == "region" and provider.bank_config == {"region": "north"}
    assert isinstance(await provider.open_bank(), MemoryBank)


async def test_an_explicit_type_wins_over_a_plugin_for_every_type(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    write(tmp_path, GOOD + "plugin = volume\n")
    provider = (await load_providers(tmp_path, registry)).default()
    assert provider.type_map == {"Test::Volume": "volume"}
    assert provider.plugin_for("Test::Volume") is provider.plugins["volume"]
    assert provider.plugin_for("Test::Anything") is provider.plugins["noop"]


async def test_a_type_no_plugin_supports_is_refused_listing_the_known_ones(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    write(tmp_path, GOOD.replace("noop", "volume"))
    provider = (await load_providers(tmp_path, registry)).default()
    with pytest.raises(ResourceTypeNotSupported, match=r"provider Test.*known types: Test::Vol"):
        provider.plugin_for("Test::Image")


async def test_the_schemas_of_each_explicit_type_are_json_schemas(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    write(tmp_path, GOOD + "plugin = volume\n")
    schemas = (await load_providers(tmp_path, registry)).default().extended_info_schema()
    assert set(schemas) == {"options_schema", "restore_schema", "saved_info_schema"}
    options = schemas["options_schema"]["Test::Volume"]
    assert options == msgspec.json.schema(VolumeParameters)
    assert list(schemas["restore_schema"]) == ["Test::Volume"]


async def test_protectables_get_their_section_with_indented_lines_continuing_a_value(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    write(tmp_path, GOOD + "[protectable:Test::Volume]\nroots = /a,\n    /b\n# done\n")
    provider = (await load_providers(tmp_path, registry)).default()
    protectable = provider.protectables(registry)["Test::Volume"]
    assert isinstance(protectable, VolumeProtectable)
    assert protectable.config == {"roots": "/a,\n/b"}


async def test_a_plugin_may_be_named_by_its_import_path(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    path = f"{__name__}:VolumeProtection"
    write(tmp_path, GOOD + f"plugin = {path}\n[{path}]\nmode = slow\n")
    provider = (await load_providers(tmp_path, registry)).default()
    assert provider.plugin_for("Test::Volume").config == {"mode": "slow"}


async def test_a_plugin_named_by_its_path_from_before_the_layout_move_names_the_new_path(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    old = "plugins.local.directory_protection:DirectoryProtection"
    path, error = await load_error(tmp_path, registry, GOOD + f"plugin = {old}\n")
    line = GOOD.count("\n") + 1
    assert_points_at(error, path, line,
                     "name it 'plugins.local.directory.protection:DirectoryProtection'")


async def test_installed_entry_points_load_the_memory_bank_and_noop(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    provider = (await load_providers(tmp_path)).default()
    assert isinstance(provider.plugins["noop"], NoopProtection)
    assert provider.bank_class is MemoryBank


async def test_a_disabled_provider_is_listed_but_not_built(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    write(tmp_path, GOOD, "a.conf")
    write(
        tmp_path,
        GOOD.replace("test-1", "off").replace("Test", "Off").replace("noop", "not-installed")
        + "enabled = false\n",
        "b.conf",
    )
    providers = await load_providers(tmp_path, registry)
    assert list(providers) == ["test-1"] and set(providers.all) == {"test-1", "off"}
    assert [c.id.value for c in providers.disabled()] == ["off"]
    assert providers.default().id == "test-1"
    with pytest.raises(ProviderNotFound, match=r"'Off' is disabled in .*b.conf"):
        providers.get("Off")


async def several(tmp_path: Path, registry: PluginRegistry) -> ProviderSet:
    write(tmp_path, GOOD, "a.conf")
    write(tmp_path, GOOD.replace("test-1", "test-2").replace("Test", "Second"), "b.conf")
    return await load_providers(tmp_path, registry)


async def test_providers_are_found_by_id_or_name_and_unknown_ones_list_the_rest(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    providers = await several(tmp_path, registry)
    assert providers.get("Second") is providers["test-2"]
    with pytest.raises(ProviderNotFound, match=r"available: Second \(id test-2\), Test"):
        providers.get("Third")


async def test_the_default_among_several_comes_from_the_environment(
    tmp_path: Path, registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    providers = await several(tmp_path, registry)
    with pytest.raises(ProviderNotFound, match=r"2 providers are enabled.*STRONGBOX_PROVIDER"):
        providers.default()
    monkeypatch.setenv("STRONGBOX_PROVIDER", "Second")
    assert providers.default().id == "test-2"


async def test_the_providers_directory_comes_from_the_environment(
    tmp_path: Path, registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD)
    monkeypatch.setenv("STRONGBOX_PROVIDERS_DIR", str(tmp_path))
    providers = await load_providers(registry=registry)
    assert providers.directory == tmp_path and list(providers) == ["test-1"]


def test_without_the_environment_the_shipped_directory_is_used() -> None:
    assert resolve_providers_dir() == default_providers_dir()
    assert default_providers_dir() == (
        Path(__file__).resolve().parents[3] / "plugins/provider/shipped")


def test_the_shipped_local_provider_parses() -> None:
    config = parse_provider_file(default_providers_dir() / "local.conf")
    assert (config.name.value, config.bank.value, config.enabled) == ("Local", "filesystem", True)
    assert [ref.value for ref in config.plugins] == ["directory", "noop"]
    assert config.options("filesystem") == {}


async def test_the_shipped_local_provider_loads_with_the_installed_plugins() -> None:
    provider = (await load_providers()).get("Local")
    assert type(provider.plugin_for("Strongbox::Directory")).__name__ == "DirectoryProtection"
    assert provider.plugin_for("OS::Nova::Server") is provider.plugins["noop"]
