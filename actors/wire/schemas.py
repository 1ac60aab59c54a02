"""The JSON Schema of every request a client may publish and every event it may receive.

Generated from the msgspec types the workers decode and encode, so it cannot drift from
them; ``strongbox schema`` prints it and ``docs/schema.json`` keeps a copy (a test checks
that the copy is current).
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.wire.events import AnyEvent
from actors.wire.requests import AnyRequest


def message_schema() -> dict[str, Any]:
    """One JSON Schema document: ``request`` and ``event`` under ``properties``."""
    (request, event), components = msgspec.json.schema_components(
        (AnyRequest, AnyEvent), ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Strongbox requests and events",
        "description": "Publish a 'request' as JSON to the <namespace>.requests queue; "
                       "read 'event's from the <namespace>.events topic exchange.",
        "type": "object",
        "properties": {"request": request, "event": event},
        "$defs": components,
    }


def render_schema() -> str:
    """The schema as the stable, indented JSON text ``docs/schema.json`` holds."""
    return msgspec.json.format(msgspec.json.encode(message_schema()), indent=2).decode() + "\n"
