"""The plugin registry: protection plugins, protectables and banks by name.

Plugins come from three entry-point groups, one per kind::

    strongbox.protections   name          -> ProtectionPlugin subclass
    strongbox.protectables  resource type -> ProtectablePlugin subclass
    strongbox.banks         name          -> Bank subclass

Entry points are read on first use and each class is imported only when asked for, so a
broken or missing plugin fails the provider that uses it, not every command. A name of the
form ``"package.module:Class"`` is an explicit import path for a plugin that is not
installed as an entry point. Tests and benchmarks register synthetic classes directly with
``register_protection``, ``register_protectable`` and ``register_bank``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final, cast

from banks.base import Bank
from banks.extras import MissingExtra
from plugins.base import ProtectablePlugin, ProtectionPlugin
from plugins.errors import PluginLoadError, PluginMoved, PluginNotFound
from plugins.moved_modules import moved_path
from plugins.seed_adapter import adapt

PROTECTIONS: Final = "strongbox.protections"
PROTECTABLES: Final = "strongbox.protectables"
BANKS: Final = "strongbox.banks"
GROUPS: Final[dict[str, type]] = {
    PROTECTIONS: ProtectionPlugin,
    PROTECTABLES: ProtectablePlugin,
    BANKS: Bank,
}


@dataclass(slots=True)
class _Entry:
    """One name in a group: where it comes from and, once imported, the class."""

    target: str
    entry_point: EntryPoint | None = None
    cls: type | None = None


class PluginRegistry:
    """Plugin classes by group and name, loaded lazily from entry points.

    ``load_entry_points=False`` gives an empty registry that only knows what is registered
    programmatically (dotted import paths still work).
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._load_entry_points = load_entry_points
        self._groups: dict[str, dict[str, _Entry]] = {}
        self._paths: dict[tuple[str, str], type] = {}

    # -- lookups -------------------------------------------------------------------------

    def names(self, group: str) -> list[str]:
        """The sorted names known in ``group`` (installed and registered).

        Raises:
            ValueError: if ``group`` is not one of the three plugin groups.
            PluginLoadError: if two installed distributions declare the same name.
        """
        if group == PROTECTABLES:
            self._resolve_aliases()
        return sorted(self._entries(group))

    def protection_class(self, name: str) -> type[ProtectionPlugin]:
        """The protection plugin class called ``name`` (or at import path ``name``).

        Raises:
            PluginNotFound: listing the available protection plugins.
            PluginLoadError: if it cannot be imported or is not a ProtectionPlugin.
        """
        return cast("type[ProtectionPlugin]", self._get(PROTECTIONS, name))

    def protectable_class(self, resource_type: str) -> type[ProtectablePlugin]:
        """The protectable plugin class for ``resource_type``.

        Raises:
            PluginNotFound: listing the available resource types.
            PluginLoadError: if it cannot be imported or is not a ProtectablePlugin.
        """
        return cast("type[ProtectablePlugin]", self._get(PROTECTABLES, resource_type))

    def protectable_classes(self) -> dict[str, type[ProtectablePlugin]]:
        """Every protectable plugin class, keyed by resource type (imports them all).

        Raises:
            PluginLoadError: if any of them cannot be imported or is not a ProtectablePlugin.
        """
        return {name: self.protectable_class(name) for name in self.names(PROTECTABLES)}

    def bank_class(self, name: str) -> type[Bank]:
        """The bank class called ``name`` (or at import path ``name``).

        Raises:
            PluginNotFound: listing the available banks.
            PluginLoadError: if it cannot be imported or is not a Bank.
        """
        return cast("type[Bank]", self._get(BANKS, name))

    # -- programmatic registration -------------------------------------------------------

    def register_protection(
        self, name: str, cls: type[ProtectionPlugin], *, replace: bool = False
    ) -> None:
        """Make ``cls`` the protection plugin called ``name``.

        Raises:
            PluginLoadError: if ``cls`` is not a ProtectionPlugin, or ``name`` is taken by
                another class and ``replace`` is false.
        """
        self._register(PROTECTIONS, name, cls, replace)

    def register_protectable(self, cls: type[ProtectablePlugin], *, replace: bool = False) -> None:
        """Register ``cls`` under its ``resource_type``.

        Raises:
            PluginLoadError: if ``cls`` is not a ProtectablePlugin, has no resource type, or
                the type is taken by another class and ``replace`` is false.
        """
        self._register(PROTECTABLES, getattr(cls, "resource_type", ""), cls, replace)

    def register_bank(self, name: str, cls: type[Bank], *, replace: bool = False) -> None:
        """Make ``cls`` the bank called ``name``.

        Raises:
            PluginLoadError: if ``cls`` is not a Bank, or ``name`` is taken by another
                class and ``replace`` is false.
        """
        self._register(BANKS, name, cls, replace)

    # -- internals -----------------------------------------------------------------------

    def _entries(self, group: str) -> dict[str, _Entry]:
        if group not in GROUPS:
            raise ValueError(f"unknown plugin group {group!r}; groups: {', '.join(GROUPS)}")
        entries = self._groups.get(group)
        if entries is None:
            entries = {}
            if self._load_entry_points:
                for entry_point in entry_points(group=group):
                    previous = entries.get(entry_point.name)
                    if previous is not None and previous.target != entry_point.value:
                        raise PluginLoadError(
                            f"{group}: two plugins are named {entry_point.name!r}: "
                            f"{previous.target} and {entry_point.value}"
                        )
                    entries[entry_point.name] = _Entry(entry_point.value, entry_point)
            self._groups[group] = entries
        return entries

    def _resolve_aliases(self) -> None:
        """Re-key protectables whose entry is not named after their type (the seed's
        ``setup.cfg`` names them ``volume = ...``) under the type they declare. One that
        fails to load stays under its entry name and fails when used, as any other."""
        entries = self._entries(PROTECTABLES)
        for name in [n for n, e in entries.items() if not _names_a_type(n) and e.cls is None]:
            try:
                cls = self._get(PROTECTABLES, name)
            except PluginLoadError:
                continue
            declared = getattr(cls, "resource_type", name)
            if declared != name and declared not in entries:
                entries[declared] = entries.pop(name)
            elif declared != name:
                raise PluginLoadError(
                    f"{PROTECTABLES}: {name} = {entries[name].target} and "
                    f"{entries[declared].target} both discover {declared!r}")

    def _get(self, group: str, name: str) -> type:
        entries = self._entries(group)
        entry = entries.get(name)
        if entry is None and group == PROTECTABLES and ("::" in name or ":" not in name):
            self._resolve_aliases()
            entry = entries.get(name)
        if entry is None:
            if ":" not in name or name.startswith(":"):
                raise PluginNotFound(group, name, entries)
            return self._get_path(group, name)
        if entry.cls is None:
            where = f"{group}:{name} = {entry.target}"
            try:
                loaded = entry.entry_point.load() if entry.entry_point else None
            except MissingExtra as error:  # one line that names what to install
                raise PluginLoadError(f"plugin {where}: {error}") from error
            except Exception as error:
                raise PluginLoadError(
                    f"plugin {where} failed to load: {type(error).__name__}: {error}"
                ) from error
            entry.cls = _check_class(group, name, where, loaded, by_type=True)
        return entry.cls

    def _get_path(self, group: str, path: str) -> type:
        cached = self._paths.get((group, path))
        if cached is None:
            try:
                loaded = _import_path(group, path, self._entries(group))
            except PluginNotFound:
                raise
            except MissingExtra as error:
                raise PluginLoadError(f"{group} plugin {path}: {error}") from error
            except Exception as error:
                raise PluginLoadError(
                    f"{group} plugin {path} failed to import: {type(error).__name__}: {error}"
                ) from error
            cached = _check_class(group, path, "import path", loaded, by_type=False)
            self._paths[group, path] = cached
        return cached

    def _register(self, group: str, name: str, cls: type, replace: bool) -> None:
        target = _qualified(cls) if isinstance(cls, type) else repr(cls)
        checked = _check_class(group, name or "?", f"registered {target}", cls, by_type=False)
        if group == PROTECTABLES and not name:  # a seed-style class: its get_resource_type()
            name = getattr(checked, "resource_type", "")
        if not name:
            raise PluginLoadError(f"{group}: {target} has no name to register under")
        entries = self._entries(group)
        previous = entries.get(name)
        if previous is not None and not replace and previous.cls is not cls:
            raise PluginLoadError(
                f"{group}: {name!r} is already registered as {previous.target}; "
                f"refusing to register {target} under the same name"
            )
        entries[name] = _Entry(target, None, checked)


