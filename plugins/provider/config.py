"""Reading provider files: ``providers.d/*.conf``, INI with line numbers kept.

A provider file::

    [provider]
    name = Local
    id = 6b1f0f3e-...            letters, digits, '_', '.', '-'
    description = ...           optional
    bank = filesystem           a bank entry name (or "module:Class")
    plugin = directory          one line per protection plugin, order kept
    plugin = noop
    enabled = true              optional; default true (Karbor's default was false)
    deadline = 43200            optional: seconds any operation may run (see
                                ``plugins.provider.deadlines``; also ``protect_deadline``...)

    [filesystem]                the bank's options, section named after the bank
    [directory]                 each plugin's options, section named after the plugin
    [protectable:Strongbox::Directory]   a protectable's options

Comments are whole lines starting with ``#`` or ``;`` (no inline comments). As in
configparser, an indented line right after a value continues it (joined with a newline),
and keys are lowercased (the reader is ``plugins.provider.ini_reader``). Only ``plugin`` may
repeat. This module only parses and checks the file's own rules; ``plugins.provider.provider``
checks names against the registry and builds the plugins.
Values of secret-looking keys (password, secret, key, token) never appear in a message or
a repr (see ``plugins.redaction``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from plugins.provider.deadlines import DEADLINE_KEYS
from plugins.provider.ini_reader import Entry, ProviderConfigError, Section, parse_ini
from plugins.redaction import REDACTED, RedactedDict, is_secret_key, scrub

PROVIDERS_DIR_ENV: Final = "STRONGBOX_PROVIDERS_DIR"
PROTECTABLE_PREFIX: Final = "protectable:"
PROVIDER_SECTION: Final = "provider"
PROVIDER_KEYS: Final = frozenset(
    {"name", "id", "description", "bank", "plugin", "enabled", *DEADLINE_KEYS})
_ID = re.compile(r"[A-Za-z0-9_.\-]+")
_BOOLEANS: Final = dict.fromkeys(("true", "yes", "on", "1"), True) | dict.fromkeys(
    ("false", "no", "off", "0"), False
)


def default_providers_dir() -> Path:
    """The provider files shipped in the package (``plugins/provider/shipped``): package
    data, so an installed wheel has them as a source checkout does."""
    return Path(__file__).resolve().parent / "shipped"


def resolve_providers_dir(directory: Path | str | None = None) -> Path:
    """``directory`` if given, else ``$STRONGBOX_PROVIDERS_DIR``, else the shipped one."""
    if directory is not None:
        return Path(directory)
    from_env = os.environ.get(PROVIDERS_DIR_ENV)
    return Path(from_env) if from_env else default_providers_dir()


@dataclass(frozen=True)
class ProviderConfig:
    """One parsed provider file, before any plugin is looked up."""

    path: Path
    line: int
    id: Entry
    name: Entry
    description: str
    bank: Entry
    plugins: tuple[Entry, ...]
    enabled: bool
    sections: Mapping[str, Section]
    # the [provider] section itself: its deadline keys are converted with the options
    provider_section: Section | None = None

    def section(self, name: str) -> Section | None:
        """The section configuring ``name`` (a bank or plugin), if the file has one."""
        return self.sections.get(name)

    def options(self, name: str) -> RedactedDict:
        """The options of section ``name``; empty if there is none."""
        found = self.sections.get(name)
        return found.options() if found else RedactedDict()

    def protectable_sections(self) -> dict[str, Section]:
        """``[protectable:<type>]`` sections keyed by resource type."""
        return {
            name.removeprefix(PROTECTABLE_PREFIX).strip(): section
            for name, section in self.sections.items()
            if name.startswith(PROTECTABLE_PREFIX)
        }

    def error(self, line: int | None, problem: str) -> ProviderConfigError:
        """A ``ProviderConfigError`` located in this file."""
        return ProviderConfigError(self.path, line, problem)


@dataclass(frozen=True)
class BrokenProvider:
    """A provider file that does not load: the error, and the config if it parsed."""

    path: Path
    error: ProviderConfigError
    config: ProviderConfig | None = None

    def error_again(self) -> ProviderConfigError:
        """A fresh copy of the error, to raise where the provider is asked for."""
        return ProviderConfigError(self.error.path, self.error.line, self.error.problem)

    def names(self) -> tuple[str, ...]:
        """Its id and name, when the file parsed that far."""
        return (self.config.id.value, self.config.name.value) if self.config else ()


def parse_provider_file(path: Path) -> ProviderConfig:
    """Read and check one provider file.

    Raises:
        ProviderConfigError: naming the file, the line and the fault.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProviderConfigError(path, None, f"not UTF-8 text: {error.reason}") from error
    except OSError as error:
        raise ProviderConfigError(path, None, f"cannot read: {error.strerror}") from error
    sections = parse_ini(text, path, {PROVIDER_SECTION: frozenset({"plugin"})})
    by_name = {s.name: s for s in sections}
    provider = by_name.pop(PROVIDER_SECTION, None)
    if provider is None:
        raise ProviderConfigError(path, None, "missing [provider] section")
    for entry in provider.entries:
        if entry.key not in PROVIDER_KEYS:
            raise ProviderConfigError(
                path,
                entry.line,
                f"unknown key {entry.key!r} in [provider]; known keys: "
                + ", ".join(sorted(PROVIDER_KEYS)),
            )

    def required(key: str) -> Entry:
        entry = provider.get(key)
        if entry is None:
            raise ProviderConfigError(path, provider.line, f"missing key {key!r} in [provider]")
        if not entry.value:
            raise ProviderConfigError(path, entry.line, f"empty value for {key!r} in [provider]")
        return entry

    name = required("name")
    provider_id = required("id")
    if not _ID.fullmatch(provider_id.value):
        raise ProviderConfigError(
            path,
            provider_id.line,
            f"invalid id {provider_id.value!r}: use only letters, digits, '_', '.' and '-'",
        )
    bank = required("bank")
    plugins = _plugin_refs(path, provider)
    description = provider.get("description")
    return ProviderConfig(
        path=path,
        line=provider.line,
        id=provider_id,
        name=name,
        description=description.value if description else "",
        bank=bank,
        plugins=plugins,
        enabled=_enabled(path, provider),
        sections=by_name,
        provider_section=provider,
    )


