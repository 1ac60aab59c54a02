"""The ``strongbox`` sub-commands: each is ``async (engine, args, out) -> None`` and raises
our own errors (``StrongboxError``, ``PluginError``, ``BankError``) for ``cli.main`` to
turn into one line and exit status 1. Argument parsing is in ``actors.cli.parsing``,
trees and times in ``actors.cli.formatting``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

import msgspec
import structlog

from actors.cli.formatting import local_time, tree_lines
from actors.cli.graph_render import graph_dot, render_svg
from actors.cli.parsing import (
    delete_request,
    parse_parameters,
    parse_ref,
    protect_request,
    request_ids,
)
from actors.cli.plan_arguments import run_request
from actors.cli.progress import failure_reason, final_lines, follow_operation, make_renderer
from actors.errors import OperationCancelled, PlanNotFound, RequestInvalid, StrongboxError
from actors.operations.engine import Engine
from actors.plans.access import LOCAL
from actors.plans.book import PlanBook
from actors.wire.events import OperationFinished
from actors.wire.requests import EngineRequest, RestoreRequest
from banks.errors import BankError
from plugins.checkpoint.graph import ResourceGraph
from plugins.errors import PluginError
from plugins.provider import Provider
from plugins.provider.config import BrokenProvider, ProviderConfig
from plugins.redaction import REDACTED, is_secret_key

if TYPE_CHECKING:
    from actors.cli.output import Output

log = structlog.get_logger(__name__)

CANCEL_GRACE: Final = 10.0  # seconds an interrupted operation gets to stop cleanly
# why the CLI stops an operation it runs: Ctrl-C, or the reader of its output went away
INTERRUPTED_REASON: Final = "interrupted"
OUTPUT_CLOSED_REASON: Final = "output closed"


# -- providers and resources -------------------------------------------------------------


def _provider_doc(provider: Provider) -> dict[str, Any]:
    types = provider.resource_types() + (["*"] if provider.wildcard_plugin else [])
    return {"id": provider.id, "name": provider.name, "description": provider.description,
            "bank": provider.bank_name, "plugins": list(provider.plugins), "types": types,
            "enabled": True, "source": str(provider.source)}


def _config_doc(config: ProviderConfig, *, enabled: bool) -> dict[str, Any]:
    return {"id": config.id.value, "name": config.name.value,
            "description": config.description, "bank": config.bank.value,
            "plugins": [p.value for p in config.plugins], "types": [], "enabled": enabled,
            "source": str(config.path)}


def _broken_doc(broken: BrokenProvider) -> dict[str, Any]:
    if broken.config is not None:
        doc = _config_doc(broken.config, enabled=broken.config.enabled)
    else:  # the file did not parse: only its path is known
        doc = {"id": "", "name": "", "description": "", "bank": "", "plugins": [],
               "types": [], "enabled": None, "source": str(broken.path)}
    return doc | {"error": str(broken.error)}


async def providers_list(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Every provider: the loaded ones, the disabled ones, then those that do not load.

    Exits 0 when at least one provider loads (or none is broken); when every provider
    file is broken, lists them and then fails (exit 1) with the error.
    """
    providers = engine.providers
    docs = [_provider_doc(p) | {"error": None} for p in providers.values()]
    docs += [_config_doc(c, enabled=False) | {"error": None} for c in providers.disabled()]
    docs += [_broken_doc(b) for b in providers.broken]
    if out.json:
        out.document(docs)
    else:
        out.table(["ID", "NAME", "DESCRIPTION", "BANK", "PLUGINS", "TYPES"], [
            # a provider that does not load shows its error where its description would be
            [d["id"] or "-", (d["name"] or d["source"]) + _state(d),
             f"error: {d['error']}" if d["error"] else d["description"],
             d["bank"], ", ".join(d["plugins"]), ", ".join(d["types"])] for d in docs])
    providers.raise_if_none_loads()


def _state(doc: dict[str, Any]) -> str:
    if doc["error"] is not None:
        return " (not loaded)"
    return "" if doc["enabled"] else " (disabled)"


