"""What one activity adds to the worker's metrics: its duration, its outcome, its bytes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from actors.errors import ActivityTimeout
from actors.runtime.progress import ProgressReporter
from banks import metrics
from plugins.base import ProtectionPlugin


def plugin_label(plugin: ProtectionPlugin) -> str:
    """The plugin's name in its provider file (its class name if it has none)."""
    return plugin.plugin_name or type(plugin).__name__


@contextlib.contextmanager
def measured_activity(plugin: ProtectionPlugin, activity: str, progress: ProgressReporter,
                      operation_type: str) -> Iterator[None]:
    """Time the activity run inside, count it running, and add what it moved.

    The outcome is ``succeeded``, ``failed``, ``timed_out`` or ``cancelled``; bytes moved
    are the activity's last progress report, counted whatever the outcome (they moved).
    """
    name = plugin_label(plugin)
    running = metrics.ACTIVITIES_RUNNING.labels(name)
    running.inc()
    started = time.monotonic()
    outcome = "failed"
    try:
        yield
        outcome = "succeeded"
    except ActivityTimeout:
        outcome = "timed_out"
        raise
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        running.dec()
        metrics.ACTIVITY_DURATION.labels(name, activity, outcome).observe(
            time.monotonic() - started)
        if progress.done:
            metrics.MOVED_BYTES.labels(name, operation_type).inc(progress.done)
