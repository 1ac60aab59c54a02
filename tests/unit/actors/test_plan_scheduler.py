"""The plan scheduler against a clock the test moves and the memory transport."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec

from actors.plans.access import LOCAL, Requester
from actors.plans.book import PlanBook
from actors.plans.plan import RunRecord
from actors.plans.scheduler import PlanScheduler
from actors.plans.store import PlanStore
from actors.service.authorization import Authorizer
from actors.service.plan_authority import policy_authority
from actors.service.policy import read_policy
from actors.wire.events import RetentionApplied, SlotMissed, SlotScheduled, SlotSkipped
from plugins.checkpoint.operation_record import OperationRecord, write_operation_record
from plugins.checkpoint.operation_spec import read_spec
from tests.helpers.plans import ManualClock, create_request, directory_sections, make_source


async def wait_all(engine, events) -> None:
    for event in events:
        if isinstance(event, SlotScheduled):
            await engine.wait(event.operation_id, timeout=30)


async def test_each_due_slot_runs_once_and_retention_keeps_the_last_two(engine_for, tmp_path):
    clock = ManualClock()
    source = make_source(tmp_path)
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        plan = await PlanBook(engine, clock=clock).create(create_request(source), LOCAL)
        scheduler = PlanScheduler(engine, clock=clock, grace=timedelta(seconds=1))
        assert await scheduler.tick() == []  # nothing due yet
        seen = []
        for _ in range(5):
            clock.advance(2)
            events = await scheduler.tick()
            assert [type(e) for e in events] == [SlotScheduled]
            await wait_all(engine, events)
            seen.extend(events)
            # the same slot is never decided again; the run's end is noted, retention applied
            again = await scheduler.tick()
            assert [type(e) for e in again] == [RetentionApplied]
            assert await scheduler.tick() == []
        slots = [e.slot for e in seen]
        assert len(set(slots)) == 5
        kept = [i for i in await engine.list_checkpoints(plan_id=plan.id)
                if i.status == "available"]
        assert len(kept) == 2


async def test_a_slot_whose_previous_run_is_still_running_is_skipped_and_a_late_one_missed(
        engine_for, tmp_path):
    clock = ManualClock()
    source = make_source(tmp_path)
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        plan = await PlanBook(engine, clock=clock).create(
            create_request(source, keep_last=None), LOCAL)
        bank = await engine.bank(engine.provider())
        # a run of the plan that is still going (its record says so)
        await write_operation_record(bank, OperationRecord(
            id="earlier-run", type="protect", provider_id=plan.provider_id,
            checkpoint_id="c", status="running", started_at=0.0))
        running = RunRecord(operation_id="earlier-run", at=clock())
        await PlanStore(bank).write(msgspec.structs.replace(
            plan, history=msgspec.structs.replace(plan.history, last_run=running)))
        scheduler = PlanScheduler(engine, clock=clock, grace=timedelta(seconds=1))
        clock.advance(2)
        skipped = await scheduler.tick()
        assert [type(e) for e in skipped] == [SlotSkipped]
        assert skipped[0].reason == "previous operation earlier-run still running"
        await write_operation_record(bank, OperationRecord(
            id="earlier-run", type="protect", provider_id=plan.provider_id,
            checkpoint_id="c", status="failed", started_at=0.0, finished_at=1.0,
            error="disk full"))
        clock.advance(2)
        ran = await scheduler.tick()  # notes the end, then runs the slot
        assert [type(e) for e in ran] == [SlotScheduled]
        await wait_all(engine, ran)
        clock.advance(11.5)  # five slots pass; the newest is 1.5 s old, past the grace
        late = await scheduler.tick()
        assert [type(e) for e in late] == [SlotMissed] * 5
        history = (await PlanStore(bank).read(plan.id)).history
        assert (history.scheduled, history.skipped, history.missed) == (1, 1, 5)
        assert history.last_error == "operation earlier-run failed: disk full"


async def test_three_schedulers_on_one_bank_decide_each_slot_once(engine_for, tmp_path):
    clock = ManualClock()
    source = make_source(tmp_path)
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        await PlanBook(engine, clock=clock).create(create_request(source, keep_last=None),
                                                   LOCAL)
        schedulers = [PlanScheduler(engine, clock=clock, grace=timedelta(seconds=30))
                      for _ in range(3)]
        decided = []
        for _ in range(4):
            clock.advance(2)
            # all three at once: the plan's lease lets one decide, the others find it held
            # or find the slot already decided
            rounds = await asyncio.gather(*(s.tick() for s in schedulers))
            events = [e for found in rounds for e in found]
            assert len([e for e in events if isinstance(e, SlotScheduled | SlotSkipped)]) == 1
            await wait_all(engine, events)
            decided.extend(e.slot for e in events if isinstance(e, SlotScheduled | SlotSkipped))
            for scheduler in schedulers:  # later passes decide nothing more for that slot
                assert not [e for e in await scheduler.tick()
                            if isinstance(e, SlotScheduled | SlotSkipped | SlotMissed)]
        assert len(set(decided)) == 4


async def test_a_slot_acts_as_the_owner_and_is_skipped_once_the_policy_withdraws_the_right(
        engine_for, tmp_path):
    clock = ManualClock()
    source = make_source(tmp_path)
    policy = tmp_path / "policy.conf"
    policy.write_text("[user alice]\noperations = protect, plan\nproviders = *\n"
                      "protect_roots = /\n")
    async with engine_for("noop", bank="filesystem",
                          sections=directory_sections(tmp_path / "bank")) as engine:
        await PlanBook(engine, clock=clock).create(create_request(source, keep_last=None),
                                                   Requester(user_id="alice"))
        authorizer = Authorizer(read_policy(policy), own_user="worker")
        scheduler = PlanScheduler(engine, clock=clock, grace=timedelta(seconds=30),
                                  authority=policy_authority(engine, authorizer))
        clock.advance(2)
        ran = await scheduler.tick()
        assert [type(e) for e in ran] == [SlotScheduled]
        await wait_all(engine, ran)
        spec = await read_spec(await engine.bank(engine.provider()), ran[0].operation_id)
        assert spec is not None and spec.user_id == "alice"
        policy.write_text("[user alice]\noperations = plan\nproviders = *\n")
        scheduler.authority = policy_authority(engine, Authorizer(read_policy(policy),
                                                                  own_user="worker"))
        clock.advance(2)
        refused = [e for e in await scheduler.tick() if isinstance(e, SlotSkipped)]
        assert len(refused) == 1
        assert refused[0].reason == ("Forbidden: protect for user 'alice': not granted "
                                     "(granted: plan)")
