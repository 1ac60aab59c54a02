"""The policy file: which identity may ask the workers for what. Deny by default.

An INI document read with line numbers kept, like the provider files::

    # who may do what; an identity not named here may do nothing
    [user backup-operator]            # a RabbitMQ user, as the broker vouches for it
    operations = protect, restore, verify
    providers = Local                 # provider ids or names; * for all
    protect_roots = /srv/data         # directories it may protect (and below)
    restore_targets = /srv/restore    # where it may restore to (and below)

    [user admin]
    operations = *
    providers = *
    protect_roots = /
    restore_targets = /srv, /home

Lists are separated by commas, spaces or lines. Paths are resolved (symlinks included)
when a request is checked. A fault raises ``PolicyError`` as ``<file>:<line>: ...``,
with the known names and a close match for a misspelled key or operation.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Final

import msgspec

from actors.errors import PolicyError
from plugins.provider.ini_reader import ProviderConfigError, Section, parse_ini

OPERATION_RIGHTS: Final = ("protect", "restore", "delete", "verify", "cancel", "list")
KEYS: Final = ("operations", "providers", "protect_roots", "restore_targets")
SECTION_PREFIX: Final = "user "
ANY: Final = "*"
MAX_POLICY_BYTES: Final = 1 << 20


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """What one identity may do."""

    identity: str
    operations: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()  # ids or names; {"*"} for every provider
    protect_roots: tuple[str, ...] = ()
    restore_targets: tuple[str, ...] = ()
    line: int = 0

    def may(self, operation: str) -> bool:
        """Whether the rule grants ``operation``."""
        return operation in self.operations

    def may_use_provider(self, provider_id: str, provider_name: str) -> bool:
        """Whether the rule grants the provider, by id or by name."""
        return bool({ANY, provider_id, provider_name} & self.providers)


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """Every identity's rule, from one policy file."""

    path: str
    rules: dict[str, Rule]

    def rule_for(self, identity: str) -> Rule | None:
        """The rule naming ``identity``, or None (which grants nothing)."""
        return self.rules.get(identity)


def read_policy(path: Path | str) -> Policy:
    """Read and check a policy file.

    Raises:
        PolicyError: naming the file, the line and the fault.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PolicyError(path, None, f"cannot read: {error.strerror}") from error
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(path, None, f"larger than {MAX_POLICY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        sections = parse_ini(text, path, {})
    except UnicodeDecodeError as error:
        raise PolicyError(path, None, f"not UTF-8 text: {error.reason}") from error
    except ProviderConfigError as error:
        raise PolicyError(path, error.line, error.problem) from error
    rules: dict[str, Rule] = {}
    for section in sections:
        rule = _rule(path, section)
        rules[rule.identity] = rule
    if not rules:
        raise PolicyError(path, None, "no [user NAME] section: this policy grants nothing")
    return Policy(path=str(path), rules=rules)


def _rule(path: Path, section: Section) -> Rule:
    if not section.name.startswith(SECTION_PREFIX) or not section.name[len(SECTION_PREFIX):]:
        raise PolicyError(path, section.line, f"unknown section [{section.name}]: every "
                                              f"section is [user NAME], NAME a broker user")
    identity = section.name[len(SECTION_PREFIX):].strip()
    values: dict[str, list[str]] = {}
    for entry in section.entries:
        if entry.key not in KEYS:
            raise PolicyError(path, entry.line, f"unknown key {entry.key!r} in "
                                                f"[{section.name}]{_suggest(entry.key, KEYS)}")
        values[entry.key] = [v for v in re.split(r"[\s,]+", entry.value) if v]
    operations = set(values.get("operations", []))
    if ANY in operations:
        operations = set(OPERATION_RIGHTS)
    for name in operations - set(OPERATION_RIGHTS):
        line = section.get("operations")
        raise PolicyError(path, line.line if line else section.line,
                          f"unknown operation {name!r}{_suggest(name, OPERATION_RIGHTS)}")
    paths = {}
    for key in ("protect_roots", "restore_targets"):
        for value in values.get(key, []):
            if not os.path.isabs(value) or "\x00" in value:
                found = section.get(key)
                raise PolicyError(path, found.line if found else section.line,
                                  f"{key}: {value!r} is not an absolute path")
        paths[key] = tuple(values.get(key, []))
    return Rule(identity=identity, operations=frozenset(operations),
                providers=frozenset(values.get("providers", [])),
                protect_roots=paths["protect_roots"], restore_targets=paths["restore_targets"],
                line=section.line)


def _suggest(name: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(known)})"
