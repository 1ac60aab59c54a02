"""Who may see and change a plan: tenant scoping, as for checkpoints (docs/security.md).

A plan belongs to the identity that created it. A request from the queue carries the
broker user the broker vouched for; it may read, change, run or delete only plans that
user created, and plan names are unique per user (the tenant). A command run without a
broker (``strongbox plans ...`` embedded) already holds the bank's rights, so it sees
every plan, as it sees every checkpoint.

Plans on providers whose requests need a Keystone token are refused for now: a
scheduled slot has no token to act with (docs/plans.md, "Not yet").
"""

from __future__ import annotations

import msgspec

from actors.plans.plan import Plan, PlanOwner
from plugins.access import UNRESTRICTED, PathGrant
from plugins.errors import Forbidden

LOCAL_TENANT = "local"


class Requester(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks for a plan change: the identity, where it may read (for the protect
    checks), and whether it is the local user of an embedded command."""

    user_id: str | None = None
    project_id: str | None = None
    paths: PathGrant = UNRESTRICTED
    local: bool = False

    @property
    def owner(self) -> PlanOwner:
        """The owner a plan this requester creates records."""
        return PlanOwner(user_id=None if self.local else self.user_id,
                         project_id=self.project_id)


LOCAL: Requester = Requester(local=True)


def tenant_of(owner: PlanOwner) -> str:
    """The scope a plan's name is unique in: its owner's broker user, else local."""
    return f"user:{owner.user_id}" if owner.user_id else LOCAL_TENANT


def may_access(plan: Plan, requester: Requester) -> bool:
    """Whether ``requester`` may see ``plan`` at all."""
    return requester.local or plan.owner.user_id == requester.user_id


def check_access(plan: Plan, requester: Requester, action: str) -> None:
    """Refuse ``action`` on a plan another identity owns.

    Raises:
        Forbidden: naming the plan, the action and who owns it.
    """
    if may_access(plan, requester):
        return
    raise Forbidden(f"{action} of plan {plan.name!r} ({plan.id}) for user "
                    f"{requester.user_id!r}: it belongs to {plan.owner.label}")
