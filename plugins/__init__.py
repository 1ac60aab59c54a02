"""The plugin API: what a plugin author imports (``from plugins import ProtectionPlugin, ...``).

Below it: ``plugins.provider`` (provider files), ``plugins.checkpoint`` (checkpoints, the
graph, journals and operation records in a bank), ``plugins.local`` and ``plugins.openstack``.
"""

from plugins.base import (
    ANY_TYPE,
    OPERATIONS,
    PHASES,
    NoParameters,
    OperationType,
    Phase,
    ProtectablePlugin,
    ProtectionPlugin,
)
from plugins.checkpoint.checkpoint import Checkpoint, CheckpointStatus
from plugins.checkpoint.graph import ResourceGraph
from plugins.context import ActivityContext, RequestContext
from plugins.errors import (
    InvalidParameters,
    InvalidPluginOption,
    PluginError,
    ResourceNotFound,
    ResourceTypeNotSupported,
)
from plugins.resource import Resource

__all__ = [
    "ANY_TYPE",
    "OPERATIONS",
    "PHASES",
    "ActivityContext",
    "Checkpoint",
    "CheckpointStatus",
    "InvalidParameters",
    "InvalidPluginOption",
    "NoParameters",
    "OperationType",
    "Phase",
    "PluginError",
    "ProtectablePlugin",
    "ProtectionPlugin",
    "RequestContext",
    "Resource",
    "ResourceGraph",
    "ResourceNotFound",
    "ResourceTypeNotSupported",
]
