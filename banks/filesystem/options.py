"""The filesystem bank's options (its ``[filesystem]`` provider section)."""

from __future__ import annotations

from banks.option_schema import OptionSchema


class FilesystemOptions(OptionSchema, frozen=True):
    """``path``: the bank directory.

    Left out (no ``path`` line, or no ``[filesystem]`` section at all), the bank uses
    ``$STRONGBOX_BANK_PATH``, else the user data directory. A misspelled section or option
    is refused by the provider loader, so it never lands here as "left out".
    """

    path: str | None = None


__all__ = ["FilesystemOptions"]
