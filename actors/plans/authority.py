"""With whose rights a plan's own requests act: its owner's, checked again each time.

A scheduled slot (and a retention delete) has no client behind it. It acts as the
plan's owner, the identity recorded when the plan was created, and the worker checks that
identity against its policy at every slot exactly as it would check a request the owner
published (operation, provider, paths): a right withdrawn from the owner stops the plan's
next slot (skipped, with the refusal as its reason). The service layer supplies the check
(``actors.service.plan_authority``); embedded, the local user may do anything but touch
the bank's own storage, as for every embedded command.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from actors.plans.plan import Plan
from actors.wire.requests import EngineRequest
from plugins.access import UNRESTRICTED, PathGrant, ProjectGrant


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """What a plan's request may do: as whom, with which paths, for which project."""

    user_id: str | None = None
    paths: PathGrant = UNRESTRICTED
    project: ProjectGrant | None = None
    trust_id: str | None = None  # a Keystone trust the owner gave (plan.KeystoneOwner)


# Raises Forbidden (plugins.errors) naming what the owner may not do.
Authority = Callable[[Plan, EngineRequest], Grant]


def local_authority(plan: Plan, request: EngineRequest) -> Grant:
    """The embedded worker's: the owner, anywhere but the bank (the engine adds that)."""
    return Grant(user_id=plan.owner.user_id)
