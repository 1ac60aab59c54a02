"""A small INI reader that keeps line numbers, for provider files.

``parse_ini`` turns text into ``Section``s of ``Entry`` lines, each knowing its line.
Comments are whole lines starting with ``#`` or ``;`` (no inline comments). As in
configparser, an indented line right after a value continues it (joined with a newline),
and keys are lowercased. A fault raises ``ProviderConfigError`` as ``<file>:<line>: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from plugins.errors import AtFileLine, PluginError
from plugins.redaction import REDACTED, RedactedDict, is_secret_key


class ProviderConfigError(AtFileLine, PluginError):
    """A provider file is wrong; the message is ``<file>:<line>: <what is wrong>``."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``key = value`` line: the value and the line it is on."""

    key: str
    value: str
    line: int

    def __repr__(self) -> str:
        value = REDACTED if is_secret_key(self.key) else self.value
        return f"Entry({self.key!r}, {value!r}, line={self.line})"


@dataclass(slots=True)
class Section:
    """One ``[name]`` section with its lines in file order."""

    name: str
    line: int
    entries: list[Entry] = field(default_factory=list)

    def get(self, key: str) -> Entry | None:
        """The entry for ``key``, or None."""
        return next((e for e in self.entries if e.key == key), None)

    def get_all(self, key: str) -> list[Entry]:
        """Every entry for a repeatable ``key``, in file order."""
        return [e for e in self.entries if e.key == key]

    def options(self) -> RedactedDict:
        """The section as a dict of strings (what a plugin or bank receives)."""
        return RedactedDict((e.key, e.value) for e in self.entries)

    def secret_values(self) -> list[str]:
        """Values of secret keys, to scrub from messages that quote this section."""
        return [e.value for e in self.entries if e.value and is_secret_key(e.key)]


def parse_ini(text: str, path: Path, repeatable: Mapping[str, frozenset[str]]) -> list[Section]:
    """Parse INI ``text`` into sections, keeping line numbers.

    ``repeatable`` maps a section name to the keys that may appear more than once in it.

    Raises:
        ProviderConfigError: for a malformed line, a duplicate section or a duplicate key.
    """
    sections: list[Section] = []
    by_name: dict[str, Section] = {}
    current: Section | None = None
    continues = False  # the previous line was a value an indented line may continue
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continues = continues and bool(line)
            continue
        if continues and current is not None and raw[0] in " \t":
            last = current.entries[-1]
            value = f"{last.value}\n{line}" if last.value else line
            current.entries[-1] = Entry(last.key, value, last.line)
            continue
        continues = False
        if line.startswith("["):
            if not line.endswith("]"):
                raise ProviderConfigError(path, number, "section header is not closed with ']'")
            name = line[1:-1].strip()
            if not name:
                raise ProviderConfigError(path, number, "empty section name '[]'")
            if name in by_name:
                raise ProviderConfigError(
                    path,
                    number,
                    f"duplicate section [{name}] (first at line {by_name[name].line})",
                )
            current = by_name[name] = Section(name, number)
            sections.append(current)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ProviderConfigError(
                path, number, "malformed line: expected 'key = value', '[section]' or a comment"
            )
        key = key.strip().lower()
        if current is None:
            raise ProviderConfigError(path, number, "'key = value' line before any [section]")
        if not key:
            raise ProviderConfigError(path, number, "malformed line: empty key before '='")
        previous = current.get(key)
        if previous is not None and key not in repeatable.get(current.name, frozenset()):
            raise ProviderConfigError(
                path,
                number,
                f"duplicate key {key!r} in [{current.name}] (lines {previous.line} and {number})",
            )
        current.entries.append(Entry(key, value.strip(), number))
        continues = True
    return sections


__all__ = ["Entry", "ProviderConfigError", "Section", "parse_ini"]
