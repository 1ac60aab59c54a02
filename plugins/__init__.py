"""Plugins: the protectable and protection interfaces, their registry, providers, checkpoints."""

from plugins.base import ProtectablePlugin, ProtectionPlugin
from plugins.checkpoint import Checkpoint, CheckpointStatus
from plugins.context import ActivityContext, RequestContext
from plugins.graph import ResourceGraph
from plugins.resource import Resource

__all__ = [
    "ActivityContext",
    "Checkpoint",
    "CheckpointStatus",
    "ProtectablePlugin",
    "ProtectionPlugin",
    "RequestContext",
    "Resource",
    "ResourceGraph",
]
