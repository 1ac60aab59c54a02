"""Run one protection plugin through the real engine, embedded, and check what the seed
promises: protect -> restore -> delete on a temporary filesystem bank.

For each operation it checks that the operation succeeded, the seed's four orderings on
the events (``actors.testing.orderings``), that the journal in the bank has every
activity of every resource ``done`` exactly once, and the checkpoint's status
(``available`` after protect and restore, ``deleted`` after delete). Any miss raises
``HarnessFailure`` (an ``AssertionError``, so pytest shows it as a failed check) naming the
operation, the resource and the activity.

A plugin package's test::

    from actors.testing.harness import run_plugin

    def test_my_plugin_protects_restores_and_deletes(tmp_path):
        run = run_plugin("my-protection", ["Acme::Bucket#b1"], work_dir=tmp_path)
        assert run.protect.graph.find("Acme::Bucket", "b1") is not None

The plugins are found through their entry points (an installed package), or passed as
classes (``protection=MyProtection``, ``protectables=[MyProtectable]``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.operations.engine import Engine
from actors.operations.operation_setup import OperationRequest
from actors.testing.orderings import PHASES, check_seed_orderings
from actors.wire.events import Event
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import JournalEntry, read_journal
from plugins.registry import PluginRegistry

PROVIDER_ID = "plugin-harness"
_CHECKPOINT_AFTER = {"protect": CheckpointStatus.AVAILABLE,
                     "restore": CheckpointStatus.AVAILABLE,
                     "delete": CheckpointStatus.DELETED}


class HarnessFailure(AssertionError):
    """The plugin did not do what the seed promises; the message says what and where."""


@dataclass(frozen=True, slots=True)
class OperationTrace:
    """What one operation did: its id, the graph it ran, its events and journal."""

    operation_id: str
    graph: ResourceGraph
    events: list[Event]
    journal: list[JournalEntry]


@dataclass(frozen=True, slots=True)
class PluginRun:
    """The three operations of one harness run, and where its bank lies."""

    checkpoint_id: str
    protect: OperationTrace
    restore: OperationTrace
    delete: OperationTrace
    bank_path: Path


def run_plugin(protection: str | type[Any], resources: Sequence[str], *, work_dir: Path,
               protectables: Sequence[type[Any]] = (),
               parameters: Mapping[str, Mapping[str, Any]] | None = None,
               restore_parameters: Mapping[str, Mapping[str, Any]] | None = None,
               plugin_options: Mapping[str, str] | None = None,
               timeout: float = 60.0) -> PluginRun:
    """Protect ``resources`` (``TYPE#ID``), restore and delete the checkpoint; check each.

    ``protection`` is an entry-point name of ``strongbox.protections`` (or ``module:Class``),
    or a class; ``protectables`` are classes registered beside the installed ones.
    ``plugin_options`` go in the plugin's provider-file section (``poll_interval``
    defaults to 0.01 s here). Raises HarnessFailure on the first miss.
    """
    return asyncio.run(exercise_plugin(
        protection, resources, work_dir=work_dir, protectables=protectables,
        parameters=parameters, restore_parameters=restore_parameters,
        plugin_options=plugin_options, timeout=timeout))


async def exercise_plugin(protection: str | type[Any], resources: Sequence[str], *,
                          work_dir: Path, protectables: Sequence[type[Any]] = (),
                          parameters: Mapping[str, Mapping[str, Any]] | None = None,
                          restore_parameters: Mapping[str, Mapping[str, Any]] | None = None,
                          plugin_options: Mapping[str, str] | None = None,
                          timeout: float = 60.0) -> PluginRun:
    """``run_plugin`` for a test that already runs an event loop."""
    registry = PluginRegistry()
    name = protection if isinstance(protection, str) else _register(registry, protection)
    for cls in protectables:
        registry.register_protectable(cls, replace=True)
    bank_path = work_dir / "bank"
    providers = _write_provider(work_dir / "providers", name, bank_path,
                                {"poll_interval": "0.01", **(plugin_options or {})})
    refs = [_ref(text) for text in resources]
    async with Engine.embedded(providers, registry=registry) as engine:
        protected = await _run(engine, ProtectRequest(
            resources=refs, parameters=_plain(parameters)), None, timeout)
        checkpoint_id = protected.checkpoint_id
        restored = await _run(engine, RestoreRequest(
            checkpoint_id=checkpoint_id, parameters=_plain(restore_parameters)),
            protected.trace.graph, timeout)
        deleted = await _run(engine, DeleteRequest(checkpoint_id=checkpoint_id),
                             protected.trace.graph, timeout)
    return PluginRun(checkpoint_id=checkpoint_id, protect=protected.trace,
                     restore=restored.trace, delete=deleted.trace, bank_path=bank_path)


@dataclass(frozen=True, slots=True)
class _Ran:
    checkpoint_id: str
    trace: OperationTrace


async def _run(engine: Engine, request: OperationRequest, graph: ResourceGraph | None,
               timeout: float) -> _Ran:
    """Run one operation and check it; ``graph`` is the checkpoint's (None for protect)."""
    subscription = engine.subscribe()
    finished = await engine.run(request, timeout=timeout)
    await subscription.close()
    operation = finished.operation_type
    if finished.status != "succeeded":
        raise HarnessFailure(f"{operation} {finished.status}: {finished.error} "
                             f"(resource {finished.error_resource})")
    # in causal order by the events' own clocks
    events = sorted([event async for event in subscription if
                     event.operation_id == finished.operation_id], key=lambda e: e.at)
    index, stored, _ = await engine.show_checkpoint(finished.checkpoint_id)
    graph = graph if graph is not None else stored
    check_seed_orderings(graph, events, operation)
    bank = await engine.bank(engine.provider(PROVIDER_ID))
    journal = await read_journal(bank, finished.operation_id)
    _check_journal(graph, journal, operation)
    if index.status != _CHECKPOINT_AFTER[operation]:
        raise HarnessFailure(f"after {operation} the checkpoint {index.id} is {index.status}, "
                             f"not {_CHECKPOINT_AFTER[operation]}")
    return _Ran(finished.checkpoint_id,
                OperationTrace(finished.operation_id, graph, events, journal))


