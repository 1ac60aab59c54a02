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

from actors.service.policy import Policy
from actors.wire.requests import AnyRequest, CancelRequest, ProtectRequest
from plugins.access import PathGrant
from plugins.errors import Forbidden

SINGLE_USER: Final = "single-user"
OPERATION_OF: Final[dict[str, str]] = {
    "protect": "protect", "restore": "restore", "delete": "delete", "verify": "verify",
    "cancel": "cancel",
}


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A request allowed: on whose behalf, and with which paths."""

    user_id: str | None
    paths: PathGrant


class Authorizer:
    """Decides each request from the queue; ``policy`` None is the single-user mode."""

    def __init__(self, policy: Policy | None, *, own_user: str) -> None:
        self.policy = policy
        self.own_user = own_user

    @property
    def mode(self) -> str:
        """``single-user`` or the policy file's path, as the worker's start log says."""
        return SINGLE_USER if self.policy is None else self.policy.path

    def decide(self, request: AnyRequest, user_id: str | None, *,
               provider: tuple[str, str] | None) -> Decision:
        """Allow ``request`` from ``user_id`` on ``provider`` (id, name), or refuse it.

        Raises:
            Forbidden: saying what was refused, and for whom.
        """
        operation = OPERATION_OF[request_kind(request)]
        if self.policy is None:
            return self._single_user(operation, user_id)
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

    def _single_user(self, operation: str, user_id: str | None) -> Decision:
        if user_id is not None and user_id != self.own_user:
            raise Forbidden(f"{operation} for user {user_id!r}: this worker has no policy "
                            f"and serves only its own broker user {self.own_user!r}")
        return Decision(user_id=user_id or self.own_user, paths=PathGrant(
            system_paths_refused=True, holder=f"user {user_id or self.own_user!r}"))


def request_kind(request: AnyRequest) -> str:
    """The request's ``kind`` tag: protect, restore, delete, verify or cancel."""
    return str(type(request).__struct_config__.tag)


def request_subject(request: AnyRequest, limit: int = 20) -> list[str]:
    """What the request acts on, for audit records: resource keys, a checkpoint or an
    operation, at most ``limit`` names (a protect of 100k resources is summarised)."""
    if isinstance(request, ProtectRequest):
        keys = [ref.key for ref in request.resources[:limit]]
        more = len(request.resources) - limit
        return keys + ([f"... and {more} more"] if more > 0 else [])
    if isinstance(request, CancelRequest):
        return [f"operation {request.operation_id}"]
    return [f"checkpoint {request.checkpoint_id}"]
