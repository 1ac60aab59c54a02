"""The two plugin interfaces: protectables discover resources, protections act on them.

A protection plugin implements any of the nine activities

    activity_<protect|restore|delete>_<pre|parallel|post>(checkpoint, context, resource, parameters)

Missing ones are no-ops. ``activity_<op>_abort`` (same arguments) undoes a finished pre
whose post never ran because the operation failed or was cancelled; it runs children
before parents, under ``abort_timeout``, and must be idempotent.

An activity may be a plain function (run in a worker thread, so blocking SDK calls never
stall the event loop), a coroutine function, a generator (each ``next()`` runs in a worker
thread; the runtime waits ``poll_interval`` between steps) or an async generator (the
runtime waits ``poll_interval`` between steps on the loop).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import msgspec

from banks.option_schema import NoOptions, OptionSchema
from plugins.context import RequestContext
from plugins.errors import InvalidParameters, InvalidPluginOption
from plugins.phases import ANY_TYPE, OPERATIONS, PHASES, OperationType, Phase
from plugins.resource import Resource

if TYPE_CHECKING:
    from plugins.checkpoint.checkpoint import Checkpoint



class NoParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The schema of a plugin that takes no parameters: any key given is an error."""


Positive = Annotated[float, msgspec.Meta(gt=0)]


class PluginOptions(OptionSchema, frozen=True):
    """The options every protection plugin takes in its section (see ``ProtectionPlugin``).

    A plugin with options of its own declares a schema holding these too
    (``banks.option_schema.combine_schemas``).
    """

    timeout: Positive | None = None
    abort_timeout: Positive | None = None
    poll_interval: Positive | None = None
    max_concurrent_activities: Annotated[int, msgspec.Meta(ge=1)] | None = None


