"""``strongbox``: protect, restore and delete resources from the command line.

Every command runs an embedded engine in this process, unless a broker is given
(``--amqp-url`` or ``STRONGBOX_AMQP_URL``): then ``protect``, ``restore``, ``delete``,
``verify --operation`` and ``watch`` go through the workers (``strongbox worker``).
Operations show live progress on a terminal and JSON lines (one event per line)
otherwise. A failure exits 1 with one line on stderr, ``strongbox: error: <reason>``;
bad usage exits 2 (argparse).

Ctrl-C exits 130 (128 + SIGINT) with ``strongbox: error: interrupted``; an operation this
process runs is stopped first and ends ``cancelled`` (a protect's checkpoint ``error``,
reason ``interrupted``). A second Ctrl-C does not wait for that. When the reader of
stdout goes away (``strongbox checkpoints list | head -1``), the command ends silently
with 141 (128 + SIGPIPE), the status a shell shows for a program SIGPIPE killed, as
``yes | head -1`` does; an operation it runs is stopped likewise (reason ``output
closed``). Python ignores SIGPIPE, so the broken pipe arrives as ``BrokenPipeError``;
as the Python documentation recommends (``signal`` module, "Note on SIGPIPE"), stdout
is then pointed at ``/dev/null`` so that the flush at exit cannot fail again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable

import structlog

from actors.cli import broker as cli_broker
from actors.cli import chunks as cli_chunks
from actors.cli import commands, plugin_kit
from actors.cli import demo as cli_demo
from actors.cli import plans as cli_plans
from actors.cli.output import Command, Output
from actors.errors import StrongboxError
from actors.operations.engine import Engine
from actors.plans.scheduler import DEFAULT_GC_INTERVAL, DEFAULT_GRACE
from actors.service.logging_setup import LEVELS, configure_logging, resolve_level
from actors.service.worker import (
    AMQP_URL_ENV,
    AMQP_URL_FILE_ENV,
    WorkerOptions,
    broker_url,
    run_worker,
)
from actors.transport.topology import DEFAULT_NAMESPACE, DEFAULT_SHARDS, MAX_QUEUED_REQUESTS
from actors.wire.schemas import render_schema
from banks.errors import BankError
from plugins.errors import PluginError

log = structlog.get_logger(__name__)

EXPECTED_ERRORS = (StrongboxError, PluginError, BankError)
INTERRUPTED = 130  # 128 + SIGINT
BROKEN_PIPE = 141  # 128 + SIGPIPE
# Failures the user already sees as the one error line (and in the event stream); their
# logs come back with -v.
# provider_not_loaded: `providers list` shows the error, and using that provider (or the
# default, which a broken file makes ambiguous) fails with it
REPORTED_FAILURES = ("activity_failed", "operation_open_failed", "operation_seal_failed",
                     "provider_not_loaded")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options; on sub-commands (``suppress``) they only override when given."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--providers-dir", default=default(None), metavar="DIR",
                        help="provider files (default: $STRONGBOX_PROVIDERS_DIR, else shipped)")
    parser.add_argument("--provider", default=default(None), metavar="ID_OR_NAME",
                        help="provider to use (default: $STRONGBOX_PROVIDER or the only one)")
    parser.add_argument("--amqp-url", default=default(None), metavar="URL",
                        help="the workers' broker (default: $STRONGBOX_AMQP_URL); protect, "
                             "restore, delete and watch then go through the workers")
    parser.add_argument("--amqp-url-file", default=default(None), metavar="FILE",
                        help="read the broker URL from FILE (default: "
                             "$STRONGBOX_AMQP_URL_FILE): keeps its password out of ps")
    parser.add_argument("--namespace", default=default(DEFAULT_NAMESPACE), metavar="NAME",
                        help="prefix of the broker's queues and exchanges")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="JSON output, even on a terminal")
    parser.add_argument("--log-level", choices=LEVELS, default=default(None),
                        help="log level (default: $STRONGBOX_LOG_LEVEL, else warning)")
    parser.add_argument("-v", "--verbose", action="count", default=default(0),
                        help="more logs: -v info, -vv debug")


def _operation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", action="append", default=[], metavar="TYPE[#ID].FIELD=VALUE",
                        help="one parameter; VALUE is JSON if it parses, else a string")
    parser.add_argument("--parameters", metavar="JSON|@FILE",
                        help="all parameters as {TYPE or TYPE#ID: {FIELD: VALUE}}")
    parser.add_argument("--request-id", metavar="ID", help="operation id (idempotency key)")
    _client_options(parser)


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "dot", "svg"), default="text",
                        help="text (default), json (as --json), dot (Graphviz source) or svg "
                             "(drawn by Graphviz; a checkpoint's resources coloured by status)")


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="with --amqp-url: follow the operation until it ends "
                             "(embedded runs always wait)")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="with --amqp-url --wait: give up after S seconds")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command; each leaf sets ``command``."""
    parser = argparse.ArgumentParser(prog="strongbox", description=__doc__.split("\n")[0])
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
            command: Command, text: str) -> argparse.ArgumentParser:
        leaf = sub.add_parser(name, parents=[common], help=text, description=text)
        leaf.set_defaults(command=command)
        return leaf

    providers = groups.add_parser("providers", help="provider files").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    add(providers, "list", commands.providers_list, "list the providers")
    add(providers, "show", commands.providers_show,
        "show a provider and its parameter schemas").add_argument("id", nargs="?")

    resources = groups.add_parser("resources", help="protectable resources").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    add(resources, "list", commands.resources_list, "list resources of a type"
        ).add_argument("type")
    show = add(resources, "show", commands.resources_show, "show one resource")
    show.add_argument("type")
    show.add_argument("id")
    graph = add(resources, "graph", commands.resources_graph, "show the dependency tree")
    graph.add_argument("resources", nargs="+", metavar="TYPE#ID")
    _format_option(graph)

    _add_protect_parser(groups, add)

    restore = add(groups, "restore", commands.restore, "restore a checkpoint")
    restore.add_argument("checkpoint")
    _operation_options(restore)
    restore.add_argument("--target", metavar="DIR", type=os.path.abspath,
                         help="restore into DIR (every type whose plugin takes a target; "
                              "several directory roots: DIR/<base name> each)")

    delete = add(groups, "delete", commands.delete, "delete a checkpoint")
    delete.add_argument("checkpoint")
    delete.add_argument("--request-id", metavar="ID", help="operation id (idempotency key)")
    _client_options(delete)

    checkpoints = groups.add_parser("checkpoints", help="checkpoints in the bank"
                                    ).add_subparsers(dest="action", required=True,
                                                     metavar="ACTION")
    listing = add(checkpoints, "list", commands.checkpoints_list, "list checkpoints")
    listing.add_argument("--limit", type=int, metavar="N")
    listing.add_argument("--marker", metavar="ID", help="list after this checkpoint")
    listing.add_argument("--plan", metavar="PLAN",
                         help="only the checkpoints this plan (name or id) protected")
    show_checkpoint = add(checkpoints, "show", commands.checkpoints_show, "show one checkpoint")
    show_checkpoint.add_argument("id")
    _format_option(show_checkpoint)

    verify = cli_chunks.add_parsers(groups, add)  # verify, bank gc
    verify.add_argument("--request-id", metavar="ID",
                        help="with --operation: operation id (idempotency key)")
    _client_options(verify)

    demo = add(groups, "demo", _demo_placeholder,
               "protect a sample directory tree, restore it elsewhere, compare the two")
    demo.add_argument("--work", default="var/demo", metavar="DIR",
                      help="where the sample, its bank and the restore go (default: var/demo)")

    watch = add(groups, "watch", commands.watch, "follow an operation run by another process")
    watch.add_argument("operation_id")
    watch.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")

    cli_plans.add_parsers(groups, add, _client_options)
    plugin_kit.add_parsers(groups, add, _plugin_new_placeholder)

    add(groups, "schema", _schema_placeholder,
        "print the JSON Schema of requests and events")

    _add_worker_parser(groups, add)
    return parser


