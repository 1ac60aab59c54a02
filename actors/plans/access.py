"""Who may see and change a plan: tenant scoping, as for checkpoints (docs/security.md).

A plan belongs to the identity that created it. A request from the queue carries the
broker user the broker vouched for; it may read, change, run or delete only plans that
user created, and plan names are unique per user (the tenant). A command run without a
broker (``strongbox plans ...`` embedded) already holds the bank's rights, so it sees
every plan, as it sees every checkpoint.

A plan on a provider whose requests need a Keystone token is created with one: its
owner is also that token's Keystone identity, and its slots act through a trust the
creator gave (``plan.KeystoneOwner``).
"""

from __future__ import annotations

import msgspec

from actors.plans.plan import KeystoneOwner, Plan, PlanOwner
from plugins.access import UNRESTRICTED, PathGrant, ProjectGrant
from plugins.errors import Forbidden

LOCAL_TENANT = "local"


class Requester(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks for a plan change: the identity, where it may read (for the protect
    checks), and whether it is the local user of an embedded command."""

    user_id: str | None = None
    project_id: str | None = None
    paths: PathGrant = UNRESTRICTED
    local: bool = False
    keystone: KeystoneOwner | None = None
    # the cloud project a Keystone token established (its requests to a plan made with one)
    project: ProjectGrant | None = None

    @property
    def owner(self) -> PlanOwner:
        """The owner a plan this requester creates records."""
        return PlanOwner(user_id=None if self.local else self.user_id,
                         project_id=self.project_id, keystone=self.keystone)


LOCAL: Requester = Requester(local=True)


def tenant_of(owner: PlanOwner) -> str:
    """The scope a plan's name is unique in: its owner's broker user, else local."""
    return f"user:{owner.user_id}" if owner.user_id else LOCAL_TENANT


def may_access(plan: Plan, requester: Requester) -> bool:
    """Whether ``requester`` may see ``plan`` at all.

    A plan made with a Keystone token belongs to that token's project too: a request
    about it must come with a token of the same project (or a role granting
    ``cross_project``). Without a project yet (before the token was checked) only the
    broker user is compared; the intake checks again once it has the token's word.
    """
    if requester.local:
        return True
    if plan.owner.user_id != requester.user_id:
        return False
    keystone, project = plan.owner.keystone, requester.project
    if keystone is None or project is None:
        return True
    return project.cross_project or project.project_id == keystone.project_id


def check_access(plan: Plan, requester: Requester, action: str) -> None:
    """Refuse ``action`` on a plan another identity owns.

    Raises:
        Forbidden: naming the plan, the action and who owns it.
    """
    if may_access(plan, requester):
        return
    who = f"user {requester.user_id!r}"
    if requester.project is not None:
        who += f" of project {requester.project.project_id}"
    raise Forbidden(f"{action} of plan {plan.name!r} ({plan.id}) for {who}: it belongs to "
                    f"{plan.owner.label}")