def _plugin_refs(path: Path, provider: Section) -> tuple[Entry, ...]:
    entries = provider.get_all("plugin")
    if not entries:
        raise ProviderConfigError(
            path,
            provider.line,
            "no 'plugin =' line in [provider]; a provider needs at least one protection plugin",
        )
    seen: dict[str, int] = {}
    for entry in entries:
        if not entry.value:
            raise ProviderConfigError(path, entry.line, "empty plugin name in 'plugin ='")
        if entry.value in seen:
            raise ProviderConfigError(
                path,
                entry.line,
                f"plugin {entry.value!r} is listed twice (lines {seen[entry.value]} and "
                f"{entry.line})",
            )
        seen[entry.value] = entry.line
    return tuple(entries)


def _enabled(path: Path, provider: Section) -> bool:
    entry = provider.get("enabled")
    if entry is None:
        return True
    value = _BOOLEANS.get(entry.value.lower())
    if value is None:
        raise ProviderConfigError(
            path,
            entry.line,
            f"invalid enabled value {entry.value!r}: use true/false, yes/no, on/off or 1/0",
        )
    return value


def read_provider_dir(directory: Path) -> tuple[list[ProviderConfig], list[BrokenProvider]]:
    """Parse every ``*.conf`` file in ``directory`` (sorted by name; dotfiles skipped).

    A bad file does not stop the others: it is returned as a ``BrokenProvider``, as is a
    file reusing the id or the name of an earlier one (the error names both).

    Raises:
        ProviderConfigError: if the directory does not exist.
    """
    if not directory.is_dir():
        raise ProviderConfigError(directory, None, "provider directory does not exist")
    configs: list[ProviderConfig] = []
    broken: list[BrokenProvider] = []
    ids: dict[str, ProviderConfig] = {}
    names: dict[str, ProviderConfig] = {}
    for path in sorted(directory.glob("*.conf")):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            config = parse_provider_file(path)
        except ProviderConfigError as error:
            broken.append(BrokenProvider(path, error))
            continue
        clash = _clash(config, ids, names)
        if clash is not None:
            broken.append(BrokenProvider(path, clash, config))
            continue
        ids[config.id.value] = names[config.name.value] = config
        configs.append(config)
    return configs, broken


def _clash(
    config: ProviderConfig, ids: dict[str, ProviderConfig], names: dict[str, ProviderConfig]
) -> ProviderConfigError | None:
    for field_name, seen in (("id", ids), ("name", names)):
        ref: Entry = getattr(config, field_name)
        first = seen.get(ref.value)
        if first is not None:
            first_ref: Entry = getattr(first, field_name)
            return config.error(
                ref.line,
                f"duplicate provider {field_name} {ref.value!r}: also used by "
                f"{first.path}:{first_ref.line}",
            )
    return None


__all__ = [
    "PROVIDERS_DIR_ENV",
    "REDACTED",
    "BrokenProvider",
    "Entry",
    "ProviderConfig",
    "ProviderConfigError",
    "RedactedDict",
    "Section",
    "default_providers_dir",
    "is_secret_key",
    "parse_ini",
    "parse_provider_file",
    "read_provider_dir",
    "resolve_providers_dir",
    "scrub",
]
