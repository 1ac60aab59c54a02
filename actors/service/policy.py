"""The policy file: which identity may ask the workers for what. Deny by default.

An INI document read with line numbers kept, like the provider files::

    # who may do what; an identity not named here may do nothing
    [user backup-operator]            # a RabbitMQ user, as the broker vouches for it
    operations = protect, restore, verify, plan
    providers = Local                 # provider ids or names; * for all
    protect_roots = /srv/data         # directories it may protect (and below)
    restore_targets = /srv/restore    # where it may restore to (and below)

    [user admin]
    operations = *
    providers = *
    protect_roots = /
    restore_targets = /srv, /home

    # OpenStack providers: requests also carry a Keystone token (docs/security.md)
    [keystone]
    cloud = strongbox-service         # clouds.yaml entry of Strongbox's service user
    providers = OpenStack             # whose requests need a token

    [role member]                     # a token with this role in its project
    operations = protect, restore, verify
    providers = OpenStack

    [role admin]
    operations = *
    providers = *
    cross_project = yes               # may act on another project's checkpoints (audited)

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

# "plan": create, change and delete one's own plans (docs/plans.md); running a plan, by
# its schedule or on demand, needs "protect" too, and its retention "delete"
OPERATION_RIGHTS: Final = ("protect", "restore", "delete", "verify", "cancel", "list", "plan")
KEYS: Final = ("operations", "providers", "protect_roots", "restore_targets")
ROLE_KEYS: Final = ("operations", "providers", "cross_project")
KEYSTONE_KEYS: Final = ("cloud", "providers")
SECTION_PREFIX: Final = "user "
ROLE_PREFIX: Final = "role "
KEYSTONE_SECTION: Final = "keystone"
TRUE: Final = ("yes", "true", "on", "1")
FALSE: Final = ("no", "false", "off", "0")
ANY: Final = "*"
MAX_POLICY_BYTES: Final = 1 << 20


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """What one identity may do."""

    identity: str
    operations: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()  # ids or names; {"*"} for every provider
    protect_roots: tuple[str, ...] = ()
    restore_targets: tuple[str, ...] = ()
    cross_project: bool = False  # roles only: may act on another project's checkpoints
    line: int = 0

    def may(self, operation: str) -> bool:
        """Whether the rule grants ``operation``."""
        return operation in self.operations

    def may_use_provider(self, provider_id: str, provider_name: str) -> bool:
        """Whether the rule grants the provider, by id or by name."""
        return bool({ANY, provider_id, provider_name} & self.providers)


class KeystoneSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Which providers' requests need a Keystone token, and who checks it."""

    cloud: str  # the clouds.yaml entry of Strongbox's service user
    providers: frozenset[str]  # ids or names; {"*"} for every provider


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """Every identity's rule, from one policy file."""

    path: str
    rules: dict[str, Rule]
    roles: dict[str, Rule] = msgspec.field(default_factory=dict)
    keystone: KeystoneSettings | None = None

    def rule_for(self, identity: str) -> Rule | None:
        """The rule naming ``identity``, or None (which grants nothing)."""
        return self.rules.get(identity)

    def needs_token(self, provider_id: str, provider_name: str) -> bool:
        """Whether requests to this provider must carry a Keystone token."""
        return self.keystone is not None and bool(
            {ANY, provider_id, provider_name} & self.keystone.providers)


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
    roles: dict[str, Rule] = {}
    keystone = None
    for section in sections:
        if section.name == KEYSTONE_SECTION:
            keystone = _keystone(path, section)
        elif section.name.startswith(ROLE_PREFIX):
            rule = _rule(path, section, ROLE_PREFIX, ROLE_KEYS)
            roles[rule.identity] = rule
        else:
            rule = _rule(path, section, SECTION_PREFIX, KEYS)
            rules[rule.identity] = rule
    if not rules and not roles:
        raise PolicyError(path, None, "no [user NAME] or [role NAME] section: this policy "
                                      "grants nothing")
    if roles and keystone is None:
        raise PolicyError(path, None, "[role NAME] sections need a [keystone] section "
                                      "(cloud, providers) to check tokens with")
    return Policy(path=str(path), rules=rules, roles=roles, keystone=keystone)


def _keystone(path: Path, section: Section) -> KeystoneSettings:
    for entry in section.entries:
        if entry.key not in KEYSTONE_KEYS:
            raise PolicyError(path, entry.line, f"unknown key {entry.key!r} in [keystone]"
                                                f"{_suggest(entry.key, KEYSTONE_KEYS)}")
    cloud = section.get("cloud")
    if cloud is None or not cloud.value:
        raise PolicyError(path, section.line, "[keystone] needs 'cloud': the clouds.yaml "
                                              "entry of Strongbox's service user")
    providers = section.get("providers")
    names = [v for v in re.split(r"[\s,]+", providers.value) if v] if providers else []
    if not names:
        raise PolicyError(path, section.line, "[keystone] needs 'providers': those whose "
                                              "requests must carry a token")
    return KeystoneSettings(cloud=cloud.value, providers=frozenset(names))


def _rule(path: Path, section: Section, prefix: str, keys: tuple[str, ...]) -> Rule:
    if not section.name.startswith(prefix) or not section.name[len(prefix):].strip():
        raise PolicyError(path, section.line, f"unknown section [{section.name}]: sections are "
                                              f"[user NAME] (a broker user), [role NAME] (a "
                                              f"Keystone role) and [keystone]")
    identity = section.name[len(prefix):].strip()
    values: dict[str, list[str]] = {}
    for entry in section.entries:
        if entry.key not in keys:
            raise PolicyError(path, entry.line, f"unknown key {entry.key!r} in "
                                                f"[{section.name}]{_suggest(entry.key, keys)}")
        values[entry.key] = [v for v in re.split(r"[\s,]+", entry.value) if v]
    cross = section.get("cross_project")
    if cross is not None and cross.value.lower() not in TRUE + FALSE:
        raise PolicyError(path, cross.line, f"cross_project: {cross.value!r} is not yes or no")
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
                cross_project=cross is not None and cross.value.lower() in TRUE,
                line=section.line)


def _suggest(name: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(known)})"
