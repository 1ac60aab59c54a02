"""Option schemas: what a bank or plugin accepts in its section of a provider file.

Every bank and plugin declares its options as a msgspec Struct (``Bank.Options``,
``ProtectionPlugin.Options``, ``ProtectablePlugin.Options``) deriving from
:class:`OptionSchema`: unknown fields are refused, and a field's type and
``msgspec.Meta`` bounds say what a value may be. The provider loader
(``plugins.provider.options_check``) converts the section's text values against it, so
that an unknown option, a wrong type or a value out of range is an error naming the file
and the line. A field with a default may be left out; an empty value means "left out".

The schemas live here, below both banks and plugins, because a plugin's schema may
include a bank-side one (the directory plugin takes the chunk store's options).
"""

from __future__ import annotations

from typing import Any

import msgspec


class OptionSchema(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every option schema: keyword fields, unknown ones refused."""


class NoOptions(OptionSchema, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The schema of a bank or plugin that takes no option: any option is an error."""


def between(bounds: tuple[int, int]) -> msgspec.Meta:
    """The bounds of an integer option, inclusive: ``Annotated[int, between((1, 64))]``."""
    return msgspec.Meta(ge=bounds[0], le=bounds[1])


def combine_schemas(name: str, *schemas: type[msgspec.Struct]) -> type[OptionSchema]:
    """One schema holding the fields of every one of ``schemas`` (later ones win).

    msgspec Structs cannot inherit from two bases that both have fields; a plugin whose
    options are the common plugin options plus, say, the chunk store's, is built here.
    """
    fields: dict[str, tuple[str, Any, Any]] = {}
    for schema in schemas:
        for field in msgspec.structs.fields(schema):
            default: Any = field.default
            if field.default_factory is not msgspec.NODEFAULT:
                default = msgspec.field(default_factory=field.default_factory)
            fields[field.name] = (field.name, field.type, default)
    combined = msgspec.defstruct(
        name,
        list(fields.values()),
        bases=(OptionSchema,),
        kw_only=True,
        frozen=True,
        forbid_unknown_fields=True,
    )
    assert issubclass(combined, OptionSchema)  # defstruct is typed as returning any Struct
    return combined


__all__ = ["NoOptions", "OptionSchema", "between", "combine_schemas"]
