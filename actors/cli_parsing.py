"""Reading the CLI's resource and parameter arguments into request values.

``TYPE#ID`` becomes a ``ResourceRef``; ``--parameters`` and ``--param`` become
``Parameters``. A bad argument raises ``RequestInvalid`` naming the option.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from actors.errors import RequestInvalid
from actors.requests import Parameters, ResourceRef
from plugins.resource import parse_resource_key


def parse_ref(text: str) -> ResourceRef:
    """``TYPE#ID`` as a ResourceRef.

    Raises:
        RequestInvalid: if ``text`` is not of that form.
    """
    try:
        return ResourceRef(*parse_resource_key(text))
    except ValueError as error:
        raise RequestInvalid(str(error)) from None


def parse_parameters(raw: str | None, params: Sequence[str]) -> Parameters:
    """``--parameters`` (JSON, or ``@file``) overlaid by each ``--param
    TYPE[#ID].FIELD=VALUE``; VALUE is JSON if it parses, else a string.

    Raises:
        RequestInvalid: naming the option and what is wrong with it.
    """
    parameters: Parameters = {}
    if raw:
        text: str | bytes = raw
        if raw.startswith("@"):
            try:
                text = Path(raw[1:]).read_bytes()
            except OSError as error:
                raise RequestInvalid(
                    f"--parameters: cannot read {raw[1:]!r}: {error.strerror}"
                ) from None
        try:
            parameters = msgspec.json.decode(text, type=Parameters)
        except msgspec.DecodeError as error:
            raise RequestInvalid(f"--parameters: {error}") from None
    for item in params:
        target, equals, value_text = item.partition("=")
        key, dot, field = target.rpartition(".")
        if not equals or not dot or not key or not field.isidentifier():
            raise RequestInvalid(f"--param {item!r} is not of the form TYPE[#ID].FIELD=VALUE")
        try:
            value: Any = msgspec.json.decode(value_text)
        except msgspec.DecodeError:
            value = value_text
        parameters.setdefault(key, {})[field] = value
    return parameters
