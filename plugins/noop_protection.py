"""A protection plugin that does nothing, for every resource type.

Listed in a provider next to real plugins, it covers the types no other plugin claims (a
plugin naming a type explicitly always wins over ``*``), so a resource graph that holds,
say, a project node whose data is protected through its children still runs end to end.
It saves nothing in the checkpoint and restores nothing: a resource handled by it is
recorded in the checkpoint's graph only.
"""

from __future__ import annotations

from typing import ClassVar

from plugins.base import ANY_TYPE, ProtectionPlugin


class NoopProtection(ProtectionPlugin):
    """Supports every type (``*``) and implements no activity, so every phase is a no-op.

    Options: only the common ``timeout`` and ``poll_interval``.
    """

    supported_resource_types: ClassVar[frozenset[str]] = frozenset({ANY_TYPE})


__all__ = ["NoopProtection"]