METRICS_PORT_ENV = "STRONGBOX_METRICS_PORT"
METRICS_ADDRESS_ENV = "STRONGBOX_METRICS_ADDRESS"



def _add_protect_parser(groups: argparse._SubParsersAction[argparse.ArgumentParser],
                        add: Callable[..., argparse.ArgumentParser]) -> None:
    protect = add(groups, "protect", commands.protect, "protect resources into a checkpoint")
    protect.add_argument("resources", nargs="*", metavar="TYPE#ID")
    protect.add_argument("--plan", metavar="PLAN",
                         help="run this plan once now (its resources and parameters)")
    _operation_options(protect)
    protect.add_argument("--checkpoint-id", metavar="ID", help="id of the new checkpoint")


def _add_worker_parser(groups: argparse._SubParsersAction[argparse.ArgumentParser],
                       add: Callable[..., argparse.ArgumentParser]) -> None:
    worker = add(groups, "worker", _worker_placeholder,
                 "serve operations from the broker, with the other workers, and run the "
                 "plans' schedules (without a broker: the plans alone, in this process)")
    worker.add_argument("--worker-id", metavar="ID", help="this worker's name in events")
    worker.add_argument("--shards", type=int, default=DEFAULT_SHARDS, metavar="N",
                        help="actor shard queues (the same on every worker)")
    worker.add_argument("--max-activities", type=int, default=64, metavar="N",
                        help="activities running at once on this worker")
    worker.add_argument("--request-concurrency", type=int, default=4, metavar="N",
                        help="requests validated and submitted at once")
    worker.add_argument("--max-queued-requests", type=int, default=MAX_QUEUED_REQUESTS,
                        metavar="N", help="requests the request queue holds; the oldest beyond "
                        "go to <ns>.requests.dead (the same on every worker)")
    worker.add_argument("--lease-ttl", type=float, default=60.0, metavar="S",
                        help="seconds a checkpoint lease lives without renewal")
    worker.add_argument("--metrics-port", type=int, metavar="PORT",
                        # a string default goes through type=int: a bad value is a usage error
                        default=os.environ.get(METRICS_PORT_ENV) or None,
                        help="serve /metrics, /healthz and /readyz on PORT (default: "
                             f"${METRICS_PORT_ENV}; unset: not served)")
    worker.add_argument("--metrics-address", metavar="ADDRESS",
                        default=os.environ.get(METRICS_ADDRESS_ENV) or "127.0.0.1",
                        help="the interface of --metrics-port (default: "
                             f"${METRICS_ADDRESS_ENV}, else 127.0.0.1; 0.0.0.0 for all)")
    worker.add_argument("--plan-grace", type=float, default=DEFAULT_GRACE.total_seconds(),
                        metavar="S", help="a plan's slot may start up to S seconds late; "
                        "older ones are missed (default: 300)")
    worker.add_argument("--plan-gc-interval", type=float, default=DEFAULT_GC_INTERVAL,
                        metavar="S", help="after retention deleted checkpoints, collect their "
                        "bank's garbage at most every S seconds (default: 600)")
    worker.add_argument("--policy", metavar="FILE",
                        help="who may ask for what (default: $STRONGBOX_POLICY; without one, "
                             "only this worker's own broker user): docs/security.md")


