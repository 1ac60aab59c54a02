"""A plan made with a Keystone token belongs to that token's project as well as to its
broker user: another project's token is refused even behind the same broker user, a
role granting cross_project is not, and the policy judges slots on the recorded roles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actors.plans.access import Requester, check_access, may_access
from actors.plans.plan import KeystoneOwner, Plan, PlanOwner
from actors.service.plan_authority import recorded
from actors.wire.requests import ResourceRef
from plugins.access import ProjectGrant
from plugins.errors import Forbidden

NOW = datetime(2026, 12, 6, tzinfo=UTC)
KEYSTONE = KeystoneOwner(user_id="u-demo", user_name="demo", project_id="p-demo",
                         project_name="demo", roles=["member", "reader"], trust_id="t-1")


def plan(keystone: KeystoneOwner | None = KEYSTONE) -> Plan:
    return Plan(id="plan-1", name="nightly", provider_id="openstack",
                resources=[ResourceRef("OS::Glance::Image", "img-1")],
                owner=PlanOwner(user_id="guest", project_id="p-demo", keystone=keystone),
                created_at=NOW, updated_at=NOW, schedule_since=NOW)


def grant(project: str, *, cross: bool = False) -> ProjectGrant:
    return ProjectGrant(project_id=project, token_project_id=project, cross_project=cross)


def test_a_token_of_another_project_is_refused_behind_the_same_broker_user() -> None:
    other = Requester(user_id="guest", project=grant("p-other"))
    assert not may_access(plan(), other)
    with pytest.raises(Forbidden) as refused:
        check_access(plan(), other, "delete")
    assert "user 'guest' of project p-other: it belongs to guest, keystone:demo" in \
        str(refused.value)


def test_the_creators_project_and_a_cross_project_role_may() -> None:
    assert may_access(plan(), Requester(user_id="guest", project=grant("p-demo")))
    assert may_access(plan(), Requester(user_id="guest", project=grant("p-other", cross=True)))


def test_another_broker_user_is_refused_whatever_its_project() -> None:
    assert not may_access(plan(), Requester(user_id="mallory", project=grant("p-demo")))


def test_a_plan_without_keystone_is_the_broker_users_alone() -> None:
    assert may_access(plan(keystone=None), Requester(user_id="guest", project=grant("p-x")))


def test_slots_are_judged_on_the_roles_the_plan_recorded() -> None:
    token = recorded(KEYSTONE)
    assert token.roles == frozenset({"member", "reader"}) and token.project_id == "p-demo"
    assert token.identity == "keystone:demo@demo"
