"""Plans in the bank: a round trip, the owner's checks, serialised updates, and the wire
fields that mirror the plans' own schedule and retention types."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from actors.errors import PlanNotFound, RequestInvalid
from actors.plans.access import LOCAL, Requester
from actors.plans.book import PlanBook
from actors.plans.retention import RetentionPolicy
from actors.plans.schedule import Schedule
from actors.plans.store import PlanStore, plan_key
from actors.wire.plan_fields import PlanRetention, PlanSchedule
from actors.wire.requests import PlanDeleteRequest, PlanUpdateRequest, ResourceRef
from plugins.errors import Forbidden
from tests.helpers.plans import (
    DIRECTORY,
    ManualClock,
    create_request,
    directory_sections,
    make_source,
)

ALICE = Requester(user_id="alice")
BOB = Requester(user_id="bob")


def engine_of(engine_for, tmp_path):
    return engine_for("noop", bank="filesystem", sections=directory_sections(tmp_path / "bank"))


def fields(struct_type) -> list[tuple[str, object]]:
    return [(f.name, f.default) for f in msgspec.structs.fields(struct_type)]


def test_the_wire_fields_carry_the_same_names_and_defaults_as_the_plans_own_types() -> None:
    assert fields(PlanSchedule) == fields(Schedule)
    assert fields(PlanRetention) == fields(RetentionPolicy)


async def test_a_plan_round_trips_through_the_bank_with_its_owner(engine_for, tmp_path) -> None:
    source = make_source(tmp_path)
    async with engine_of(engine_for, tmp_path) as engine:
        book = PlanBook(engine, clock=ManualClock())
        created = await book.create(create_request(source), ALICE)
        store = PlanStore(await engine.bank(engine.provider()))
        assert await store.read(created.id) == created
        assert await store.bank.list("/plans/") == [plan_key(created.id)]
        assert created.owner.user_id == "alice"
        assert created.history.next_slot is not None
        found, _ = await book.find("nightly", ALICE)
        assert found == created
        assert [p.id for p in await book.list(ALICE)] == [created.id]
        assert await book.list(BOB) == []


async def test_another_owners_plan_is_refused_by_id_and_invisible_by_name(
        engine_for, tmp_path) -> None:
    source = make_source(tmp_path)
    async with engine_of(engine_for, tmp_path) as engine:
        book = PlanBook(engine, clock=ManualClock())
        plan = await book.create(create_request(source), ALICE)
        with pytest.raises(Forbidden, match=r"delete of plan 'nightly' .* for user 'bob': it "
                                            r"belongs to alice"):
            await book.delete(PlanDeleteRequest(plan=plan.id), BOB)
        with pytest.raises(PlanNotFound, match="nightly"):
            await book.find("nightly", BOB)
        # bob's own plan of the same name is his alone: names are unique per owner
        own = await book.create(create_request(source), BOB)
        assert own.id != plan.id
        assert (await book.find("nightly", BOB))[0].id == own.id
        assert (await book.find("nightly", ALICE))[0].id == plan.id
        with pytest.raises(RequestInvalid, match="several owners"):
            await book.find("nightly", LOCAL)  # the local user sees both: the id is needed


async def test_a_duplicate_name_is_refused_and_nothing_more_is_stored(engine_for, tmp_path):
    source = make_source(tmp_path)
    async with engine_of(engine_for, tmp_path) as engine:
        book = PlanBook(engine, clock=ManualClock())
        plan = await book.create(create_request(source), ALICE)
        with pytest.raises(RequestInvalid, match=f"a plan named 'nightly' already exists "
                                                 f"\\({plan.id}\\)"):
            await book.create(create_request(source, every=4), ALICE)
        bank = await engine.bank(engine.provider())
        assert await bank.list("/plans/") == [plan_key(plan.id)]


async def test_concurrent_updates_of_one_plan_are_serialised_so_neither_is_lost(
        engine_for, tmp_path) -> None:
    source = make_source(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    async with engine_of(engine_for, tmp_path) as engine:
        book = PlanBook(engine, clock=ManualClock())
        plan = await book.create(create_request(source), ALICE)
        await asyncio.gather(
            book.update(PlanUpdateRequest(plan=plan.id, retention=PlanRetention(daily=7)),
                        ALICE),
            book.update(PlanUpdateRequest(plan=plan.id, resources=[
                ResourceRef(DIRECTORY, str(other))]), ALICE),
            book.update(PlanUpdateRequest(plan=plan.id, name="renamed"), ALICE))
        stored, _ = await book.find(plan.id, ALICE)
        assert stored.retention == RetentionPolicy(daily=7)
        assert [r.id for r in stored.resources] == [str(other)]
        assert stored.name == "renamed"
        assert (await book.find("renamed", ALICE))[0].id == plan.id
        with pytest.raises(PlanNotFound):
            await book.find("nightly", ALICE)  # the old name no longer names it


async def test_an_update_that_fails_its_checks_changes_nothing(engine_for, tmp_path) -> None:
    source = make_source(tmp_path)
    async with engine_of(engine_for, tmp_path) as engine:
        book = PlanBook(engine, clock=ManualClock())
        plan = await book.create(create_request(source), ALICE)
        with pytest.raises(RequestInvalid, match=r"schedule\.cron"):
            await book.update(PlanUpdateRequest(plan=plan.id, schedule=PlanSchedule(
                cron="every day")), ALICE)
        with pytest.raises(Exception, match="not found"):
            await book.update(PlanUpdateRequest(plan=plan.id, resources=[
                ResourceRef(DIRECTORY, str(tmp_path / "gone"))]), ALICE)
        assert (await book.find(plan.id, ALICE))[0] == plan
