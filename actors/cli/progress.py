"""Showing an operation as it runs: rich progress bars on a terminal, JSON lines otherwise.

Renderers take events (``actors.wire.events``) one at a time and do not care where they come
from: the embedded engine's subscription (``protect``, ``restore``, ``delete``), or
``JournalFeed``, which rebuilds them from the operation's record and journal in the bank
for ``watch`` (a broker subscription can later feed the same renderers).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Final, TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from actors.errors import OperationNotFound
from actors.wire.events import (
    ActivityFailed,
    ActivityFinished,
    ActivityProgress,
    ActivityStarted,
    Event,
    OperationFinished,
    OperationStarted,
    ResourceEvent,
    ResourceStopped,
    encode_event,
)
from actors.wire.failure import FailureInfo
from banks.base import Bank
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import JournalEntry, read_journal
from plugins.checkpoint.operation_record import OperationRecord, read_operation_record

PHASES_PER_RESOURCE: Final = 3
MAX_RESOURCE_BARS: Final = 12  # more running resources are counted, not drawn
FINAL_STATUSES: Final = frozenset({"succeeded", "failed", "cancelled"})
_NEXT_PHASE: Final = {"pre": "parallel", "parallel": "post"}

GraphLoader = Callable[[str], Awaitable[ResourceGraph | None]]


class EventRenderer(abc.ABC):
    """Shows events as they arrive; a context manager that tidies the output on exit."""

    def __enter__(self) -> EventRenderer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abc.abstractmethod
    def handle(self, event: Event) -> None:
        """Show one event."""

    def close(self) -> None:  # noqa: B027 - optional hook, JSON lines need no tidying
        """Stop drawing."""


class JsonLinesRenderer(EventRenderer):
    """One JSON object per event per line, flushed at once so pipes see it live."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def handle(self, event: Event) -> None:
        self._stream.write(encode_event(event).decode() + "\n")
        self._stream.flush()


class RichProgressRenderer(EventRenderer):
    """An overall bar (activities done of 3 per resource) and one bar per running resource.

    A resource's bar counts bytes while a data-moving activity reports them and pulses
    otherwise; it is removed when the resource finishes, fails or stops.
    """

    def __init__(self, console: Console, label: str) -> None:
        self._progress = Progress(
            # markup off: resource names are user data and may contain "[...]"
            SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
            TextColumn("{task.fields[detail]}", markup=False), TimeElapsedColumn(),
            console=console, transient=True)
        self._overall = self._progress.add_task(label, total=None, detail="")
        self._bars: dict[int, TaskID] = {}
        self._running: set[int] = set()
        self._ended: set[int] = set()
        self._resources = 0
        self._activities = 0
        self._progress.start()

    def handle(self, event: Event) -> None:
        match event:
            case OperationStarted(resource_count=count, operation_type=kind):
                self._resources = count
                self._progress.update(self._overall, description=kind)
            case ActivityStarted():
                self._show(event, _phase(event.activity))
            case ActivityProgress(bytes_done=done, bytes_total=total):
                bar = self._show(event, _phase(event.activity))
                if bar is not None:
                    self._progress.update(bar, completed=done, total=total,
                                          detail=_bytes(done, total))
            case ActivityFinished():
                self._activities += 1
                phase = _phase(event.activity)
                if phase in _NEXT_PHASE:
                    self._show(event, _NEXT_PHASE[phase], reset=True)
                else:
                    self._end(event.node)
            case ActivityFailed(failure=failure):
                line = Text.assemble(("✗ ", "bold red"), _label(event),
                                     f" {event.activity} failed: {failure.summary()}")
                self._progress.console.print(line)
                self._end(event.node)
            case ResourceStopped():
                self._end(event.node)
            case OperationFinished(status=status):
                if status == "succeeded":
                    self._activities = PHASES_PER_RESOURCE * self._resources
        self._update_overall()

    def close(self) -> None:
        self._progress.stop()

    def _show(self, event: ResourceEvent, phase: str, *, reset: bool = False) -> TaskID | None:
        node = event.node
        if node in self._ended:
            return None  # a late progress event of a resource already done
        self._running.add(node)
        bar = self._bars.get(node)
        if bar is not None and reset:  # back to a pulsing bar: rich cannot unset a total
            self._progress.remove_task(self._bars.pop(node))
            bar = None
        description = f"{_label(event)} {phase}"
        if bar is not None:
            self._progress.update(bar, description=description)
        elif len(self._bars) < MAX_RESOURCE_BARS:
            bar = self._bars[node] = self._progress.add_task(description, total=None, detail="")
        return bar

    def _end(self, node: int) -> None:
        self._ended.add(node)
        self._running.discard(node)
        bar = self._bars.pop(node, None)
        if bar is not None:
            self._progress.remove_task(bar)

    def _update_overall(self) -> None:
        total = PHASES_PER_RESOURCE * self._resources or None
        done = len(self._ended)
        hidden = len(self._running) - len(self._bars)
        detail = f"{done}/{self._resources} resources"
        if hidden > 0:
            detail += f" (+{hidden} running)"
        self._progress.update(self._overall, total=total, completed=self._activities,
                              detail=detail)


def make_renderer(json: bool, stream: TextIO, console: Console, label: str) -> EventRenderer:
    """JSON lines if ``json``, else rich progress on ``console``."""
    return JsonLinesRenderer(stream) if json else RichProgressRenderer(console, label)


