"""Strict provider files: every section configures something, every option is known and
fits its type and range; the error names the file and line and never quotes a secret.

These load with the installed banks and plugins, whose option schemas are the real ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
import pytest

from banks.s3.bank import S3Bank
from banks.swift.auth import KEYSTONE_OPTIONS
from banks.swift.bank import SwiftBank
from plugins.base import PluginOptions, ProtectionPlugin
from plugins.openstack.protection_base import OpenStackProtection
from plugins.openstack.settings import AUTH_OPTIONS
from plugins.provider import ProviderNotFound, load_providers
from plugins.provider.config import ProviderConfigError, default_providers_dir
from plugins.registry import PluginRegistry

SECRET = "hunter2-very-secret"
LOCAL = (
    "[provider]\nname = Local\nid = local\nbank = filesystem\nplugin = directory\n"
    "plugin = noop\n"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGBOX_PROVIDER", raising=False)


async def refused(directory: Path, text: str, registry: PluginRegistry | None = None) -> str:
    """The message of the one provider file, which must not load."""
    (directory / "local.conf").write_text(text)
    providers = await load_providers(directory, registry)
    assert list(providers) == []
    [broken] = providers.broken
    with pytest.raises(ProviderConfigError):
        providers.default()
    return str(broken.error)


async def test_a_misspelled_bank_section_is_an_unknown_section_suggesting_the_bank(
    tmp_path: Path,
) -> None:
    message = await refused(tmp_path, LOCAL + "\n[filesystm]\npath = /srv/bank\n")
    assert "local.conf:8: unknown section [filesystm]; did you mean [filesystem]?" in message
    assert "known: [directory], [filesystem], [noop], [protectable:<type>]" in message


async def test_a_section_for_a_plugin_the_provider_does_not_list_is_refused(
    tmp_path: Path,
) -> None:
    message = await refused(tmp_path, LOCAL + "[os-image]\ncloud = x\n")
    assert "local.conf:7: unknown section [os-image]" in message


async def test_a_misspelled_plugin_option_is_an_error_suggesting_the_known_one(
    tmp_path: Path,
) -> None:
    message = await refused(tmp_path, LOCAL + "[directory]\ntimeout = 60\npoll_intervall = 2\n")
    assert (
        "local.conf:9: unknown option 'poll_intervall' in [directory]; "
        "did you mean 'poll_interval'? known: abort_timeout, chunk_avg_size, "
    ) in message
    assert "read_ahead, timeout, upload_concurrency" in message


async def test_a_misspelled_bank_option_is_an_error_too(tmp_path: Path) -> None:
    message = await refused(tmp_path, LOCAL + "[filesystem]\npth = /srv/bank\n")
    assert "local.conf:8: unknown option 'pth' in [filesystem]; did you mean 'path'?" in message


async def test_an_option_of_a_plugin_without_options_says_it_takes_none(tmp_path: Path) -> None:
    message = await refused(tmp_path, LOCAL + "[protectable:Strongbox::Directory]\nroot = /a\n")
    assert "local.conf:8: unknown option 'root'" in message
    assert "did you mean 'roots'? known: roots" in message


async def test_a_value_of_the_wrong_type_names_the_file_the_line_and_the_type(
    tmp_path: Path,
) -> None:
    text = LOCAL.replace("plugin = directory", "plugin = os-image")
    text += "[os-image]\nsegment_size = big\n"
    message = await refused(tmp_path, text)
    assert "local.conf:8: invalid value for option 'segment_size' in [os-image] = 'big': " in (
        message
    )
    assert "expected `int" in message


async def test_a_value_out_of_range_names_the_file_the_line_and_the_bound(tmp_path: Path) -> None:
    message = await refused(tmp_path, LOCAL + "[directory]\n\ncompression_level = 42\n")
    assert "local.conf:9: invalid value for option 'compression_level' in [directory] = '42': " in (
        message
    )
    assert "<= 19" in message


async def test_a_value_not_among_the_choices_lists_them(tmp_path: Path) -> None:
    text = LOCAL.replace("filesystem", "swift") + "[swift]\nauth = keystne\n"
    message = await refused(tmp_path, text)
    assert "local.conf:8: invalid value for option 'auth' in [swift] = 'keystne'" in message
    assert "one of: keystone, tempauth" in message


async def test_a_boolean_takes_yes_and_no_and_refuses_maybe(tmp_path: Path) -> None:
    text = LOCAL.replace("plugin = directory", "plugin = os-volume-backup")
    (tmp_path / "local.conf").write_text(text + "[os-volume-backup]\ninsecure = yes\n")
    assert list(await load_providers(tmp_path)) == ["local"]
    message = await refused(tmp_path, text + "[os-volume-backup]\ninsecure = maybe\n")
    assert "local.conf:8: invalid value for option 'insecure'" in message


async def test_a_secret_option_with_a_bad_value_does_not_show_the_value(tmp_path: Path) -> None:
    class TokenProtection(ProtectionPlugin):
        supported_resource_types = frozenset({"Test::Vault"})
        Options = msgspec.defstruct(
            "TokenOptions",
            [("token_mode", Literal["bearer", "basic"] | None, None)],
            bases=(PluginOptions,),
            frozen=True,
        )

    registry = PluginRegistry()
    registry.register_protection("token", TokenProtection)
    text = LOCAL + f"plugin = token\n[token]\ntoken_mode = {SECRET}\n"
    message = await refused(tmp_path, text, registry)
    assert "local.conf:9: invalid value for option 'token_mode' in [token]: " in message
    assert SECRET not in message and "***" in message


async def test_a_misspelled_secret_option_is_refused_without_its_value(tmp_path: Path) -> None:
    message = await refused(tmp_path, LOCAL + f"[directory]\npasphrase = {SECRET}\n")
    assert "unknown option 'pasphrase' in [directory]; did you mean 'passphrase'?" in message
    assert SECRET not in message


async def test_an_empty_value_means_left_out(tmp_path: Path) -> None:
    (tmp_path / "local.conf").write_text(LOCAL + "[directory]\nconcurrency =\n")
    [provider] = (await load_providers(tmp_path)).values()
    assert provider.plugins["directory"].concurrency == 4  # type: ignore[attr-defined]


async def test_the_shipped_provider_files_load_unchanged_even_when_enabled(
    tmp_path: Path,
) -> None:
    for source in sorted(default_providers_dir().glob("*.conf")):
        text = source.read_text().replace("enabled = false", "enabled = true")
        (tmp_path / source.name).write_text(text)
    providers = await load_providers(tmp_path)
    assert providers.broken == []
    assert sorted(p.name for p in providers.values()) == ["Local", "OpenStack"]


async def test_a_good_provider_beside_a_broken_one_loads_but_is_no_silent_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.conf").write_text(LOCAL)
    (tmp_path / "b.conf").write_text(LOCAL.replace("Local", "Other").replace("local", "other")
                                     + "[filesystem]\npath = /x\nsize = 3\n")
    providers = await load_providers(tmp_path)
    assert list(providers) == ["local"]
    with pytest.raises(ProviderNotFound, match=r"1 of them do not load \(first: .*b.conf:9"):
        providers.default()
    with pytest.raises(ProviderConfigError, match=r"b.conf:9: unknown option 'size'"):
        providers.get("Other")
    monkeypatch.setenv("STRONGBOX_PROVIDER", "Local")
    assert providers.default().name == "Local"


def test_the_bank_schemas_hold_every_option_the_banks_read() -> None:
    swift = {f.name for f in msgspec.structs.fields(SwiftBank.Options)}
    assert set(KEYSTONE_OPTIONS) <= swift
    s3 = {f.name for f in msgspec.structs.fields(S3Bank.Options)}
    assert {"access_key", "secret_key", "part_size", "retry_attempts"} <= s3
    cloud = {f.name for f in msgspec.structs.fields(OpenStackProtection.Options)}
    assert set(AUTH_OPTIONS) | {"wait_timeout", "timeout", "insecure"} <= cloud
