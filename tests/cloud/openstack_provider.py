"""Provider files for the OpenStack plugins on the dev cloud.

- :func:`shipped_provider`: ``plugins/provider/shipped/openstack.conf`` itself, enabled, with
  only the options a deployment sets overridden (the Swift bank's endpoint and
  credentials): the shipped file is what the test loads.
- :func:`write_provider`: a provider of chosen plugins with a filesystem bank in the
  test's own directory, credentials as an operator would write them (or a ``cloud`` of
  a clouds.yaml), for tests of one plugin.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from plugins.provider.config import default_providers_dir

SHIPPED = default_providers_dir() / "openstack.conf"
_HEADER = re.compile(r"\[(?P<name>[^\]]+)\]")
_KEY = re.compile(r"(?P<key>[A-Za-z0-9_]+)\s*=")

PLUGINS = (
    "os-project",
    "os-network",
    "os-server",
    "os-volume-backup",
    "os-image",
    "os-share-snapshot",
    "os-database-backup",
)
# the plugins that keep bytes in the bank's chunk store, encrypted unless told otherwise
CHUNK_PLUGINS = ("os-image", "os-volume-bytes")
TEST_PASSPHRASE = "cloud-tier passphrase"
PROTECTABLES = (
    "OS::Keystone::Project",
    "OS::Nova::Server",
    "OS::Cinder::Volume",
    "OS::Glance::Image",
    "OS::Neutron::Network",
    "OS::Manila::Share",
    "OS::Trove::Instance",
)


def write_provider(
    directory: Path,
    bank: Path | Mapping[str, str],
    connection: Mapping[str, str],
    *,
    plugins: tuple[str, ...] = PLUGINS,
    options: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``openstack.conf`` into ``directory``; return the directory.

    ``bank``: a filesystem bank's directory, or a Swift bank's options (``{"auth":
    "keystone", ...}``). ``connection`` goes into every plugin and protectable section
    (auth options, or ``cloud``); ``options`` adds per-plugin options
    (``{"os-volume-backup": {...}}``).
    A chunk-keeping plugin (``os-image``, ``os-volume-bytes``) given no ``encryption``,
    ``passphrase`` or ``key_file`` gets the tier's test passphrase.
    """
    directory.mkdir(parents=True, exist_ok=True)
    auth = "".join(f"{key} = {value}\n" for key, value in connection.items())
    kind, bank_options = (("filesystem", {"path": str(bank)}) if isinstance(bank, Path)
                          else ("swift", dict(bank)))
    text = (
        "[provider]\nname = OpenStack\n"
        f"id = {uuid.uuid4()}\ndescription = the shipped plugins on the dev cloud\n"
        f"bank = {kind}\n" + "".join(f"plugin = {name}\n" for name in plugins)
        + f"\n[{kind}]\n" + "".join(f"{k} = {v}\n" for k, v in bank_options.items())
    )
    for name in plugins:
        extra = {"poll_interval": "1", "timeout": "900", **(options or {}).get(name, {})}
        if name in CHUNK_PLUGINS and not {"encryption", "passphrase", "key_file"} & set(extra):
            extra["passphrase"] = TEST_PASSPHRASE  # they keep bytes in the encrypted store
        text += f"\n[{name}]\n{auth}" + "".join(f"{k} = {v}\n" for k, v in extra.items())
    for resource_type in PROTECTABLES:
        text += f"\n[protectable:{resource_type}]\n{auth}"
    (directory / "openstack.conf").write_text(text)
    return directory


def shipped_provider(directory: Path, overrides: Mapping[str, Mapping[str, str]]) -> Path:
    """Copy the shipped ``openstack.conf`` into ``directory``, enabled; return the directory.

    ``overrides`` (``{section: {key: value}}``) replace the section's line for that key,
    or are added to the section; everything else stays as shipped.

    Raises:
        ValueError: an override names a section the shipped file does not have.
    """
    pending = {"provider": {"enabled": "true"}}
    for section, values in overrides.items():
        pending[section] = {**pending.get(section, {}), **values}
    lines: list[str] = []
    section = ""

    def add_rest() -> None:
        lines.extend(f"{key} = {value}" for key, value in pending.pop(section, {}).items())

    for line in SHIPPED.read_text().splitlines():
        if header := _HEADER.fullmatch(line.strip()):
            add_rest()
            section = header["name"]
        key = _KEY.match(line)
        name = key["key"].lower() if key else ""
        lines.append(f"{name} = {pending[section].pop(name)}"
                     if name in pending.get(section, {}) else line)
    add_rest()
    if pending:
        raise ValueError(f"{SHIPPED}: no section {sorted(pending)} to override")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SHIPPED.name).write_text("\n".join(lines) + "\n")
    return directory
