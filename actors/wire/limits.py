"""What a request may hold: the length and charset of every name, and how big it may be.

Anyone who may publish to the request exchange can send anything, so every name a
request carries is bounded where it is decoded, before it reaches a bank key, a routing
key or a log line:

- request, operation and checkpoint ids: ``ID_PATTERN`` (a UUID fits; no ``#``, ``*``,
  ``.``, ``/`` or whitespace, which would break topic bindings and bank keys);
- provider and project ids (or names): letters, digits, space and ``_.:@-``, at most 128;
- resource types: ``TYPE_PATTERN``;
- resource ids: at most ``MAX_RESOURCE_ID_BYTES`` bytes of UTF-8, no control character
  (a directory's id is an absolute path, so ``/`` is allowed);
- at most ``MAX_RESOURCES`` resources, ``MAX_PARAMETER_KEYS`` parameter keys, and
  parameter (and ``extra``) values nested at most ``MAX_VALUE_DEPTH`` deep with at most
  ``MAX_VALUE_NODES`` values in all.

The msgspec ``Meta`` constraints below are checked while decoding (and appear in the
JSON schema); :func:`check_limits` checks what ``Meta`` cannot say: byte lengths, the
newline a regex ``$`` lets through, the parts of a parameter key, and nesting.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

import msgspec

from actors.errors import RequestInvalid

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
MAX_ID_LENGTH: Final = 128
PROVIDER_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]{0,127}$"
TYPE_PATTERN: Final = r"^[A-Za-z0-9:_-]{1,128}$"
MAX_TYPE_LENGTH: Final = 128
MAX_RESOURCE_ID_BYTES: Final = 1024
MAX_RESOURCES: Final = 100_000
MAX_PARAMETER_KEYS: Final = 10_000
MAX_PARAMETER_KEY_LENGTH: Final = MAX_TYPE_LENGTH + 1 + MAX_RESOURCE_ID_BYTES
MAX_VALUE_DEPTH: Final = 32
MAX_VALUE_NODES: Final = 100_000

OperationId = Annotated[str, msgspec.Meta(
    pattern=ID_PATTERN, max_length=MAX_ID_LENGTH,
    description="letters, digits, '_' and '-', starting with a letter or digit; at most 128")]
ProviderId = Annotated[str, msgspec.Meta(
    pattern=PROVIDER_PATTERN, max_length=MAX_ID_LENGTH,
    description="a provider's id or name: letters, digits, space and '_.:@-'; at most 128")]
ProjectId = Annotated[str, msgspec.Meta(
    pattern=PROVIDER_PATTERN, max_length=MAX_ID_LENGTH,
    description="a project's id or name: letters, digits, space and '_.:@-'; at most 128")]
ResourceType = Annotated[str, msgspec.Meta(pattern=TYPE_PATTERN, max_length=MAX_TYPE_LENGTH)]
ResourceId = Annotated[str, msgspec.Meta(
    min_length=1, max_length=MAX_RESOURCE_ID_BYTES,
    description="at most 1024 bytes of UTF-8, no control characters")]
ParameterKey = Annotated[str, msgspec.Meta(
    min_length=1, max_length=MAX_PARAMETER_KEY_LENGTH,
    description="a resource type, or 'type#id' for one resource")]

_ID = re.compile(ID_PATTERN[:-1] + r"\Z")
_PROVIDER = re.compile(PROVIDER_PATTERN[:-1] + r"\Z")
_TYPE = re.compile(TYPE_PATTERN[:-1] + r"\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_id(field: str, value: str | None) -> None:
    """Raise RequestInvalid naming ``field`` unless ``value`` is None or a valid id."""
    if value is not None and not _ID.match(value):
        raise RequestInvalid(f"field {field!r}: not a valid id (letters, digits, '_' and "
                             f"'-', starting with a letter or digit, at most "
                             f"{MAX_ID_LENGTH}; {_describe(value)})")


def check_provider(field: str, value: str | None) -> None:
    """Raise RequestInvalid naming ``field`` unless ``value`` is None or a provider id/name."""
    if value is not None and not _PROVIDER.match(value):
        raise RequestInvalid(f"field {field!r}: not a valid provider id or name "
                             f"({_describe(value)})")


def check_resource(field: str, resource_type: str, resource_id: str) -> None:
    """Raise RequestInvalid naming ``field`` unless the type and id are within limits."""
    if not _TYPE.match(resource_type):
        raise RequestInvalid(f"field {field}.type: not a resource type "
                             f"({_describe(resource_type)})")
    check_resource_id(f"{field}.id", resource_id)


def check_resource_id(field: str, value: str) -> None:
    """Raise RequestInvalid naming ``field`` unless ``value`` is a bounded, printable id."""
    if not value:
        raise RequestInvalid(f"field {field}: empty resource id")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > MAX_RESOURCE_ID_BYTES:
        raise RequestInvalid(f"field {field}: resource id is {size} bytes; "
                             f"the limit is {MAX_RESOURCE_ID_BYTES}")
    if _CONTROL.search(value):
        raise RequestInvalid(f"field {field}: resource id holds a control character")


def check_parameters(field: str, parameters: dict[str, Any]) -> None:
    """Raise RequestInvalid naming the key unless every key is ``type`` or ``type#id``
    and the values are nested at most ``MAX_VALUE_DEPTH`` deep."""
    for key in parameters:
        resource_type, hashed, resource_id = key.partition("#")
        if not _TYPE.match(resource_type):
            raise RequestInvalid(f"field {field}: key {_shorten(key)!r} does not start with "
                                 f"a resource type")
        if hashed:
            check_resource_id(f"{field}[{_shorten(key)!r}]", resource_id)
    check_value(field, parameters)


def check_value(field: str, value: Any) -> None:
    """Raise RequestInvalid naming ``field`` if ``value`` is nested too deeply or too big."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:  # iterative: the point is to refuse what recursion could not handle
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_VALUE_NODES:
            raise RequestInvalid(f"field {field}: more than {MAX_VALUE_NODES} values")
        if isinstance(item, dict | list):
            if depth >= MAX_VALUE_DEPTH:
                raise RequestInvalid(f"field {field}: nested deeper than {MAX_VALUE_DEPTH}")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _describe(value: str) -> str:
    return f"{len(value)} characters, starting {_shorten(value)!r}"


def _shorten(value: str, limit: int = 40) -> str:
    """Enough of a caller's string to recognise it, never all of a huge one."""
    return value if len(value) <= limit else value[:limit] + "..."
