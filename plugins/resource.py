"""A resource: one protectable thing (a server, a volume, a directory)."""

from __future__ import annotations

from typing import Any

import msgspec


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    """One instance of a resource type.

    Identity is ``(type, id)``: ``name`` and ``extra`` are descriptive, so the same volume
    found through a server and through its project is one resource.
    """

    type: str
    id: str
    name: str = ""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def key(self) -> str:
        """``type#id``, the form parameters and the CLI use to name one resource."""
        return f"{self.type}#{self.id}"

    def __hash__(self) -> int:
        return hash((self.type, self.id))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return self.type == other.type and self.id == other.id


def parse_resource_key(text: str) -> tuple[str, str]:
    """Split ``type#id`` into its parts.

    Raises:
        ValueError: if ``text`` has no ``#`` or an empty part.
    """
    resource_type, sep, resource_id = text.partition("#")
    if not sep or not resource_type or not resource_id:
        raise ValueError(f"resource {text!r} is not of the form TYPE#ID")
    return resource_type, resource_id
