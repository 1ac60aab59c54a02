"""Before a restore releases any resource: every plugin checks all of its resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from plugins.base import ProtectionPlugin
from plugins.resource import Resource

if TYPE_CHECKING:
    from actors.runtime.operation_run import OperationRun


async def check_restore(run: OperationRun) -> None:
    """Call each plugin's ``check_restore`` once, with every resource it restores.

    Raises:
        PluginError, BankError: the first plugin's refusal; nothing has been written.
    """
    if run.checkpoint is None:  # set before Start for a restore
        raise RuntimeError(f"restore {run.operation_id} has no checkpoint")
    by_plugin: dict[int, tuple[ProtectionPlugin, list[tuple[Resource, msgspec.Struct]]]] = {}
    for resource, plugin, parameters in zip(run.graph.nodes, run.plugins, run.parameters,
                                            strict=True):
        by_plugin.setdefault(id(plugin), (plugin, []))[1].append((resource, parameters))
    for plugin, planned in by_plugin.values():
        await plugin.check_restore(run.checkpoint, planned)
