"""Aborts over the real broker: two worker processes, one of them SIGKILLed mid-abort."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from actors.wire.events import ActivityStarted, Event
from actors.wire.requests import ProtectRequest, ResourceRef
from bench.synthetic import PROJECT, SERVER, VOLUME
from plugins.checkpoint.graph import ResourceGraph
from tests import broker
from tests.cluster.cluster import cluster
from tests.cluster.plugin import QUIESCING_PLUGIN, read_marks
from tests.ordering import check_compensation

pytestmark = pytest.mark.broker

SERVERS = 3  # 1 project + 3 servers + 6 volumes
FAILING = f"{VOLUME}#s0v1"


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


def request(marks: Path, **overrides: dict[str, object]) -> ProtectRequest:
    """Servers hang in parallel (so their post never runs), one volume fails."""
    parameters: dict[str, dict[str, object]] = {
        t: {"marks": str(marks)} for t in (PROJECT, SERVER, VOLUME)}
    parameters[SERVER]["hang_at"] = "protect_parallel"
    parameters[FAILING] = {"marks": str(marks), "fail_at": "protect_parallel", "delay": 0.3}
    for key, values in overrides.items():
        parameters[key] = {**parameters.get(key, {"marks": str(marks)}), **values}
    return ProtectRequest(resources=[ResourceRef(PROJECT, str(SERVERS))], parameters=parameters)


async def check_aborts(graph: ResourceGraph, marks: Path, *, exactly_once: bool) -> set[str]:
    """Every resource quiesced and not resumed ended its abort (exactly once, unless a
    worker died: an abort whose entry the dead worker had not stored runs again), every
    abort of a child ended before its parent's last abort began, and nothing else was
    aborted. Returns the aborted keys."""
    notes = {r.key: await asyncio.to_thread(read_marks, str(marks), r.key) for r in graph.nodes}
    owed = {key for key, rows in notes.items()
            if {"quiesced"} <= {w for w, _, _ in rows} and "resumed" not in {w for w, _, _ in rows}}
    for key, rows in notes.items():
        ended = [when for what, when, _ in rows if what == "abort_ended"]
        if key not in owed:
            assert not ended, f"{key} was aborted: {rows}"
        elif exactly_once:
            assert len(ended) == 1, f"{key}: {rows}"
        else:
            assert ended, f"{key} was never aborted: {rows}"
    for parent, children in enumerate(graph.children):
        parent_key = graph.nodes[parent].key
        if parent_key not in owed:
            continue
        began = [when for what, when, _ in notes[parent_key] if what == "abort_started"]
        for child in children:
            child_key = graph.nodes[child].key
            for what, when, _ in notes[child_key]:
                if what == "abort_ended":
                    assert when < began[-1], f"{child_key} ended its abort after {parent_key}"
    return owed


async def test_two_workers_abort_every_quiesced_resource_children_before_parents(
        amqp_url: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    async with cluster(amqp_url, tmp_path, 2, plugin=QUIESCING_PLUGIN) as running:
        events: list[Event] = []
        finished = await running.run(request(marks), events=events)
        assert finished.status == "failed"
        assert finished.error_resource == FAILING
        assert "failed in protect_parallel on purpose" in (finished.error or "")
        graph = await (await running.store()).read_graph(finished.checkpoint_id)
        owed = await check_aborts(graph, marks, exactly_once=True)
        assert {f"{PROJECT}#{SERVERS}", f"{SERVER}#s0", FAILING} <= owed
        check_compensation(graph, sorted(events, key=lambda e: e.at), "protect")


class AbortStarted:
    """A milestone: the abort of ``key`` started; remembers on which worker."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.worker: str | None = None
        self.reached = asyncio.Event()

    def saw(self, event: Event) -> None:
        if (isinstance(event, ActivityStarted) and event.activity == "protect_abort"
                and f"{event.resource_type}#{event.resource_id}" == self.key
                and self.worker is None):
            self.worker = event.worker
            self.reached.set()

    async def wait(self, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            await self.reached.wait()


async def test_a_worker_killed_mid_abort_leaves_the_abort_to_the_survivor(
        amqp_url: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    slow = f"{SERVER}#s1"
    async with cluster(amqp_url, tmp_path, 2, plugin=QUIESCING_PLUGIN) as running:
        milestone = AbortStarted(slow)
        operation = asyncio.create_task(running.run(
            request(marks, **{slow: {"abort_delay": 3.0}}), timeout=120,
            milestone=milestone))  # type: ignore[arg-type]
        await milestone.wait()
        assert milestone.worker is not None
        victim_pid = running.workers[milestone.worker].pid
        running.kill(milestone.worker)
        survivor_pid = next(iter(running.workers.values())).pid
        finished = await operation
        assert finished.status == "failed", finished.error
        assert finished.error_resource == FAILING
        assert "failed in protect_parallel on purpose" in (finished.error or "")
        graph = await (await running.store()).read_graph(finished.checkpoint_id)
        owed = await check_aborts(graph, marks, exactly_once=False)
        assert slow in owed and f"{PROJECT}#{SERVERS}" in owed
        rows = await asyncio.to_thread(read_marks, str(marks), slow)
        # begun on the victim, cut off by the kill, run again (whole) on the survivor. The
        # kill follows the victim's abort_started event, which the runtime publishes just
        # before it calls the plugin: on a loaded machine it can land before the plugin
        # wrote its own mark, so the victim's row may be missing, never the survivor's.
        after = [(what, pid) for what, _, pid in rows[1:]]
        assert after[-2:] == [("abort_started", survivor_pid),
                              ("abort_ended", survivor_pid)], rows
        assert after[:-2] in ([], [("abort_started", victim_pid)]), rows
