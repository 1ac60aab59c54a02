"""An operation the reaper ends (its worker vanished, its lease lapsed) gets the aborts of
its quiesced resources, from its journal, children before parents, each once."""

from __future__ import annotations

from collections import Counter

from actors.runtime.operation_end import lease_owner
from actors.service.reaper import ABANDONED, reap_abandoned
from actors.wire.events import ActivityFinished, ActivityStarted, Event
from actors.wire.requests import ProtectRequest
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.journal import read_journal
from plugins.checkpoint.operation_record import read_operation_record
from tests.fakes import node
from tests.unit.actors.test_engine_compensation import aborted, tree

# root -> mid -> (leaf-a, leaf-b); root -> sibling. leaf-a hangs in parallel, so root, mid
# and leaf-a are quiesced (pre done, post not) when the worker vanishes; leaf-b and sibling
# ran their post.
QUIESCED = {"root", "mid", "leaf-a"}


async def vanish_mid_operation(engine, parameters) -> tuple[str, str]:
    """Run a protect until leaf-a hangs and the others did what they could, then drop it
    as a dead worker would (nothing journaled, nothing sent) and let its lease lapse."""
    subscription = engine.subscribe()
    operation = await engine.submit(ProtectRequest(resources=[], parameters=parameters),
                                    graph=tree())
    waiting = {("leaf-a", "protect_parallel", ActivityStarted),
               ("leaf-b", "protect_post", ActivityFinished),
               ("sibling", "protect_post", ActivityFinished)}
    waiting |= {(n.id, "protect_pre", ActivityFinished) for n in tree().nodes}
    event: Event
    async for event in subscription:
        waiting.discard((getattr(event, "resource_id", None), getattr(event, "activity", None),
                         type(event)))
        if not waiting:
            break
    await subscription.close()
    engine.host.let_go(operation)  # the worker is gone: nobody renews, nobody aborts
    record = await read_operation_record(engine._operation_banks[operation], operation)
    assert record is not None and record.status == "running"
    bank = engine._operation_banks[operation]
    await bank.release_lease(checkpoint_lease_key(record.checkpoint_id), lease_owner(operation))
    return operation, record.checkpoint_id


async def test_the_reaper_runs_each_owed_abort_once_children_first_and_journals_it(
        engine_for) -> None:
    async with engine_for("quiescing") as engine:
        plugin = engine.provider().plugins["quiescing"]
        operation, checkpoint_id = await vanish_mid_operation(
            engine, {"Test::Node#leaf-a": {"hang_at": "protect_parallel"}})
        assert plugin.quiesced == {f"Test::Node#{n}" for n in QUIESCED}

        assert await reap_abandoned(engine, lease_ttl=0.0) == [checkpoint_id]
        assert await reap_abandoned(engine, lease_ttl=0.0) == []  # ended: not again

        assert aborted(plugin) == Counter(dict.fromkeys(QUIESCED, 1))
        assert plugin.quiesced == set()
        order = [key.split("#")[1] for key, activity in plugin.calls
                 if activity == "protect_abort"]
        assert order.index("leaf-a") < order.index("mid") < order.index("root")
        bank = engine._operation_banks[operation]
        journaled = Counter((e.node, e.state) for e in await read_journal(bank, operation)
                            if e.activity == "protect_abort")
        nodes = [n.id for n in tree().nodes]
        assert journaled == Counter({(nodes.index(n), "done"): 1 for n in QUIESCED})
        store = await engine.store(engine.provider())
        index = await store.read_index(checkpoint_id)
        assert (index.status, index.error) == (CheckpointStatus.ERROR, ABANDONED)
        assert "lease" in ABANDONED
        record = await read_operation_record(bank, operation)
        assert record is not None
        assert (record.status, record.error, record.abort_failures) == ("failed", ABANDONED, [])


async def test_a_failed_abort_of_a_reaped_operation_is_listed_and_the_others_still_run(
        engine_for) -> None:
    async with engine_for("quiescing") as engine:
        plugin = engine.provider().plugins["quiescing"]
        operation, _ = await vanish_mid_operation(
            engine, {"Test::Node#leaf-a": {"hang_at": "protect_parallel"},
                     "Test::Node#mid": {"fail_at": "protect_abort"}})
        subscription = engine.subscribe(operation)
        await reap_abandoned(engine, lease_ttl=0.0)
        await subscription.close()
        events = [e async for e in subscription]
        assert aborted(plugin) == Counter(dict.fromkeys(QUIESCED, 1))
        assert plugin.quiesced == {node("mid").key}  # its abort failed: it stays so
        record = await read_operation_record(engine._operation_banks[operation], operation)
        assert record is not None and record.error == ABANDONED  # the first failure stays
        assert record.abort_failures == [
            "Test::Node#mid: RuntimeError: Test::Node#mid failed in protect_abort on purpose"]
        finished = events[-1]
        assert finished.abort_failures == record.abort_failures  # type: ignore[attr-defined]
        states = [(e.resource_id, e.state) for e in events
                  if getattr(e, "activity", None) == "protect_abort"]
        assert ("mid", "abort_failed") in states and ("root", "aborted") in states
