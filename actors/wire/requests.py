"""Operation requests: what a user (or any AMQP client) asks for, as JSON.

The ``request_id`` is chosen by the client for idempotency and becomes the operation id;
when omitted one is generated.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

import msgspec

from actors.errors import RequestInvalid
from actors.wire.limits import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    MAX_PARAMETER_KEYS,
    MAX_RESOURCES,
    OperationId,
    ParameterKey,
    ProjectId,
    ProviderId,
    ResourceId,
    ResourceType,
    check_id,
    check_parameters,
    check_provider,
    check_resource,
    check_value,
)
from actors.wire.plan_fields import PlanRetention, PlanSchedule
from plugins.provider.deadlines import MAX_DEADLINE

REQUEST_VERSION: Final = 1


def _new_id() -> str:
    return str(uuid.uuid4())


class ResourceRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A resource named by type and id."""

    type: ResourceType
    id: ResourceId

    @property
    def key(self) -> str:
        """``type#id``."""
        return f"{self.type}#{self.id}"


Parameters = dict[str, dict[str, Any]]
# what a request may carry: at most MAX_PARAMETER_KEYS keys, each a type or "type#id"
RequestParameters = Annotated[dict[ParameterKey, dict[str, Any]],
                              msgspec.Meta(max_length=MAX_PARAMETER_KEYS)]

# Seconds the operation may run from its submission, at most a week; past it the operation
# is cancelled with reason "deadline exceeded". None: the provider's, else the default.
Deadline = Annotated[float, msgspec.Meta(ge=1.0, le=MAX_DEADLINE)]


class Request(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind",
              forbid_unknown_fields=True):
    """The header every request carries."""

    v: int = REQUEST_VERSION
    request_id: OperationId = msgspec.field(default_factory=_new_id)
    project_id: ProjectId | None = None


class ProtectRequest(Request, frozen=True, kw_only=True, tag="protect"):
    """Protect ``resources`` (and everything they depend on) into a new checkpoint."""

    provider_id: ProviderId | None = None
    resources: Annotated[list[ResourceRef], msgspec.Meta(max_length=MAX_RESOURCES)]
    parameters: RequestParameters = msgspec.field(default_factory=dict)
    checkpoint_id: OperationId | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    deadline: Deadline | None = None
    # the plan this protect runs for (a scheduled slot, or ``protect --plan``); set by the
    # worker that read the plan, refused from a client (``check_request``)
    plan_id: OperationId | None = None


class RestoreRequest(Request, frozen=True, kw_only=True, tag="restore"):
    """Restore every resource of a checkpoint."""

    checkpoint_id: OperationId
    provider_id: ProviderId | None = None
    parameters: RequestParameters = msgspec.field(default_factory=dict)
    deadline: Deadline | None = None


class DeleteRequest(Request, frozen=True, kw_only=True, tag="delete"):
    """Delete a checkpoint and what its plugins created for it."""

    checkpoint_id: OperationId
    provider_id: ProviderId | None = None
    deadline: Deadline | None = None


class VerifyRequest(Request, frozen=True, kw_only=True, tag="verify"):
    """Check that a checkpoint's objects exist and a random ``sample`` of its chunks is intact."""

    # intact: decrypts and matches its hash. The checkpoint's status is left as it is.

    checkpoint_id: OperationId
    provider_id: ProviderId | None = None
    sample: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0
    seed: int | None = None  # the same seed reads the same sample
    deadline: Deadline | None = None


class CancelRequest(Request, frozen=True, kw_only=True, tag="cancel"):
    """Stop a running operation; its checkpoint ends ``error`` with reason ``cancelled``."""

    operation_id: OperationId


# A plan's name, or its id (a UUID) where a request names an existing plan.
PlanName = Annotated[str, msgspec.Meta(
    pattern=ID_PATTERN, max_length=MAX_ID_LENGTH,
    description="letters, digits, '_' and '-', starting with a letter or digit; at most 128")]


class PlanCreateRequest(Request, frozen=True, kw_only=True, tag="plan_create"):
    """Store a new plan: ``resources`` protected on ``schedule``, thinned by ``retention``.

    Checked as a protect of the same resources and parameters would be (every resource
    resolves, every parameter fits its plugin's schema), and the schedule and retention
    policy are checked too; the plan is stored only if all of it passes. ``project_id``
    is the project it belongs to (a Keystone token's, where one is needed).
    """

    name: PlanName
    provider_id: ProviderId | None = None
    resources: Annotated[list[ResourceRef], msgspec.Meta(max_length=MAX_RESOURCES)]
    parameters: RequestParameters = msgspec.field(default_factory=dict)
    schedule: PlanSchedule | None = None
    retention: PlanRetention | None = None
    deadline: Deadline | None = None  # of each protect the plan runs


