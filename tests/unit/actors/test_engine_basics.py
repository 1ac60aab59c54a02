"""The engine end to end on the memory transport: order, shapes, failures, timeouts."""

from __future__ import annotations

from actors.wire.events import ActivityFinished, ActivityStarted
from actors.wire.requests import DeleteRequest, ProtectRequest, RestoreRequest
from plugins.checkpoint.graph import ResourceGraph
from tests.fakes import node


def chain_graph() -> ResourceGraph:
    # project -> server -> volume, and project -> volume: a shared child
    return ResourceGraph([node("project"), node("server"), node("volume")], [[1, 2], [2], []])


async def test_a_protect_of_a_small_graph_runs_every_activity_once_in_seed_order(engine_for):
    async with engine_for("recording") as engine:
        events = engine.subscribe()
        result = await engine.run(ProtectRequest(resources=[]), graph=chain_graph(), timeout=10)
        assert result.status == "succeeded", result.error
        plugin = engine.provider().plugins["recording"]
        calls = [f"{key.split('#')[1]} {activity.split('_')[1]}" for key, activity in plugin.calls]
        assert sorted(calls) == sorted(
            f"{n} {p}" for n in ("project", "server", "volume") for p in ("pre", "parallel", "post")
        )
        assert calls.index("project pre") < calls.index("server pre") < calls.index("volume pre")
        assert calls.index("volume post") < calls.index("server post") < calls.index("project post")
        await events.close()
        seen = [e async for e in events]
        assert sum(isinstance(e, ActivityStarted) for e in seen) == 9
        assert sum(isinstance(e, ActivityFinished) for e in seen) == 9
        index, graph, states = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "available"
        assert [s.status for s in states] == ["available"] * 3
        assert len(graph) == 3


async def test_restore_and_delete_replay_the_graph_stored_in_the_checkpoint(engine_for):
    async with engine_for("recording") as engine:
        protected = await engine.run(ProtectRequest(resources=[]), graph=chain_graph(), timeout=10)
        restored = await engine.run(
            RestoreRequest(checkpoint_id=protected.checkpoint_id), timeout=10
        )
        assert restored.status == "succeeded", restored.error
        deleted = await engine.run(DeleteRequest(checkpoint_id=protected.checkpoint_id), timeout=10)
        assert deleted.status == "succeeded", deleted.error
        index, _, _ = await engine.show_checkpoint(protected.checkpoint_id)
        assert index.status == "deleted"
        assert await engine.list_checkpoints() == []