async def providers_show(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """One provider, its bank options (secrets hidden) and its parameter schemas."""
    provider = engine.provider(args.id or args.provider)
    doc = _provider_doc(provider)
    doc["bank_options"] = {key: REDACTED if is_secret_key(key) else value
                           for key, value in provider.bank_config.items()}
    doc["extended_info_schema"] = provider.extended_info_schema()
    if out.json:
        out.document(doc)
        return
    out.fields([(key, ", ".join(value) if isinstance(value, list) else value)
                for key, value in doc.items() if not isinstance(value, dict)])
    out.line(f"bank_options: {msgspec.json.encode(doc['bank_options']).decode()}")
    out.line("extended_info_schema:")
    schema = msgspec.json.encode(doc["extended_info_schema"])
    out.line(msgspec.json.format(schema, indent=2).decode())


async def resources_list(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Every resource of a type, as its protectable lists them."""
    resources = await engine.list_resources(args.type, provider=args.provider)
    if out.json:
        out.document(resources)
        return
    out.table(["ID", "NAME"], [[r.id, r.name] for r in resources])


async def resources_show(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """One resource."""
    resource = await engine.show_resource(args.type, args.id, provider=args.provider)
    if out.json:
        out.document(resource)
        return
    out.fields([("type", resource.type), ("id", resource.id), ("name", resource.name),
                *((f"extra.{k}", v) for k, v in sorted(resource.extra.items()))])


async def resources_graph(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """The dependency tree of the selected resources (JSON: the stored graph document)."""
    refs = [parse_ref(text) for text in args.resources]
    graph = await engine.build_graph(refs, provider=args.provider)
    if args.format in ("dot", "svg"):
        await _draw(out, args.format, graph, None, " ".join(args.resources))
        return
    if out.json or args.format == "json":
        out.line(graph.encode().decode())
        return
    for line in tree_lines(graph):
        out.line(line)


async def _draw(out: Output, fmt: str, graph: ResourceGraph, statuses: dict[int, str] | None,
                title: str) -> None:
    """Write the graph as DOT text or, drawn by Graphviz, as SVG."""
    dot = graph_dot(graph, statuses, title)
    out.stream.write(dot if fmt == "dot" else await render_svg(dot, len(graph)))


# -- operations --------------------------------------------------------------------------


async def run_operation(engine: Engine, request: EngineRequest, out: Output,
                        label: str) -> OperationFinished:
    """Submit ``request``, render its events until it ends, and check that it succeeded.

    If this command is interrupted (Ctrl-C cancels it) or its output breaks (the reader
    of a pipe went away), the operation is stopped first, as a cancel with the reason
    ``interrupted`` or ``output closed``, so its checkpoint never stays ``protecting``.

    Raises:
        StrongboxError: ``<operation> failed at <resource>: <reason>``, if it failed.
        OperationCancelled: if it was cancelled.
        BrokenPipeError: if the output broke (the operation stopped).
    """
    operation_id = request.request_id
    subscription = engine.subscribe(operation_id)  # before submit: miss no event
    try:
        with make_renderer(not out.live, out.stream, out.console, label) as renderer:

            async def pump() -> None:
                async for event in subscription:
                    renderer.handle(event)
                    if isinstance(event, OperationFinished):
                        return

            pumping = asyncio.create_task(pump())
            try:
                await engine.submit(request)
                finished = await _until_end(engine, operation_id, pumping)
            except BaseException as error:
                await _stop(engine, operation_id, _stop_reason(error))
                raise
            await subscription.close()  # ends the pump even if the final event got lost
            await pumping
    finally:
        await subscription.close()
    check_finished(finished)
    return finished


async def _until_end(engine: Engine, operation_id: str,
                     pumping: asyncio.Task[None]) -> OperationFinished:
    """The operation's end, unless rendering its events fails first (a broken pipe).

    Raises:
        Exception: the renderer's, if it failed before the operation ended.
    """
    ending = asyncio.ensure_future(engine.wait(operation_id))
    try:
        await asyncio.wait({ending, pumping}, return_when=asyncio.FIRST_COMPLETED)
        if pumping.done() and pumping.exception() is not None:
            pumping.result()  # raises the renderer's failure
        return await ending
    finally:
        ending.cancel()


def _stop_reason(error: BaseException) -> str:
    if isinstance(error, BrokenPipeError):
        return OUTPUT_CLOSED_REASON
    return INTERRUPTED_REASON


async def _stop(engine: Engine, operation_id: str, reason: str) -> None:
    """Cancel the operation if it still runs here, and give it time to end."""
    if not engine.host.hosts(operation_id):
        return  # refused at submit, or already ended
    log.info("operation_interrupted", operation_id=operation_id, reason=reason)
    await engine.cancel(operation_id, reason)
    with contextlib.suppress(TimeoutError):
        await engine.wait(operation_id, timeout=CANCEL_GRACE)


def check_finished(finished: OperationFinished) -> None:
    """Raise unless the operation succeeded.

    Raises:
        StrongboxError, OperationCancelled: with ``failure_reason``'s one line.
    """
    if finished.status == "succeeded":
        return
    error = OperationCancelled if finished.status == "cancelled" else StrongboxError
    raise error(failure_reason(finished))


async def protect(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Protect resources (or run a plan once) into a new checkpoint; print its id."""
    if args.plan:
        wanted = run_request(args, None)
        book = PlanBook(engine)
        plan, request = await book.run_request(wanted.plan, LOCAL,
                                               request_id=wanted.request_id,
                                               provider_id=args.provider)
        # noted first, so a slot coming while it runs is skipped, not run alongside
        await book.record_run(plan, request.request_id)
        finished = await run_operation(engine, request, out, "protect")
    else:
        request = protect_request(args, engine.provider(args.provider).id)
        finished = await run_operation(engine, request, out, "protect")
    if out.live:
        for line in final_lines(finished):
            out.line(line)


def _target_types(provider: Provider, graph: ResourceGraph) -> list[str]:
    takers = []
    for resource_type in sorted(graph.types()):
        schema = provider.plugin_for(resource_type).restore_parameters_schema(resource_type)
        if any(f.name == "target" for f in msgspec.structs.fields(schema)):
            takers.append(resource_type)
    return takers


async def restore(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Restore every resource of a checkpoint."""
    provider = engine.provider(args.provider)
    parameters = parse_parameters(args.parameters, args.param)
    if args.target:
        _, graph, _ = await engine.show_checkpoint(args.checkpoint, provider=provider.id)
        takers = _target_types(provider, graph)
        if graph.nodes and not takers:
            raise RequestInvalid(f"--target: no resource type of checkpoint "
                                 f"{args.checkpoint!r} takes a target")
        for resource_type in takers:
            parameters.setdefault(resource_type, {}).setdefault("target", args.target)
    request = RestoreRequest(checkpoint_id=args.checkpoint, provider_id=provider.id,
                             parameters=parameters, **request_ids(args))
    finished = await run_operation(engine, request, out, "restore")
    if out.live:
        for line in final_lines(finished):
            out.line(line)


async def delete(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Delete a checkpoint and what its plugins stored."""
    request = delete_request(args, engine.provider(args.provider).id)
    finished = await run_operation(engine, request, out, "delete")
    if out.live:
        for line in final_lines(finished):
            out.line(line)


async def watch(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Follow an operation another process runs on the same bank until it ends."""
    provider = engine.provider(args.provider)
    bank = await engine.bank(provider)
    store = await engine.store(provider)

    async def load_graph(checkpoint_id: str) -> ResourceGraph | None:
        try:
            return await store.read_graph(checkpoint_id)
        except (PluginError, BankError) as error:  # names fall back to node numbers
            log.debug("watch_graph_unavailable", checkpoint_id=checkpoint_id, error=str(error))
            return None

    try:
        with make_renderer(not out.live, out.stream, out.console, "watch") as renderer:
            async with asyncio.timeout(args.timeout):
                finished = await follow_operation(bank, args.operation_id, renderer,
                                                  load_graph=load_graph)
    except TimeoutError:
        raise StrongboxError(f"watch timed out after {args.timeout:g} s; operation "
                             f"{args.operation_id!r} has not ended") from None
    check_finished(finished)
    if out.live:
        for line in final_lines(finished):
            out.line(line)


# -- checkpoints -------------------------------------------------------------------------


async def checkpoints_list(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Checkpoints of the provider, newest first."""
    plan_id = None
    if args.plan:
        try:
            plan_id = (await PlanBook(engine).find(args.plan, LOCAL))[0].id
        except PlanNotFound:
            plan_id = args.plan  # a deleted plan's id: its checkpoints stay
    indices = await engine.list_checkpoints(provider=args.provider, marker=args.marker,
                                            limit=args.limit, plan_id=plan_id)
    if out.json:
        out.document([msgspec.to_builtins(i) | {"created": local_time(i.created_at)}
                      for i in indices])
        return
    out.table(["ID", "STATUS", "CREATED", "RESOURCES", "PLAN", "ERROR"], [
        [i.id, i.status, local_time(i.created_at), i.resource_count, i.plan_id, i.error]
        for i in indices])


async def checkpoints_show(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """A checkpoint's index, per-resource status and a summary of its graph."""
    index, graph, states = await engine.show_checkpoint(args.id, provider=args.provider)
    if args.format in ("dot", "svg"):
        by_key = {(s.type, s.id): s.status for s in states}
        statuses = {node: by_key[r.type, r.id] for node, r in enumerate(graph.nodes)
                    if (r.type, r.id) in by_key}
        title = (f"checkpoint {index.id} ({index.status}, {local_time(index.created_at)}): "
                 f"{len(graph)} resources")
        await _draw(out, args.format, graph, statuses, title)
        return
    types = Counter(node.type for node in graph.nodes)
    graph_doc = {"nodes": len(graph), "roots": [graph.nodes[r].key for r in graph.roots],
                 "types": dict(sorted(types.items()))}
    if out.json or args.format == "json":
        out.document({"index": msgspec.to_builtins(index) | {
            "created": local_time(index.created_at)}, "resources": states, "graph": graph_doc})
        return
    out.fields([("id", index.id), ("status", index.status), ("provider", index.provider_id),
                ("created", local_time(index.created_at)),
                ("updated", local_time(index.updated_at)),
                ("operation", index.protect_operation_id), ("resources", index.resource_count),
                ("error", index.error), ("error_resource", index.error_resource),
                ("graph", f"{len(graph)} nodes, {len(graph.roots)} roots; " + ", ".join(
                    f"{t} x{n}" for t, n in sorted(types.items())))])
    if states:
        out.line()
        out.table(["RESOURCE", "NAME", "STATUS", "ACTIVITIES", "REASON"], [
            [f"{s.type}#{s.id}", s.name, s.status,
             ", ".join(f"{k.rpartition('_')[2]}={v}" for k, v in s.activities.items()),
             s.reason] for s in states])
