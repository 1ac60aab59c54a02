"""``strongbox``: protect, restore and delete resources from the command line.

Every command runs an embedded engine in this process. Operations show live progress
on a terminal and JSON lines (one event per line) otherwise. A failure exits 1 with one
line on stderr, ``strongbox: error: <reason>``; bad usage exits 2 (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import structlog

from actors import cli_commands as commands
from actors.engine import Engine
from actors.errors import StrongboxError
from actors.logging_setup import LEVELS, configure_logging, resolve_level
from banks.errors import BankError
from plugins.errors import PluginError

log = structlog.get_logger(__name__)

Command = Callable[[Engine, argparse.Namespace, commands.Output], Awaitable[None]]
EXPECTED_ERRORS = (StrongboxError, PluginError, BankError)
INTERRUPTED = 130
# Failures the user already sees as the one error line (and in the event stream); their
# logs come back with -v.
REPORTED_FAILURES = ("activity_failed", "operation_open_failed", "operation_seal_failed",
                     "command_failed")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options; on sub-commands (``suppress``) they only override when given."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--providers-dir", default=default(None), metavar="DIR",
                        help="provider files (default: $STRONGBOX_PROVIDERS_DIR, else shipped)")
    parser.add_argument("--provider", default=default(None), metavar="ID_OR_NAME",
                        help="provider to use (default: $STRONGBOX_PROVIDER or the only one)")
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
    add(resources, "graph", commands.resources_graph, "show the dependency tree"
        ).add_argument("resources", nargs="+", metavar="TYPE#ID")

    protect = add(groups, "protect", commands.protect, "protect resources into a checkpoint")
    protect.add_argument("resources", nargs="+", metavar="TYPE#ID")
    _operation_options(protect)
    protect.add_argument("--checkpoint-id", metavar="ID", help="id of the new checkpoint")

    restore = add(groups, "restore", commands.restore, "restore a checkpoint")
    restore.add_argument("checkpoint")
    _operation_options(restore)
    restore.add_argument("--target", metavar="DIR", type=os.path.abspath,
                         help="restore into DIR (every type whose plugin takes a target)")

    delete = add(groups, "delete", commands.delete, "delete a checkpoint")
    delete.add_argument("checkpoint")
    delete.add_argument("--request-id", metavar="ID", help="operation id (idempotency key)")

    checkpoints = groups.add_parser("checkpoints", help="checkpoints in the bank"
                                    ).add_subparsers(dest="action", required=True,
                                                     metavar="ACTION")
    listing = add(checkpoints, "list", commands.checkpoints_list, "list checkpoints")
    listing.add_argument("--limit", type=int, metavar="N")
    listing.add_argument("--marker", metavar="ID", help="list after this checkpoint")
    add(checkpoints, "show", commands.checkpoints_show, "show one checkpoint"
        ).add_argument("id")

    watch = add(groups, "watch", commands.watch, "follow an operation run by another process")
    watch.add_argument("operation_id")
    watch.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    return parser


async def _run(args: argparse.Namespace) -> None:
    out = commands.Output(json=args.json)
    async with Engine.embedded(args.providers_dir) as engine:
        await args.command(engine, args, out)


def _fail(reason: str) -> None:
    sys.stderr.write(f"strongbox: error: {' '.join(reason.split())}\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (0 ok, 1 failed, 2 bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        level = resolve_level(args.log_level, args.verbose)
    except ValueError as error:
        parser.error(str(error))
    configure_logging(level, mute=REPORTED_FAILURES)
    try:
        asyncio.run(_run(args))
    except EXPECTED_ERRORS as error:
        log.debug("command_failed", error=str(error), exc_info=True)
        _fail(str(error) or type(error).__name__)
        return 1
    except KeyboardInterrupt:
        _fail("interrupted")
        return INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