def summary(event: OperationFinished) -> str:
    """One line saying how an operation ended."""
    if event.status == "succeeded":
        plural = "" if event.resource_count == 1 else "s"
        return (f"{event.operation_type} succeeded: {event.resource_count} resource{plural} "
                f"in {event.duration:.1f} s")
    return failure_reason(event)


def final_lines(event: OperationFinished) -> list[str]:
    """What a terminal shows once an operation succeeded: its summary, then where a
    restore put each resource (``<type#id> -> <where>``), or a protect's checkpoint id."""
    lines = [summary(event)]
    lines += [f"{key} -> {where}" for key, where in (event.restored or {}).items()]
    if event.operation_type == "protect":
        lines.append(event.checkpoint_id)
    return lines


def failure_reason(event: OperationFinished) -> str:
    """``protect failed at <resource>: <reason>`` (or ``cancelled``), on one line, then the
    aborts that failed (resources that may still be quiesced), if any."""
    where = f" at {event.error_resource}" if event.error_resource else ""
    reason = (event.error or event.status).replace("\n", " ")
    line = f"{event.operation_type} {event.status}{where}: {reason}"
    if event.abort_failures:
        line += "; aborts failed: " + "; ".join(event.abort_failures).replace("\n", " ")
    return line


def _phase(activity: str) -> str:
    return activity.rpartition("_")[2]


def _label(event: ResourceEvent) -> str:
    return event.resource_name or event.resource_id


def _bytes(done: int, total: int | None) -> str:
    return f"{decimal(done)} / {decimal(total)}" if total else decimal(done)


class JournalFeed:
    """Rebuilds an operation's events from its durable record and journal entries."""

    def __init__(self, record: OperationRecord, graph: ResourceGraph | None) -> None:
        self.record = record
        self._graph = graph
        self._seen: set[JournalEntry] = set()

    def started(self) -> OperationStarted:
        """The event the operation published when it opened."""
        record = self.record
        return OperationStarted(
            operation_id=record.id, at=record.started_at, operation_type=record.type,
            provider_id=record.provider_id, checkpoint_id=record.checkpoint_id,
            resource_count=record.resource_count, request_id=record.request_id)

    def new_events(self, entries: Iterable[JournalEntry]) -> list[Event]:
        """Events for the entries not seen before, in time order."""
        fresh = sorted((e for e in entries if e not in self._seen), key=lambda e: e.at)
        self._seen.update(fresh)
        return [event for entry in fresh if (event := self._event(entry)) is not None]

    def finished(self, record: OperationRecord) -> OperationFinished | None:
        """The final event, once ``record`` says the operation ended."""
        self.record = record
        if record.status not in FINAL_STATUSES:
            return None
        ended = record.finished_at or time.time()
        return OperationFinished(
            operation_id=record.id, at=ended, operation_type=record.type,
            checkpoint_id=record.checkpoint_id, status=record.status, error=record.error,
            error_resource=record.error_resource, resource_count=record.resource_count,
            duration=ended - record.started_at, abort_failures=record.abort_failures,
            restored=record.restored)

    def _event(self, entry: JournalEntry) -> Event | None:
        if entry.node < 0:
            return None  # the operation's own entries: the record tells its story
        graph = self._graph
        known = graph is not None and entry.node < len(graph)
        resource = graph.nodes[entry.node] if graph is not None and known else None
        fields = {
            "operation_id": self.record.id, "at": entry.at, "node": entry.node,
            "resource_type": resource.type if resource else "",
            "resource_id": resource.id if resource else f"node {entry.node}",
            "resource_name": resource.name if resource else "",
            "activity": entry.activity, "state": entry.state,
        }
        match entry.state:
            case "done":
                return ActivityFinished(**fields)  # type: ignore[arg-type]
            case "failed":
                kind, _, message = (entry.reason or "failed").partition(": ")
                failure = FailureInfo(type=kind, message=message) if message else FailureInfo(
                    type="Error", message=kind)
                return ActivityFailed(**fields, failure=failure)  # type: ignore[arg-type]
            case _:
                return ResourceStopped(**fields,  # type: ignore[arg-type]
                                       reason=entry.reason or entry.state)


async def follow_operation(bank: Bank, operation_id: str, renderer: EventRenderer, *,
                           load_graph: GraphLoader, interval: float = 0.5,
                           start_grace: float = 30.0) -> OperationFinished:
    """Poll the record and journal of an operation another process runs until it ends.

    Raises:
        OperationNotFound: if no record appears within ``start_grace`` seconds.
        BankError: if the bank cannot be read.
    """
    record = await read_operation_record(bank, operation_id)
    waited = time.monotonic()
    while record is None:
        if time.monotonic() - waited > start_grace:
            raise OperationNotFound(operation_id)
        await asyncio.sleep(interval)
        record = await read_operation_record(bank, operation_id)
    feed = JournalFeed(record, await load_graph(record.checkpoint_id))
    renderer.handle(feed.started())
    while True:
        latest = await read_operation_record(bank, operation_id) or record
        for event in feed.new_events(await read_journal(bank, operation_id)):
            renderer.handle(event)
        finished = feed.finished(latest)  # read before the journal: no entry is missed
        if finished is not None:
            renderer.handle(finished)
            return finished
        await asyncio.sleep(interval)