def _import_path(group: str, path: str, known: dict[str, _Entry]) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            new_path = moved_path(path)
            if new_path is not None:
                raise PluginMoved(group, path, new_path) from error
            raise PluginNotFound(group, path, known) from error
        raise
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            new_path = moved_path(path)  # an old module name that is now a package
            if new_path is not None:
                raise PluginMoved(group, path, new_path) from None
            raise PluginNotFound(group, path, known) from None
    return obj


def _check_class(group: str, name: str, where: str, obj: Any, *, by_type: bool) -> type:
    """Return ``obj`` if it is a concrete subclass of the group's base; else explain.

    ``by_type``: ``name`` is a registry name, so a protectable must declare it as its type.
    """
    base = GROUPS[group]
    obj = adapt(base, obj, f"{group} plugin {name!r} ({where})")  # seed-style: wrapped once
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise PluginLoadError(
            f"{group} plugin {name!r} ({where}) is {_describe(obj)}, "
            f"not a subclass of {_qualified(base)}"
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise PluginLoadError(
            f"{group} plugin {name!r} ({where}) is abstract: it does not implement {missing}"
        )
    if base is ProtectablePlugin and by_type:
        declared = getattr(obj, "resource_type", None)
        if declared != name and _names_a_type(name):
            raise PluginLoadError(
                f"{group} plugin {name!r} ({where}) declares resource_type {declared!r}; "
                f"the entry name must be its resource type"
            )
    return obj


def _names_a_type(name: str) -> bool:
    """Entry names with ``::`` name a resource type; others (the seed's ``volume = ...``)
    are aliases, imported when the registry lists protectables to read their type."""
    return "::" in name


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"class {_qualified(obj)}"
    kind = type(obj).__name__
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"a {kind} {name}" if name else f"a {kind} object"


__all__ = ["BANKS", "GROUPS", "PROTECTABLES", "PROTECTIONS", "PluginRegistry"]
