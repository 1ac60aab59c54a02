"""JSON Schema documents as a seed (Karbor) plugin gives them, checked with ``jsonschema``.

Karbor's protection plugins describe their protect parameters, restore parameters and
saved info with ``get_options_schema``, ``get_restore_schema`` and
``get_saved_info_schema``, each a JSON Schema document per resource type. Parameters are
validated against them before anything runs, with the same ``InvalidParameters`` (naming
the resource and the field) that msgspec schemas give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import msgspec

from plugins.errors import InvalidParameters, PluginLoadError


class JsonParameters(msgspec.Struct, frozen=True):
    """Parameters validated against a JSON Schema: the plain values, as the seed passes them."""

    values: dict[str, Any] = msgspec.field(default_factory=dict)


def check_schema(schema: Any, where: str) -> dict[str, Any]:
    """``schema`` if it is a valid JSON Schema document.

    Raises:
        PluginLoadError: saying where the schema came from and what is wrong with it.
    """
    if not isinstance(schema, Mapping):
        raise PluginLoadError(f"{where} returned {schema!r}, not a JSON Schema document (a dict)")
    document = dict(schema)
    try:
        jsonschema.validators.validator_for(document).check_schema(document)
    except jsonschema.SchemaError as error:
        raise PluginLoadError(f"{where} is not a valid JSON Schema: {error.message}") from error
    return document


def validate_json(schema: Mapping[str, Any], raw: Mapping[str, Any], where: str) -> JsonParameters:
    """Validate ``raw`` against ``schema``; defaults of top-level properties are filled in.

    Raises:
        InvalidParameters: naming ``where`` and the field at fault (the first error by path).
    """
    values = dict(raw)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        path = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                             for p in error.absolute_path)
        raise InvalidParameters(where, f"{error.message} - at `{path}`")
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, spec in properties.items():
            if name not in values and isinstance(spec, Mapping) and "default" in spec:
                values[name] = spec["default"]
    return JsonParameters(values)


__all__ = ["JsonParameters", "check_schema", "validate_json"]
