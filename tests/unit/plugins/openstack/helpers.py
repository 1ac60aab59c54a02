"""Provider sections and request shortcuts shared by the OpenStack plugin tests."""

from __future__ import annotations

import re
from typing import Any

from plugins.openstack import resource_types

PROTECTABLE_TYPES = (
    resource_types.PROJECT, resource_types.SERVER, resource_types.VOLUME, resource_types.IMAGE,
    resource_types.SHARE, resource_types.NETWORK, resource_types.DATABASE,
)


def sections(*plugins: str, **options: str) -> str:
    """Provider-file text: every plugin and protectable on the fake cloud.

    The caller's ``engine_for(first_plugin, ...)`` writes ``plugin = first_plugin``;
    further plugins are added here. ``options`` go into every plugin section.
    """
    extra = "".join(f"plugin = {name}\n" for name in plugins[1:])
    settings = {"cloud": "fake", "poll_interval": "0.001", "timeout": "30", **options}
    text = extra
    for name in plugins:
        # noop takes only the options every plugin takes: it has no cloud
        chosen = {k: v for k, v in settings.items() if name != "noop" or k != "cloud"}
        text += f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in chosen.items())
    for resource_type in PROTECTABLE_TYPES:
        text += f"[protectable:{resource_type}]\ncloud = fake\n"
    return text


def writes(cloud: Any) -> list[str]:
    """The calls that changed something, numbered ids replaced by their kind."""
    return [
        re.sub(r"\b(vol|snap|backup|image|server|ssnap|share|db|dbbackup)-\d+", r"\1", call)
        .replace(f"/v3/{cloud.project_id}", "").replace(f"/v2/{cloud.project_id}", "")
        .replace(f"/v1.0/{cloud.project_id}", "")
        for call in cloud.calls
        if not call.startswith("GET") and "auth/tokens" not in call
    ]
