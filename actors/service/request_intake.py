"""Carrying out requests from the request queue: decode, authorize, submit, or set aside.

A request that cannot be carried out (malformed JSON, an unknown kind, a wrong version,
an unknown resource type, bad parameters, too large) is rejected; one its publisher may
not make (``actors.service.authorization``, or a plugin refusing a path) is refused with
a reason that starts ``forbidden:``. Either way the transport moves it to the
rejected-requests queue with the reason in its headers, a ``RequestRejected`` event
tells subscribers, and nothing is written to a bank. A request that fails for a reason
that may pass (its bank is unreachable) is delivered again later instead, at most
``max_attempts`` times on one worker; then it is rejected with that reason. A request
naming an operation that exists (a client publishing again) starts nothing: it is acked
and a ``RequestDuplicate`` event says so.

Every accepted and every refused request is one ``request_audit`` log record and one
event (``RequestAccepted`` or ``RequestRejected``) naming the identity, the operation and
what it acts on. The worker keeps serving whatever arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.operations.engine import Admission
from actors.service.authorization import (
    Authorizer,
    Decision,
    request_kind,
    request_subject,
)
from actors.service.keystone import TRUST_LIFETIME, KeystoneValidator, TokenInfo
from actors.service.plan_intake import PlanOutcome, PlanRequests
from actors.transport.base import IncomingRequest, RequestVerdict
from actors.wire.events import PlanChanged, RequestAccepted, RequestDuplicate, RequestRejected
from actors.wire.requests import (
    PLAN_REQUESTS,
    AnyRequest,
    CancelRequest,
    EngineRequest,
    decode_request,
)
from banks import metrics
from banks.errors import BankError
from plugins.errors import Forbidden, PluginError

if TYPE_CHECKING:
    from actors.operations.engine import Engine

log = structlog.get_logger(__name__)

# Requests name resources and parameters; a megabyte is thousands of resources. Anything
# larger is a mistake or an attack, and is refused before it is parsed.
MAX_REQUEST_BYTES = 1 << 20
# a bank or broker outage of about half a minute (RETRY_DELAY apart) is waited out; a
# request that still cannot be carried out is set aside rather than looping for ever
# below the request queue's delivery limit (20): the intake gives up, with an event, first
MAX_REQUEST_ATTEMPTS = 15
JSON_CONTENT_TYPES = frozenset({"application/json", "text/json"})
UNKNOWN_REQUEST = "unknown-request"
FORBIDDEN = "forbidden"


class RequestIntake:
    """The request queue's handler for one worker's engine."""

    def __init__(self, engine: Engine, *, max_bytes: int = MAX_REQUEST_BYTES,
                 authorizer: Authorizer | None = None,
                 keystone: KeystoneValidator | None = None,
                 max_attempts: int = MAX_REQUEST_ATTEMPTS,
                 plans: PlanRequests | None = None) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self.max_attempts = max_attempts
        self.authorizer = authorizer or Authorizer(None, own_user="guest")
        self.keystone = keystone
        self.plans = plans or PlanRequests(engine, self.authorizer, keystone=keystone)
        self.accepted = 0
        self.rejected = 0
        self.duplicates = 0

    async def __call__(self, incoming: IncomingRequest) -> RequestVerdict:
        """Carry out one request; say whether it was accepted, rejected or is to retry."""
        body, user_id = incoming.body, incoming.user_id
        if len(body) > self.max_bytes:
            return await self._reject(incoming.message_id, user_id, None,
                                      f"request is {len(body)} bytes; "
                                      f"the limit is {self.max_bytes}", category="too_large")
        content_type = (incoming.content_type or "").split(";")[0].strip().lower()
        if content_type and content_type not in JSON_CONTENT_TYPES:
            return await self._reject(_request_id_of(body) or incoming.message_id, user_id,
                                      None, f"content type {content_type[:100]!r} is not "
                                      f"application/json", category="content_type")
        try:
            request = decode_request(body)
        except StrongboxError as error:
            return await self._reject(_request_id_of(body) or incoming.message_id, user_id,
                                      None, str(error), category="undecodable")
        try:
            return await self._carry_out(request, incoming)
        except Exception as error:  # a bug: set the request aside with a reason, say so
            log.exception("request_intake_failed", request_id=request.request_id)
            return await self._reject(request.request_id, user_id, request,
                                      f"internal error: {type(error).__name__}: {error}",
                                      category="internal_error")

    async def _carry_out(self, request: AnyRequest,
                         incoming: IncomingRequest) -> RequestVerdict:
        user_id = incoming.user_id
        outcome: PlanOutcome | None = None
        try:
            if isinstance(request, PLAN_REQUESTS):
                outcome = await self.plans.carry_out(request, user_id,
                                                     auth_token=incoming.auth_token)
            else:
                provider = self._provider_of(request)
                token = None
                if self.authorizer.needs_token(provider) and incoming.auth_token:
                    if self.keystone is None:
                        raise Forbidden("this worker has no Keystone validator")
                    token = await self.keystone.validate(incoming.auth_token)
                decision = self.authorizer.decide(request, user_id, provider=provider,
                                                  token=token)
                admitted = await self._admit(request, decision, incoming.auth_token, token)
        except Forbidden as error:
            return await self._reject(request.request_id, user_id, request,
                                      f"{FORBIDDEN}: {error}", category=FORBIDDEN)
        except (StrongboxError, PluginError, BankError) as error:
            reason = f"{type(error).__name__}: {error}"
            if not getattr(error, "retryable", False):
                return await self._reject(request.request_id, user_id, request, reason,
                                          category=type(error).__name__)
            if incoming.attempt >= self.max_attempts:
                return await self._reject(request.request_id, user_id, request,
                                          f"gave up after {incoming.attempt} attempts: "
                                          f"{reason}", category="gave_up")
            return self._retry(request, reason, incoming.attempt)
        if outcome is not None:
            return await self._plan_done(request, outcome)
        return await self._accepted(request, decision, admitted)

    async def _plan_done(self, request: AnyRequest, outcome: PlanOutcome) -> RequestVerdict:
        """A plan request carried out: a run is audited as a protect's admission; a change
        is audited and announced with ``PlanChanged``."""
        if outcome.admission is not None:
            return await self._accepted(request, outcome.decision, outcome.admission)
        verdict = await self._accepted(request, outcome.decision,
                                       Admission(request.request_id))
        action = outcome.action
        assert action != "run"
        await self.engine.host.transport.publish(PlanChanged(
            operation_id=request.request_id, request_id=request.request_id,
            plan_id=outcome.plan.id, plan_name=outcome.plan.name, action=action,
            user_id=outcome.decision.user_id, worker=self.engine.host.worker_id))
        return verdict

    async def _accepted(self, request: AnyRequest, decision: Decision,
                        admitted: Admission) -> RequestVerdict:
        kind, subject = request_kind(request), request_subject(request)
        operation_id = admitted.operation_id
        if admitted.duplicate is not None:
            self.duplicates += 1
            metrics.REQUESTS.labels(kind, "duplicate").inc()
            log.info("request_audit", outcome="duplicate", request_id=request.request_id,
                     operation_id=operation_id, user_id=decision.user_id, kind=kind,
                     subject=subject, reason=admitted.duplicate)
            await self.engine.host.transport.publish(RequestDuplicate(
                operation_id=operation_id, request_id=request.request_id,
                reason=admitted.duplicate, user_id=decision.user_id, request_kind=kind,
                subject=subject))
            return RequestVerdict(accepted=True)
        self.accepted += 1
        metrics.REQUESTS.labels(kind, "accepted").inc()
        log.info("request_audit", outcome="accepted", request_id=request.request_id,
                 operation_id=operation_id, user_id=decision.user_id, kind=kind,
                 subject=subject, keystone=decision.token_identity,
                 project_id=decision.project.project_id if decision.project else None)
        await self.engine.host.transport.publish(RequestAccepted(
            operation_id=operation_id, request_id=request.request_id,
            user_id=decision.user_id, request_kind=kind, subject=subject,
            keystone=decision.token_identity,
            project_id=decision.project.project_id if decision.project else None))
        return RequestVerdict(accepted=True)

    async def _admit(self, request: EngineRequest, decision: Decision,
                     auth_token: str | None,
                     token: TokenInfo | None) -> Admission:
        """Start the operation; one a token authorized acts through a trust of its user."""
        trust_id = None
        if (token is not None and auth_token and self.keystone is not None
                and not isinstance(request, CancelRequest)):
            trust_id = await self.keystone.create_trust(auth_token, token,
                                                        lifetime=TRUST_LIFETIME)
        try:
            admitted = await self.engine.admit(request, user_id=decision.user_id,
                                               paths=decision.paths, project=decision.project,
                                               trust_id=trust_id)
        except BaseException:
            if trust_id is not None and self.keystone is not None:
                await self.keystone.delete_trust(trust_id)
            raise
        if admitted.duplicate is not None and trust_id is not None and self.keystone:
            await self.keystone.delete_trust(trust_id)  # the running operation has its own
        return admitted

    def _provider_of(self, request: EngineRequest) -> tuple[str, str] | None:
        """The (id, name) of the provider a request names (the default if none)."""
        if isinstance(request, CancelRequest):
            return None
        provider = self.engine.provider(request.provider_id)  # ProviderNotFound: rejected
        return provider.id, provider.name

    def _retry(self, request: AnyRequest, reason: str, attempt: int) -> RequestVerdict:
        metrics.REQUESTS.labels(request_kind(request), "retried").inc()
        log.warning("request_retry", request_id=request.request_id, reason=reason,
                    attempt=attempt, max_attempts=self.max_attempts)
        return RequestVerdict(accepted=False, reason=reason, retry=True)

    async def _reject(self, request_id: str | None, user_id: str | None,
                      request: AnyRequest | None, reason: str, *,
                      category: str) -> RequestVerdict:
        """Set a request aside; ``category`` is the reason's bounded name for metrics."""
        self.rejected += 1
        kind = request_kind(request) if request is not None else None
        subject = request_subject(request) if request is not None else []
        outcome = "refused" if reason.startswith(FORBIDDEN) else "rejected"
        metrics.REQUESTS.labels(metrics.label(kind), outcome).inc()
        metrics.REQUESTS_REJECTED.labels(category).inc()
        log.warning("request_audit", outcome=outcome, request_id=request_id, user_id=user_id,
                    kind=kind, subject=subject, reason=reason)
        await self.engine.host.transport.publish(RequestRejected(
            operation_id=request_id or UNKNOWN_REQUEST, request_id=request_id, reason=reason,
            user_id=user_id, request_kind=kind, subject=subject))
        return RequestVerdict(accepted=False, reason=reason)


def _request_id_of(body: bytes) -> str | None:
    """The request id of a request that failed validation, when it has a readable one."""
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    found = raw.get("request_id") if isinstance(raw, dict) else None
    # a readable one: short, and printable (it goes into a log line and an event)
    if isinstance(found, str) and len(found) <= 200 and found.isprintable():
        return found
    return None