class ProtectablePlugin(abc.ABC):
    """Discovers resources of one type and the dependents of parent resources."""

    resource_type: ClassVar[str]
    parent_resource_types: ClassVar[frozenset[str]] = frozenset()
    # the options of its ``[protectable:<type>]`` section (banks.option_schema)
    Options: ClassVar[type[msgspec.Struct]] = NoOptions

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        # kept as given: the provider hands a mapping that hides secret values in its repr
        self.config: Mapping[str, str] = config if config is not None else {}

    def get_resource_type(self) -> str:
        """The type this plugin discovers."""
        return self.resource_type

    def get_parent_resource_types(self) -> frozenset[str]:
        """Types whose resources may have resources of this type as dependents."""
        return self.parent_resource_types

    @abc.abstractmethod
    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        """List the resources of this type visible to ``context``."""

    @abc.abstractmethod
    async def show_resource(
        self,
        context: RequestContext,
        resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        """Return one resource.

        Raises:
            ResourceNotFound: if it does not exist.
        """

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """Return the resources of this type that ``parent`` depends on (none by default)."""
        return []


Activity = Callable[..., Any]


class ProtectionPlugin:
    """Protects, restores and deletes resources of the types it supports.

    Subclasses set ``supported_resource_types`` (``{"*"}`` for every type) and the three
    schemas, and implement activities. ``config`` is the plugin's section of the provider
    file; ``timeout`` (seconds per activity), ``abort_timeout`` (seconds for an abort
    activity; default: ``timeout``), ``poll_interval`` (seconds between
    generator steps) and ``max_concurrent_activities`` (activities of this plugin running
    at once on one worker, e.g. 4 volume backups; unset: no limit beyond the worker's) are
    read from it for every plugin.
    """

    supported_resource_types: ClassVar[frozenset[str]] = frozenset()
    Parameters: ClassVar[type[msgspec.Struct]] = NoParameters
    RestoreParameters: ClassVar[type[msgspec.Struct]] = NoParameters
    SavedInfo: ClassVar[type[msgspec.Struct]] = NoParameters
    # the options of its provider-file section; unknown ones are refused at load
    Options: ClassVar[type[msgspec.Struct]] = PluginOptions
    default_timeout: ClassVar[float | None] = 3600.0
    default_poll_interval: ClassVar[float] = 1.0
    # the name the provider file gives it (``plugin = directory``), set when a provider is
    # built; the class name until then. Metrics label activities with it.
    plugin_name: str = ""

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        # kept as given: the provider hands a mapping that hides secret values in its repr
        self.config: Mapping[str, str] = config if config is not None else {}
        self.timeout = _positive_float(self.config, "timeout", self.default_timeout)
        # an abort undoes a pre while its operation ends: often shorter than the work itself
        self.abort_timeout = _positive_float(self.config, "abort_timeout", self.timeout)
        poll = _positive_float(self.config, "poll_interval", self.default_poll_interval)
        self.poll_interval: float = poll if poll is not None else self.default_poll_interval
        limit = _positive_float(self.config, "max_concurrent_activities", None)
        if limit is not None and limit != int(limit):
            raise InvalidPluginOption("max_concurrent_activities",
                                      f"{limit!r} is not a whole number")
        self.max_concurrent_activities: int | None = int(limit) if limit is not None else None

    def supports(self, resource_type: str) -> bool:
        """True if this plugin handles ``resource_type``."""
        types = self.supported_resource_types
        return ANY_TYPE in types or resource_type in types

    def parameters_schema(self, resource_type: str) -> type[msgspec.Struct]:
        """The msgspec schema of protect parameters for ``resource_type``."""
        return self.Parameters

    def restore_parameters_schema(self, resource_type: str) -> type[msgspec.Struct]:
        """The msgspec schema of restore parameters for ``resource_type``."""
        return self.RestoreParameters

    def saved_info_schema(self, resource_type: str) -> type[msgspec.Struct]:
        """The msgspec schema of what this plugin saves in the checkpoint."""
        return self.SavedInfo

    def schema_for(self, operation: OperationType, resource_type: str) -> type[msgspec.Struct]:
        """The parameter schema an operation validates against (delete takes none)."""
        if operation == "protect":
            return self.parameters_schema(resource_type)
        if operation == "restore":
            return self.restore_parameters_schema(resource_type)
        return NoParameters

    def published_schema(self, kind: str, resource_type: str) -> dict[str, Any]:
        """The JSON Schema published for ``kind`` (``options_schema``, ``restore_schema`` or
        ``saved_info_schema``); a seed-style plugin publishes its own JSON Schema documents."""
        schemas = {"options_schema": self.parameters_schema,
                   "restore_schema": self.restore_parameters_schema,
                   "saved_info_schema": self.saved_info_schema}
        document: dict[str, Any] = msgspec.json.schema(schemas[kind](resource_type))
        return document

    def validate_parameters(
        self, operation: OperationType, resource: Resource, raw: Mapping[str, Any]
    ) -> msgspec.Struct:
        """Convert raw parameters into the plugin's schema.

        Raises:
            InvalidParameters: naming the resource and the field at fault.
        """
        schema = self.schema_for(operation, resource.type)
        try:
            return msgspec.convert(dict(raw), schema, str_keys=True)
        except msgspec.ValidationError as error:
            raise InvalidParameters(f"{operation} of {resource.key}", str(error)) from error

    def authorize(
        self,
        operation: OperationType,
        context: RequestContext,
        resource: Resource,
        parameters: msgspec.Struct,
    ) -> None:
        """Refuse what the request may not do to ``resource``; called before anything runs.

        A plugin whose resources or parameters are local paths checks them against
        ``context.paths`` (see ``plugins.access.check_path``). The default allows all.

        Raises:
            Forbidden: saying what was refused, and for whom.
        """

    def per_resource_parameters(
        self, operation: OperationType, resources: Sequence[Resource], shared: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Parameters each of ``resources`` takes from ``shared``, the raw parameters given
        for their whole type, when they should differ per resource; keyed by resource key.

        ``resources`` are every resource of one type in the operation's graph. A
        resource's own parameters (``parameters["type#id"]``) still override what this
        returns. By default nothing: every resource takes ``shared`` as it is. (The
        directory plugin gives each of several roots its own subdirectory of a shared
        restore ``target``.)
        """
        return {}

    async def check_restore(
        self, checkpoint: Checkpoint, planned: Sequence[tuple[Resource, msgspec.Struct]]
    ) -> None:
        """Refuse a restore before any of its resources is released (no-op by default).

        The operation's pre calls it once per plugin with every resource of the graph the
        plugin restores and its validated restore parameters, before any activity runs:
        raise to refuse the whole restore, so that nothing is written for any resource
        (a target that clashes, a key that is missing). A restore activity must still
        check what it relies on; this check only spares a half-done restore.

        Raises:
            PluginError: why the restore cannot be done; a ``resource_key`` attribute, if
                the error has one, names the resource at fault.
        """

    def activity(self, operation: OperationType, phase: Phase) -> Activity | None:
        """The bound activity method, or None when the plugin does not implement it."""
        method: Activity | None = getattr(self, f"activity_{operation}_{phase}", None)
        return method

    def abort_activity(self, operation: OperationType) -> Activity | None:
        """``activity_<operation>_abort``, the undoing of a finished pre whose post never
        ran (the operation failed or was cancelled), or None when not implemented."""
        method: Activity | None = getattr(self, f"activity_{operation}_abort", None)
        return method

    async def setup(self) -> None:
        """Open clients before the first activity (no-op by default)."""

    async def close(self) -> None:
        """Release clients (no-op by default)."""


def _positive_float(config: Mapping[str, str], key: str, default: float | None) -> float | None:
    raw = config.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidPluginOption(key, f"{raw!r} is not a number") from None
    if value <= 0:
        raise InvalidPluginOption(key, f"{raw!r} must be positive")
    return value


__all__ = [
    "ANY_TYPE",
    "OPERATIONS",
    "PHASES",
    "Activity",
    "Checkpoint",
    "NoParameters",
    "OperationType",
    "Phase",
    "PluginOptions",
    "ProtectablePlugin",
    "ProtectionPlugin",
]
