"""Who may ask this worker for what: the identity of a request against the policy.

The identity is the broker user that published the request, as RabbitMQ vouches for it
through the message's ``user_id`` property (the broker refuses a ``user_id`` that is not
the publishing connection's own user). Without a policy file a worker serves a
single-user install: only its own broker user (and messages carrying no identity, which
in such an install can only come from that user's clients) may ask, for anything, with
restores kept out of the system trees and the bank. With a policy, a request without an
identity, or from an identity the policy does not name, is refused, and so is every
operation, provider and path the identity's rule does not grant.
"""

from __future__ import annotations

from typing import Final

import msgspec

from actors.service.keystone import TOKEN_HEADER, TokenInfo
from actors.service.policy import Policy
from actors.wire.requests import (
    PLAN_REQUESTS,
    AnyRequest,
    CancelRequest,
    PlanCreateRequest,
    ProtectRequest,
)
from plugins.access import PathGrant, ProjectGrant
from plugins.errors import Forbidden

SINGLE_USER: Final = "single-user"
OPERATION_OF: Final[dict[str, str]] = {
    "protect": "protect", "restore": "restore", "delete": "delete", "verify": "verify",
    "cancel": "cancel", "plan_create": "plan", "plan_update": "plan", "plan_delete": "plan",
    "plan_run": "protect",
}


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A request allowed: on whose behalf, with which paths, for which cloud project."""

    user_id: str | None
    paths: PathGrant
    project: ProjectGrant | None = None
    token_identity: str | None = None  # the Keystone user and project, for the audit


class Authorizer:
    """Decides each request from the queue; ``policy`` None is the single-user mode."""

    def __init__(self, policy: Policy | None, *, own_user: str) -> None:
        self.policy = policy
        self.own_user = own_user

    @property
    def mode(self) -> str:
        """``single-user`` or the policy file's path, as the worker's start log says."""
        return SINGLE_USER if self.policy is None else self.policy.path

    def needs_token(self, provider: tuple[str, str] | None) -> bool:
        """Whether a request to ``provider`` must carry a Keystone token."""
        return self.policy is not None and provider is not None and \
            self.policy.needs_token(*provider)

    def decide(self, request: AnyRequest, user_id: str | None, *,
               provider: tuple[str, str] | None, token: TokenInfo | None = None) -> Decision:
        """Allow ``request`` from ``user_id`` on ``provider`` (id, name), or refuse it.

        ``token`` is what Keystone said of the request's token (``needs_token``).

        Raises:
            Forbidden: saying what was refused, and for whom.
        """
        return self.decide_operation(OPERATION_OF[request_kind(request)], request, user_id,
                                     provider=provider, token=token)

    def decide_operation(self, operation: str, request: AnyRequest, user_id: str | None, *,
                         provider: tuple[str, str] | None,
                         token: TokenInfo | None = None) -> Decision:
        """:meth:`decide` for a named right (``protect``, ``plan``...) rather than the
        request's own: a plan's creation asks for ``plan`` and ``protect``.

        Raises:
            Forbidden: saying what was refused, and for whom.
        """
        if self.policy is None:
            return self._single_user(operation, user_id)
        decision = self._broker_user(operation, user_id, provider)
        if not self.needs_token(provider):
            return decision
        assert provider is not None  # needs_token says so
        return self._keystone(request, operation, provider, token, decision)

    def _broker_user(self, operation: str, user_id: str | None,
                     provider: tuple[str, str] | None) -> Decision:
        assert self.policy is not None
        if user_id is None:
            raise Forbidden(f"{operation} by an unidentified publisher: this worker has a "
                            f"policy and serves only requests whose user_id the broker "
                            f"vouched for")
        rule = self.policy.rule_for(user_id)
        if rule is None:
            raise Forbidden(f"{operation} for user {user_id!r}: the policy grants that user "
                            f"nothing")
        if not rule.may(operation):
            granted = ", ".join(sorted(rule.operations)) or "nothing"
            raise Forbidden(f"{operation} for user {user_id!r}: not granted "
                            f"(granted: {granted})")
        if provider is not None and not rule.may_use_provider(*provider):
            raise Forbidden(f"{operation} on provider {provider[1]!r} for user {user_id!r}: "
                            f"provider not granted")
        return Decision(user_id=user_id, paths=PathGrant(
            protect_roots=rule.protect_roots, restore_targets=rule.restore_targets,
            system_paths_refused=True, holder=f"user {user_id!r}"))

    def _keystone(self, request: AnyRequest, operation: str, provider: tuple[str, str],
                  token: TokenInfo | None, decision: Decision) -> Decision:
        """The token's roles must grant the operation on the provider, for its project."""
        assert self.policy is not None
        if token is None:
            raise Forbidden(f"{operation} on provider {provider[1]!r}: it needs a Keystone "
                            f"token (AMQP header {TOKEN_HEADER})")
        rules = [self.policy.roles[r] for r in sorted(token.roles) if r in self.policy.roles]
        who = token.identity
        if not any(rule.may(operation) for rule in rules):
            raise Forbidden(f"{operation} for {who}: no role of the token grants it (roles: "
                            f"{', '.join(sorted(token.roles)) or 'none'})")
        if not any(rule.may(operation) and rule.may_use_provider(*provider) for rule in rules):
            raise Forbidden(f"{operation} on provider {provider[1]!r} for {who}: provider not "
                            f"granted")
        cross = any(rule.cross_project for rule in rules)
        project = request.project_id or token.project_id
        if project != token.project_id and not cross:
            raise Forbidden(f"{operation} for {who}: project_id {project} is not the token's "
                            f"project {token.project_id}")
        return msgspec.structs.replace(decision, token_identity=who, project=ProjectGrant(
            project_id=project, token_project_id=token.project_id, cross_project=cross,
            holder=who))

    def _single_user(self, operation: str, user_id: str | None) -> Decision:
        if user_id is not None and user_id != self.own_user:
            raise Forbidden(f"{operation} for user {user_id!r}: this worker has no policy "
                            f"and serves only its own broker user {self.own_user!r}")
        return Decision(user_id=user_id or self.own_user, paths=PathGrant(
            system_paths_refused=True, holder=f"user {user_id or self.own_user!r}"))


def request_kind(request: AnyRequest) -> str:
    """The request's ``kind`` tag: protect, restore, delete, verify, cancel, plan_...."""
    return str(type(request).__struct_config__.tag)


def request_subject(request: AnyRequest, limit: int = 20) -> list[str]:
    """What the request acts on, for audit records: resource keys, a checkpoint or an
    operation, at most ``limit`` names (a protect of 100k resources is summarised)."""
    if isinstance(request, PlanCreateRequest):
        return [f"plan {request.name}"]
    if isinstance(request, PLAN_REQUESTS):
        return [f"plan {request.plan}"]
    if isinstance(request, ProtectRequest):
        keys = [ref.key for ref in request.resources[:limit]]
        more = len(request.resources) - limit
        return keys + ([f"... and {more} more"] if more > 0 else [])
    if isinstance(request, CancelRequest):
        return [f"operation {request.operation_id}"]
    return [f"checkpoint {request.checkpoint_id}"]
