"""A provider file for the shipped OpenStack plugins on the dev cloud, with a filesystem bank.

The dev cloud has no Swift, so the checkpoints go to a filesystem bank in the test's own
directory; everything else is the shipped configuration: the same plugins, one section
each, credentials as an operator would write them (or a ``cloud`` of a clouds.yaml).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

PLUGINS = (
    "os-project",
    "os-network",
    "os-server",
    "os-volume-backup",
    "os-image",
    "os-share-snapshot",
    "os-database-backup",
)
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
    bank: Path,
    connection: Mapping[str, str],
    *,
    plugins: tuple[str, ...] = PLUGINS,
    options: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``openstack.conf`` into ``directory``; return the directory.

    ``connection`` goes into every plugin and protectable section (auth options, or
    ``cloud``); ``options`` adds per-plugin options (``{"os-volume-backup": {...}}``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    auth = "".join(f"{key} = {value}\n" for key, value in connection.items())
    text = (
        "[provider]\nname = OpenStack\n"
        f"id = {uuid.uuid4()}\ndescription = the shipped plugins on the dev cloud\n"
        "bank = filesystem\n" + "".join(f"plugin = {name}\n" for name in plugins)
        + f"\n[filesystem]\npath = {bank}\n"
    )
    for name in plugins:
        extra = {"poll_interval": "1", "timeout": "900", **(options or {}).get(name, {})}
        text += f"\n[{name}]\n{auth}" + "".join(f"{k} = {v}\n" for k, v in extra.items())
    for resource_type in PROTECTABLES:
        text += f"\n[protectable:{resource_type}]\n{auth}"
    (directory / "openstack.conf").write_text(text)
    return directory