def _check_journal(graph: ResourceGraph, journal: Sequence[JournalEntry], operation: str) -> None:
    """Every activity of every resource journaled ``done``, once."""
    done = Counter((e.node, e.activity) for e in journal if e.state == "done")
    for entry in journal:
        if 0 <= entry.node < len(graph) and entry.state != "done":
            raise HarnessFailure(f"{operation}: the journal has {entry.activity} of "
                                 f"{graph.nodes[entry.node].key} {entry.state}: {entry.reason}")
    for node, resource in enumerate(graph.nodes):
        for phase in PHASES:
            count = done[(node, f"{operation}_{phase}")]
            if count != 1:
                raise HarnessFailure(f"{operation}: the journal has {operation}_{phase} of "
                                     f"{resource.key} done {count} times, not once")


def _register(registry: PluginRegistry, cls: type[Any]) -> str:
    name = cls.__name__
    registry.register_protection(name, cls, replace=True)
    return name


def _write_provider(directory: Path, plugin: str, bank: Path,
                    options: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    section = "".join(f"{key} = {value}\n" for key, value in options.items())
    (directory / "harness.conf").write_text(
        f"[provider]\nname = Harness\nid = {PROVIDER_ID}\n"
        f"description = the plugin harness\nbank = filesystem\nplugin = {plugin}\n"
        f"\n[filesystem]\npath = {bank}\n\n[{plugin}]\n{section}")
    return directory


def _ref(text: str) -> ResourceRef:
    resource_type, sep, resource_id = text.rpartition("#")
    if not sep or not resource_type or not resource_id:
        raise ValueError(f"resource {text!r}: expected TYPE#ID")
    return ResourceRef(type=resource_type, id=resource_id)


def _plain(parameters: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {key: dict(value) for key, value in (parameters or {}).items()}
