"""Bad plans, on the queue and at the command line: each refused with an error naming
what was wrong, and nothing stored in the bank."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from actors.cli.main import main
from actors.service.authorization import Authorizer
from actors.service.plan_intake import PlanRequests
from actors.service.policy import read_policy
from actors.service.request_intake import RequestIntake
from actors.transport.base import IncomingRequest
from actors.wire.plan_fields import PlanRetention, PlanSchedule
from actors.wire.requests import (
    PlanCreateRequest,
    PlanDeleteRequest,
    PlanRunRequest,
    PlanUpdateRequest,
    ResourceRef,
)
from banks.keys import decode_segment
from tests.conftest import write_provider
from tests.helpers.plans import DIRECTORY, directory_sections, make_source

POLICY = """
[user alice]
operations = *
providers = *
protect_roots = /
[user bob]
operations = *
providers = *
protect_roots = /
[user carol]
operations = protect, restore
providers = *
protect_roots = /
"""


def intake_for(engine, tmp_path: Path) -> RequestIntake:
    policy = tmp_path / "policy.conf"
    policy.write_text(POLICY)
    authorizer = Authorizer(read_policy(policy), own_user="worker")
    return RequestIntake(engine, authorizer=authorizer,
                         plans=PlanRequests(engine, authorizer))


async def send(intake: RequestIntake, request, user: str = "alice"):
    return await intake(IncomingRequest(msgspec.json.encode(request), user_id=user))


async def stored_plans(engine) -> list[str]:
    bank = await engine.bank(engine.provider())
    return [key async for key in bank.list_all("/plans/")]


def plan(source: Path, **changes) -> PlanCreateRequest:
    fields = {"name": "nightly", "resources": [ResourceRef(DIRECTORY, str(source))],
              "schedule": PlanSchedule(cron="0 2 * * *"), "retention": PlanRetention(last=3)}
    return PlanCreateRequest(**(fields | changes))


@pytest.mark.parametrize(("changes", "reason"), [
    ({"schedule": PlanSchedule(cron="61 * * * *")}, "schedule.cron: '61 * * * *': minute field"),
    ({"schedule": PlanSchedule(rrule="FREQ=FORTNIGHTLY")}, "schedule.rrule: 'FREQ=FORTNIGHTLY'"),
    ({"schedule": PlanSchedule(cron="0 2 * * *", timezone="Europe/Atlantis")},
     "schedule.timezone: 'Europe/Atlantis': not a known IANA time zone"),
    ({"resources": [ResourceRef("Strongbox::Nothing", "/x")]},
     "no protectable plugin for resource type 'Strongbox::Nothing'"),
    ({"resources": [ResourceRef(DIRECTORY, "/no/such/directory")]},
     "Strongbox::Directory#/no/such/directory not found"),
    ({"retention": PlanRetention()}, "retention: keeps nothing"),
    ({"name": "has space"}, "request does not match its schema"),
    ({"parameters": {DIRECTORY: {"no_such_option": 1}}}, "no_such_option"),
])
async def test_a_bad_plan_on_the_queue_is_rejected_naming_the_fault_and_nothing_is_stored(
        engine_for, tmp_path, changes, reason) -> None:
    source = make_source(tmp_path)
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        verdict = await send(intake_for(engine, tmp_path), plan(source, **changes))
        assert not verdict.accepted and not verdict.retry
        assert reason in (verdict.reason or ""), verdict.reason
        assert await stored_plans(engine) == []


async def test_a_duplicate_name_and_another_owners_plan_are_refused_on_the_queue(
        engine_for, tmp_path) -> None:
    source = make_source(tmp_path)
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        intake = intake_for(engine, tmp_path)
        assert (await send(intake, plan(source))).accepted
        stored = await stored_plans(engine)
        assert len(stored) == 1
        again = await send(intake, plan(source))
        assert "a plan named 'nightly' already exists" in (again.reason or "")
        bank = await engine.bank(engine.provider())
        plan_id = decode_segment(stored[0].removeprefix("/plans/").removesuffix(".json"))
        for request in (PlanDeleteRequest(plan=plan_id), PlanRunRequest(plan=plan_id),
                        PlanUpdateRequest(plan=plan_id, name="mine")):
            refused = await send(intake, request, user="bob")
            assert (refused.reason or "").startswith("forbidden: "), refused.reason
            assert "it belongs to alice" in (refused.reason or "")
        by_name = await send(intake, PlanDeleteRequest(plan="nightly"), user="bob")
        assert "plan 'nightly' not found" in (by_name.reason or "")
        assert await stored_plans(engine) == stored
        assert [key async for key in bank.list_all("/operations/")] == []  # nothing ran


async def test_a_plan_needs_the_plan_right_and_the_protect_right(engine_for, tmp_path) -> None:
    source = make_source(tmp_path)
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        verdict = await send(intake_for(engine, tmp_path), plan(source), user="carol")
        assert verdict.reason == ("forbidden: plan for user 'carol': not granted (granted: "
                                  "protect, restore)")
        assert await stored_plans(engine) == []


def listed_plans(providers: Path, capsys) -> list[dict]:
    """What ``strongbox plans list --json`` says the bank holds."""
    capsys.readouterr()
    assert main(["--providers-dir", str(providers), "--json", "plans", "list"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("arguments", "reason"), [
    (["--cron", "not a cron"], "schedule.cron: 'not a cron': 5 fields expected"),
    (["--rrule", "FREQ=HOURLY;BYDAY=XX"], "schedule.rrule:"),
    (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"],
     "schedule.timezone: 'Mars/Olympus': not a known IANA time zone"),
    (["--cron", "0 2 * * *", "--keep-last", "0"], "retention: keeps nothing"),
    (["--timezone", "UTC"], "--timezone: needs --cron or --rrule"),
])
def test_a_bad_plan_at_the_command_line_fails_naming_the_fault_and_nothing_is_stored(
        tmp_path, capsys, arguments, reason) -> None:
    source = make_source(tmp_path)
    providers = write_provider(tmp_path / "providers", "noop", bank="filesystem",
                               sections=directory_sections(tmp_path / "bank"))
    status = main(["--providers-dir", str(providers), "plans", "create", "nightly",
                   f"{DIRECTORY}#{source}", *arguments])
    assert status == 1
    assert reason in capsys.readouterr().err
    assert listed_plans(providers, capsys) == []


def test_an_unknown_type_an_unresolvable_resource_and_a_duplicate_name_fail_at_the_cli(
        tmp_path, capsys) -> None:
    source = make_source(tmp_path)
    providers = write_provider(tmp_path / "providers", "noop", bank="filesystem",
                               sections=directory_sections(tmp_path / "bank"))
    base = ["--providers-dir", str(providers), "plans", "create"]
    assert main([*base, "p1", "Strongbox::Nothing#x", "--cron", "0 2 * * *"]) == 1
    assert "no protectable plugin for resource type 'Strongbox::Nothing'" in \
        capsys.readouterr().err
    assert main([*base, "p1", f"{DIRECTORY}#{tmp_path}/gone", "--cron", "0 2 * * *"]) == 1
    assert "not found" in capsys.readouterr().err
    assert main([*base, "p1", f"{DIRECTORY}#{source}", "--cron", "0 2 * * *"]) == 0
    capsys.readouterr()
    assert main([*base, "p1", f"{DIRECTORY}#{source}", "--cron", "0 3 * * *"]) == 1
    assert "a plan named 'p1' already exists" in capsys.readouterr().err
    assert [p["name"] for p in listed_plans(providers, capsys)] == ["p1"]