async def _schema_placeholder(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Never called: ``schema`` needs no engine."""


async def _plugin_new_placeholder(engine: Engine, args: argparse.Namespace,
                                  out: Output) -> None:
    """Never called: ``plugin new`` writes files and needs no engine."""


async def _worker_placeholder(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Never called: ``worker`` builds its engine on the broker transport."""


async def _demo_placeholder(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Never called: ``demo`` opens its own engine after choosing its bank."""


async def _run(args: argparse.Namespace) -> None:
    out = Output(json=args.json)
    if args.command is _demo_placeholder:
        await cli_demo.demo(args, out)
        return
    if args.command is _plugin_new_placeholder:
        plugin_kit.plugin_new(args, out)
        return
    if args.command is _schema_placeholder:
        out.stream.write(render_schema())
        return
    if args.command is _worker_placeholder:
        options = WorkerOptions(
            amqp_url=_worker_broker_url(args),
            plan_grace=args.plan_grace, plan_gc_interval=args.plan_gc_interval,
            namespace=args.namespace, shards=args.shards, policy=args.policy,
            providers_dir=args.providers_dir, max_running_activities=args.max_activities,
            request_concurrency=args.request_concurrency, lease_ttl=args.lease_ttl,
            max_queued_requests=args.max_queued_requests,
            metrics_port=args.metrics_port, metrics_address=args.metrics_address,
            **({"worker_id": args.worker_id} if args.worker_id else {}))
        await run_worker(options)
        return
    if cli_broker.wants_broker(args):
        await cli_broker.run(args, out)
        return
    async with Engine.embedded(args.providers_dir) as engine:
        await args.command(engine, args, out)


def _worker_broker_url(args: argparse.Namespace) -> str | None:
    """The worker's broker URL, or None (embedded) when no option or variable names one."""
    if args.amqp_url or args.amqp_url_file or os.environ.get(AMQP_URL_ENV) or \
            os.environ.get(AMQP_URL_FILE_ENV):
        return broker_url(args.amqp_url, url_file=args.amqp_url_file)
    return None


def _fail(reason: str) -> None:
    sys.stderr.write(f"strongbox: error: {' '.join(reason.split())}\n")


def _silence_stdout() -> None:
    """Point stdout at /dev/null: what is left in its buffer goes nowhere at exit."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture): nothing will flush to a dead pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fileno)
    finally:
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (0 ok, 1 failed, 2 bad usage,
    130 interrupted, 141 output closed)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.group == "protect" and not args.resources and not args.plan:
        parser.error("protect: name the resources (TYPE#ID ...) or a plan (--plan)")
    try:
        level = resolve_level(args.log_level, args.verbose)
    except ValueError as error:
        parser.error(str(error))
    configure_logging(level, mute=REPORTED_FAILURES)
    try:
        try:
            asyncio.run(_run(args))
            sys.stdout.flush()  # here, not at exit: a broken pipe is still ours to handle
        except EXPECTED_ERRORS as error:
            log.debug("command_failed", error=str(error), exc_info=True)
            _fail(str(error) or type(error).__name__)
            return 1
        except KeyboardInterrupt:
            _fail("interrupted")
            return INTERRUPTED
    except BrokenPipeError:
        log.debug("output_closed")
        _silence_stdout()
        return BROKEN_PIPE
    return 0


if __name__ == "__main__":
    sys.exit(main())