class PlanUpdateRequest(Request, frozen=True, kw_only=True, tag="plan_update"):
    """Change the fields given of a plan (named by name or id); ``schedule`` or
    ``retention`` null removes it. Checked as a creation is."""

    plan: PlanName
    provider_id: ProviderId | None = None  # where to look for it (default: every provider)
    name: PlanName | msgspec.UnsetType = msgspec.UNSET
    resources: Annotated[list[ResourceRef], msgspec.Meta(max_length=MAX_RESOURCES)] | \
        msgspec.UnsetType = msgspec.UNSET
    parameters: RequestParameters | msgspec.UnsetType = msgspec.UNSET
    schedule: PlanSchedule | msgspec.UnsetType | None = msgspec.UNSET
    retention: PlanRetention | msgspec.UnsetType | None = msgspec.UNSET
    deadline: Deadline | msgspec.UnsetType | None = msgspec.UNSET


class PlanDeleteRequest(Request, frozen=True, kw_only=True, tag="plan_delete"):
    """Remove a plan (its checkpoints stay, with their ``plan_id``)."""

    plan: PlanName
    provider_id: ProviderId | None = None


class PlanRunRequest(Request, frozen=True, kw_only=True, tag="plan_run"):
    """Run a plan once now: a protect of its resources, the operation id being this
    request's ``request_id``."""

    plan: PlanName
    provider_id: ProviderId | None = None


EngineRequest = ProtectRequest | RestoreRequest | DeleteRequest | VerifyRequest | CancelRequest
PlanRequest = PlanCreateRequest | PlanUpdateRequest | PlanDeleteRequest | PlanRunRequest
AnyRequest = EngineRequest | PlanRequest
PLAN_REQUESTS: Final = (PlanCreateRequest, PlanUpdateRequest, PlanDeleteRequest, PlanRunRequest)

_decoder = msgspec.json.Decoder(AnyRequest)


def decode_request(raw: bytes) -> AnyRequest:
    """Decode and check a JSON request.

    Raises:
        RequestInvalid: naming the field at fault, for malformed JSON, an unknown kind,
            a wrong version or a missing field.
    """
    try:
        request: AnyRequest = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise RequestInvalid(f"request does not match its schema: {error}") from error
    except msgspec.DecodeError as error:
        raise RequestInvalid(f"request is not valid JSON: {error}") from error
    except RecursionError:  # msgspec recurses per nesting level: [[[[... a million deep
        raise RequestInvalid("request is nested too deeply to decode") from None
    if request.v != REQUEST_VERSION:
        raise RequestInvalid(f"request version {request.v} is not supported "
                             f"(this worker speaks v{REQUEST_VERSION})")
    if isinstance(request, ProtectRequest | PlanCreateRequest) and not request.resources:
        raise RequestInvalid(f"{type(request).__struct_config__.tag} request selects no "
                             f"resources (field 'resources')")
    if isinstance(request, PlanUpdateRequest) and request.resources == []:
        raise RequestInvalid("plan_update request selects no resources (field 'resources')")
    if isinstance(request, ProtectRequest) and request.plan_id is not None:
        # only a worker reading the plan may say a protect runs for it
        raise RequestInvalid("field 'plan_id': set by the workers; run a plan with a "
                             "plan_run request")
    check_request(request)
    return request


def check_request(request: AnyRequest) -> None:
    """Check the limits the schema cannot express (``actors.wire.limits``).

    Raises:
        RequestInvalid: naming the field at fault.
    """
    check_id("request_id", request.request_id)
    check_provider("project_id", request.project_id)
    if isinstance(request, CancelRequest):
        check_id("operation_id", request.operation_id)
        return
    check_provider("provider_id", request.provider_id)
    if isinstance(request, PLAN_REQUESTS):
        _check_plan_request(request)
        return
    check_id("checkpoint_id", request.checkpoint_id)
    if isinstance(request, ProtectRequest):
        for index, ref in enumerate(request.resources):
            check_resource(f"resources[{index}]", ref.type, ref.id)
        check_value("extra", request.extra)
    if isinstance(request, ProtectRequest | RestoreRequest):
        check_parameters("parameters", request.parameters)


def _check_plan_request(request: PlanRequest) -> None:
    if not isinstance(request, PlanCreateRequest):
        check_id("plan", request.plan)
    name = request.name if isinstance(request, PlanCreateRequest | PlanUpdateRequest) \
        else msgspec.UNSET
    if isinstance(name, str):
        check_id("name", name)
    if isinstance(request, PlanCreateRequest | PlanUpdateRequest):
        if isinstance(request.resources, list):
            for index, ref in enumerate(request.resources):
                check_resource(f"resources[{index}]", ref.type, ref.id)
        if isinstance(request.parameters, dict):
            check_parameters("parameters", request.parameters)
