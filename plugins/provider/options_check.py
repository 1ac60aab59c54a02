"""Checking a provider file's sections: each must configure something, and its options
must fit the option schema of its bank or plugin.

A section is named after the provider's bank, one of its plugins, or
``protectable:<installed resource type>``; any other is an error (a misspelled
``[filesystm]`` must not leave the bank on its default location)::

    local.conf:14: unknown section [filesystm]; did you mean [filesystem]? known: ...

Every option must be a field of the schema (``banks.option_schema``); its text value is
converted to the field's type (``true/false``, ``yes/no``, ``on/off``, ``1/0`` for a
boolean) and checked against the field's bounds. An empty value means "left out". Any
fault is a ``ProviderConfigError`` at the option's line, listing the known options and
suggesting a close one for a typo::

    local.conf:7: unknown option 'poll_intervall' in [directory]; did you mean
    'poll_interval'? known: chunk_size, concurrency, ...

The value of a secret-looking option (``plugins.redaction``) is never quoted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from plugins.provider.config import PROTECTABLE_PREFIX, ProviderConfig
from plugins.provider.ini_reader import ProviderConfigError, Section
from plugins.redaction import is_secret_key, scrub

_PATH = re.compile(r" - at `\$\.([^`\[]+)`")
_BOOLEAN_WORDS: Final = {"yes": "true", "on": "true", "no": "false", "off": "false"}


def suggestion(name: str, known: Iterable[str], *, quote: str = "'{}'") -> str:
    """``"did you mean 'x'? "`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean {quote.format(close[0])}? " if close else ""


def option_names(schema: type[msgspec.Struct]) -> list[str]:
    """The option names ``schema`` accepts, sorted."""
    return sorted(field.name for field in msgspec.structs.fields(schema))


def check_sections(config: ProviderConfig, protectable_types: Iterable[str]) -> None:
    """Refuse a section that is not the bank's, a plugin's or an installed protectable's.

    Raises:
        ProviderConfigError: at the section's line, listing the sections this file may have.
    """
    types = sorted(protectable_types)
    used = sorted({config.bank.value, *(ref.value for ref in config.plugins)})
    for name, section in config.sections.items():
        if name.startswith(PROTECTABLE_PREFIX):
            resource_type = name.removeprefix(PROTECTABLE_PREFIX).strip()
            if resource_type not in types:
                raise config.error(
                    section.line,
                    f"unknown protectable type {resource_type!r} in [{name}]; "
                    f"{suggestion(resource_type, types)}available: {', '.join(types) or 'none'}",
                )
        elif name not in used:
            known = [*used, *(PROTECTABLE_PREFIX + t for t in types)]
            raise config.error(
                section.line,
                f"unknown section [{name}]; {suggestion(name, known, quote='[{}]')}"
                f"a section configures this provider's bank or one of its plugins (known: "
                + ", ".join(f"[{k}]" for k in used)
                + f", [{PROTECTABLE_PREFIX}<type>])",
            )


def check_options(
    config: ProviderConfig,
    section: Section | None,
    schema: type[msgspec.Struct],
    what: str,
) -> msgspec.Struct:
    """Convert ``section`` (None: no section, every option left out) into ``schema``.

    ``what`` names the bank or plugin in messages (``"protection plugin 'directory'"``).

    Raises:
        ProviderConfigError: at the line of an unknown option or a bad value, naming it.
    """
    if section is None:
        return _convert(config, None, {}, schema, what)
    fields = {field.name: field for field in _fields(schema)}
    known = sorted(fields)
    values: dict[str, Any] = {}
    for entry in section.entries:
        if entry.key not in fields:
            listing = f"known: {', '.join(known)}" if known else f"{what} takes no options"
            raise config.error(
                entry.line,
                f"unknown option {entry.key!r} in [{section.name}]; "
                f"{suggestion(entry.key, known)}{listing}",
            )
        if entry.value:
            values[entry.key] = _normalized(entry.value, fields[entry.key].type)
    return _convert(config, section, values, schema, what)


def _fields(schema: type[msgspec.Struct]) -> tuple[msgspec.inspect.Field, ...]:
    info = msgspec.inspect.type_info(schema)
    assert isinstance(info, msgspec.inspect.StructType)  # a Struct class gives its fields
    return info.fields


def _normalized(value: str, field_type: msgspec.inspect.Type) -> str:
    """``yes``/``on`` and ``no``/``off`` as msgspec's ``true``/``false`` for booleans."""
    types = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (
        field_type,
    )
    if any(isinstance(t, msgspec.inspect.BoolType) for t in types):
        return _BOOLEAN_WORDS.get(value.lower(), value)
    return value


def _convert(
    config: ProviderConfig,
    section: Section | None,
    values: dict[str, Any],
    schema: type[msgspec.Struct],
    what: str,
) -> msgspec.Struct:
    try:
        return msgspec.convert(values, schema, strict=False)
    except msgspec.ValidationError as error:
        raise _value_error(config, section, schema, what, str(error)) from None


def _value_error(
    config: ProviderConfig,
    section: Section | None,
    schema: type[msgspec.Struct],
    what: str,
    detail: str,
) -> ProviderConfigError:
    secrets = section.secret_values() if section is not None else []
    found = _PATH.search(detail)
    reason = _PATH.sub("", detail)
    reason = reason[:1].lower() + reason[1:]
    where = f" in [{section.name}]" if section is not None else ""
    entry = section.get(found.group(1)) if section is not None and found else None
    if entry is None:  # a whole-struct check, or a required option left out
        line = section.line if section is not None else config.line
        return config.error(line, scrub(f"invalid options for {what}{where}: {reason}", secrets))
    shown = "" if is_secret_key(entry.key) else f" = {entry.value!r}"
    hint = _allowed(schema, entry.key)
    return config.error(
        entry.line,
        scrub(f"invalid value for option {entry.key!r}{where}{shown}: {reason}{hint}", secrets),
    )


def _allowed(schema: type[msgspec.Struct], name: str) -> str:
    """``"; one of: a, b"`` for a field of fixed values (msgspec's message lists none)."""
    for field in _fields(schema):
        if field.name != name:
            continue
        field_type = field.type
        types = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (
            field_type,
        )
        for candidate in types:
            if isinstance(candidate, msgspec.inspect.LiteralType):
                return "; one of: " + ", ".join(str(v) for v in candidate.values)
    return ""


__all__ = ["check_options", "check_sections", "option_names", "suggestion"]
