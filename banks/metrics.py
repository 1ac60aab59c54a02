"""Prometheus metrics: what a worker counts, in one registry that ``/metrics`` serves.

Every metric of Strongbox is defined here, in the lowest package, so that each layer can
count what it sees (the runtime its activities, the transport its messages, the chunk
store its bytes, the object-store banks their retries) without importing the layers above;
``actors.service.http`` serves the registry. The names follow Prometheus' conventions:
``strongbox_`` first, the unit in the name (``_seconds``, ``_bytes``), ``_total`` on
counters. Every label has a small, fixed set of values: an operation type, a status, a
plugin's name in its provider file, an activity, a message kind, an error class. An
operation, checkpoint, resource or request id is never a label (one series per id would
grow without end); find those in the logs and events.

Counting is cheap (a lock and an add); nothing here does I/O. In a process that runs no
``/metrics`` endpoint (the CLI, the tests) the counts are kept and never read.
The dashboard in ``docs/grafana-dashboard.json`` and ``docs/operations.md`` use them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Final, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

REGISTRY: Final = CollectorRegistry(auto_describe=True)
# the process's CPU, memory, file descriptors and start time; Python's GC and version
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# Durations from milliseconds (a no-op plugin, a metadata write) to hours (a volume backup).
_DURATION_BUCKETS: Final = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 30.0, 60.0, 300.0,
                            900.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0)


def _version() -> str:
    try:
        return version("strongbox")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


BUILD_INFO: Final = Info("strongbox_build", "The Strongbox release this process runs.",
                         registry=REGISTRY)
BUILD_INFO.info({"version": _version()})



class LoopCounter:
    """A counter by one label for paths taken on every message or event.

    prometheus_client's counters take a lock on each ``inc`` (about 1 µs; with ``labels``,
    2 µs), which a no-op resource, handling a few messages and publishing a few events,
    would feel. This one is a dict add (tens of ns), read only when scraped; it is
    incremented from the event loop's thread only, so it needs no lock.
    """

    def __init__(self, name: str, documentation: str, label: str,
                 registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._label = label
        self._counts: dict[str, int] = {}
        registry.register(self)

    def inc(self, value: str) -> None:
        """Add one to the series whose label is ``value``."""
        counts = self._counts
        counts[value] = counts.get(value, 0) + 1

    def describe(self) -> list[Metric]:
        """The family without samples (what the registry checks names against)."""
        return [CounterMetricFamily(self._name, self._documentation, labels=[self._label])]

    def collect(self) -> Iterator[Metric]:
        """The family with one sample per label value seen."""
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, count in list(self._counts.items()):
            family.add_metric([value], count)
        yield family


# -- operations ---------------------------------------------------------------------------

OPERATIONS_STARTED: Final = Counter(
    "strongbox_operations_started_total",
    "Operations opened on this worker (checkpoint opened, roots released), by type.",
    ["operation"], registry=REGISTRY)
OPERATIONS_FINISHED: Final = Counter(
    "strongbox_operations_finished_total",
    "Operations ended on this worker, by type and status (succeeded, failed, cancelled).",
    ["operation", "status"], registry=REGISTRY)
OPERATION_DURATION: Final = Histogram(
    "strongbox_operation_duration_seconds",
    "Time from an operation's submission to its end, by type and status.",
    ["operation", "status"], buckets=_DURATION_BUCKETS, registry=REGISTRY)

# -- activities ---------------------------------------------------------------------------

ACTIVITY_DURATION: Final = Histogram(
    "strongbox_activity_duration_seconds",
    "Time one activity of a plugin ran (no-op activities are not counted), by plugin, "
    "activity (protect_pre ... delete_post) and outcome (succeeded, failed, timed_out, "
    "cancelled).",
    ["plugin", "activity", "outcome"], buckets=_DURATION_BUCKETS, registry=REGISTRY)
ACTIVITIES_RUNNING: Final = Gauge(
    "strongbox_activities_running",
    "Activities of a plugin running on this worker now.",
    ["plugin"], registry=REGISTRY)
MOVED_BYTES: Final = Counter(
    "strongbox_moved_bytes_total",
    "Bytes data-moving activities read or wrote (their last progress report), by plugin "
    "and operation type: a protect's bytes read from the resource, a restore's written back.",
    ["plugin", "operation"], registry=REGISTRY)

# -- chunk store --------------------------------------------------------------------------

CHUNK_INPUT_BYTES: Final = Counter(
    "strongbox_chunk_input_bytes_total",
    "Plaintext bytes cut into chunks by the chunk store, before deduplication.",
    registry=REGISTRY)
CHUNK_STORED_BYTES: Final = Counter(
    "strongbox_chunk_stored_bytes_total",
    "Bytes the chunk store wrote to the bank: new chunks only (after deduplication), "
    "compressed and, if the store is encrypted, encrypted.",
    registry=REGISTRY)
CHUNKS: Final = Counter(
    "strongbox_chunks_total",
    "Chunks the chunk store was given, by result: new (stored) or deduplicated.",
    ["result"], registry=REGISTRY)

# -- actors and messages ------------------------------------------------------------------

MESSAGES_HANDLED: Final = LoopCounter(
    "strongbox_messages_handled_total",
    "Actor messages this worker handed to its actors, by kind.",
    "kind", REGISTRY)
MESSAGES_DEAD_LETTERED: Final = Counter(
    "strongbox_messages_dead_lettered_total",
    "Messages set aside for good, by queue: actor messages that do not decode (to the "
    "dead-letter queue) and refused or invalid requests (to the rejected-requests queue).",
    ["queue"], registry=REGISTRY)
MESSAGES_REQUEUED: Final = Counter(
    "strongbox_messages_requeued_total",
    "Actor messages given back to the broker because their operation could not be loaded "
    "(its bank unreachable); they come back later.",
    registry=REGISTRY)
EVENTS_PUBLISHED: Final = LoopCounter(
    "strongbox_events_published_total",
    "Progress events this worker published, by kind.",
    "kind", REGISTRY)

# -- requests -----------------------------------------------------------------------------

REQUESTS: Final = Counter(
    "strongbox_requests_total",
    "Requests taken from the request queue, by kind (protect, restore, ...; 'unknown' when "
    "it did not decode) and outcome (accepted, rejected, refused, retried).",
    ["kind", "outcome"], registry=REGISTRY)
REQUESTS_REJECTED: Final = Counter(
    "strongbox_requests_rejected_total",
    "Requests not carried out, by reason: too_large, undecodable, forbidden, internal, or "
    "the class of the error that rejected it (ProviderNotFound, InvalidParameters, ...).",
    ["reason"], registry=REGISTRY)

# -- leases, reaper, retries, broker ------------------------------------------------------

LEASE_RENEWALS: Final = Counter(
    "strongbox_lease_renewals_total",
    "Checkpoint lease renewals by this worker, by outcome (renewed, failed).",
    ["outcome"], registry=REGISTRY)
REAPER_RUNS: Final = Counter(
    "strongbox_reaper_runs_total",
    "Rounds of the reaper (which ends protects whose lease lapsed), by outcome.",
    ["outcome"], registry=REGISTRY)
CHECKPOINTS_REAPED: Final = Counter(
    "strongbox_checkpoints_reaped_total",
    "Abandoned protects the reaper ended in error.",
    registry=REGISTRY)
BANK_RETRIES: Final = Counter(
    "strongbox_bank_retries_total",
    "Object-store bank requests tried again after a failure that may pass, by bank kind "
    "(s3, swift) and request (get, put, ...).",
    ["bank", "request"], registry=REGISTRY)
BANK_GIVE_UPS: Final = Counter(
    "strongbox_bank_retries_exhausted_total",
    "Object-store bank requests that failed after their last attempt, by bank kind.",
    ["bank"], registry=REGISTRY)
BROKER_CONNECTED: Final = Gauge(
    "strongbox_broker_connected",
    "1 while this worker's connection to RabbitMQ is up, else 0.",
    registry=REGISTRY)
BROKER_CONNECTION_LOSSES: Final = Counter(
    "strongbox_broker_connection_losses_total",
    "Times this worker lost its RabbitMQ connection (it reconnects by itself).",
    registry=REGISTRY)
READY: Final = Gauge(
    "strongbox_ready",
    "1 where a readiness check of /readyz passes, else 0, by check (broker, bank, plugins); "
    "evaluated at each scrape.",
    ["check"], registry=REGISTRY)
PROVIDERS: Final = Gauge(
    "strongbox_providers",
    "Provider files this worker read, by state (loaded, disabled, broken).",
    ["state"], registry=REGISTRY)

# -- what the live actor hosts hold -------------------------------------------------------

class Census(Protocol):
    """Something that can count its live actors and operations (an actor host)."""

    def live_actors(self) -> int:
        """Resource and operation actors not in a final state."""

    def hosted_operations(self) -> int:
        """Operations this host holds some actor of."""


_census: weakref.WeakSet[Census] = weakref.WeakSet()


def count_in(census: Census) -> None:
    """Add ``census`` to the actors-alive gauges for as long as it lives."""
    _census.add(census)


def _sum(count: Callable[[Census], int]) -> Callable[[], float]:
    return lambda: float(sum(count(c) for c in list(_census)))


ACTORS_ALIVE: Final = Gauge(
    "strongbox_actors_alive",
    "Actors (resource and operation) this worker holds that have not reached a final state.",
    registry=REGISTRY)
ACTORS_ALIVE.set_function(_sum(lambda census: census.live_actors()))
OPERATIONS_HOSTED: Final = Gauge(
    "strongbox_operations_hosted",
    "Operations this worker holds actors of.",
    registry=REGISTRY)
OPERATIONS_HOSTED.set_function(_sum(lambda census: census.hosted_operations()))


def label(value: str | None) -> str:
    """A label value: never empty (Prometheus drops empty labels from queries' grouping)."""
    return value or "unknown"


__all__ = [
    "ACTIVITIES_RUNNING",
    "ACTIVITY_DURATION",
    "ACTORS_ALIVE",
    "BANK_GIVE_UPS",
    "BANK_RETRIES",
    "BROKER_CONNECTED",
    "BROKER_CONNECTION_LOSSES",
    "BUILD_INFO",
    "CHECKPOINTS_REAPED",
    "CHUNKS",
    "CHUNK_INPUT_BYTES",
    "CHUNK_STORED_BYTES",
    "EVENTS_PUBLISHED",
    "LEASE_RENEWALS",
    "MESSAGES_DEAD_LETTERED",
    "MESSAGES_HANDLED",
    "MESSAGES_REQUEUED",
    "MOVED_BYTES",
    "OPERATIONS_FINISHED",
    "OPERATIONS_HOSTED",
    "OPERATIONS_STARTED",
    "OPERATION_DURATION",
    "PROVIDERS",
    "READY",
    "REAPER_RUNS",
    "REGISTRY",
    "REQUESTS",
    "REQUESTS_REJECTED",
    "Census",
    "LoopCounter",
    "count_in",
    "label",
]
