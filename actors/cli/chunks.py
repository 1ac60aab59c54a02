"""``strongbox verify`` and ``strongbox bank gc``: the chunk store's maintenance commands.

``verify`` checks in this process and prints a report; ``verify --operation`` runs the
``verify`` operation on actors instead (through the workers when a broker is given),
with the progress display of the other operations.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from actors.cli.commands import run_operation
from actors.cli.parsing import verify_request
from actors.cli.progress import summary
from actors.operations.bank_gc import collect_bank_garbage
from actors.operations.checkpoint_verify import VerifyFailed, verify_checkpoint
from actors.operations.engine import Engine

if TYPE_CHECKING:
    from actors.cli.output import Command, Output

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
    AddLeaf = Callable[[Subcommands, str, Command, str], argparse.ArgumentParser]


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction in [0, 1]")
    return value


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, not negative."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def add_parsers(groups: Subcommands, add: AddLeaf) -> argparse.ArgumentParser:
    """Add ``verify`` and ``bank gc`` to the CLI's parser (``add`` makes one leaf); return
    the ``verify`` parser, for the options it shares with the other operations."""
    verify_parser = add(groups, "verify", verify,
                        "check that a checkpoint's chunks exist, decrypt and match their hashes")
    verify_parser.add_argument("checkpoint")
    verify_parser.add_argument("--sample", type=fraction, default=1.0, metavar="P",
                               help="read a random fraction P of the chunks in full (default: 1)")
    verify_parser.add_argument("--operation", action="store_true",
                               help="run as a verify operation on actors (with --amqp-url: "
                                    "on the workers); the checkpoint's status is unchanged")
    bank = groups.add_parser("bank", help="the bank's chunk store").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    gc = add(bank, "gc", bank_gc, "delete the chunks no checkpoint of the bank refers to")
    gc.add_argument("--grace", type=seconds, default=3600.0, metavar="S",
                    help="keep chunks written less than S seconds before the mark "
                         "(default: 3600)")
    gc.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    gc.add_argument("--wait", type=seconds, default=0.0, metavar="S",
                    help="wait up to S seconds for running protects to end "
                         "(default: refuse at once)")
    return verify_parser


async def verify(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Verify a checkpoint; list what is bad, then fail (exit 1) if anything is.

    Raises:
        VerifyFailed: if any chunk or manifest is bad.
        StrongboxError: with ``--operation``, naming each resource that failed.
    """
    if args.operation:
        request = verify_request(args, engine.provider(args.provider).id)
        finished = await run_operation(engine, request, out, "verify")
        if out.live:
            out.line(summary(finished))
        return
    report = await verify_checkpoint(engine, args.checkpoint, provider=args.provider,
                                     sample=args.sample)
    if out.json:
        out.document(msgspec.to_builtins(report))
    else:
        for problem in report.problems:
            out.line("BAD " + problem.describe())
        out.line(f"checkpoint {report.checkpoint}: {report.resources} resource(s), "
                 f"{report.chunks} chunk(s) referenced, {report.sample:.0%} read, "
                 f"{len(report.problems)} problem(s)")
    if not report.ok:
        raise VerifyFailed(report)


async def bank_gc(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Collect the chunks no checkpoint of the provider's bank refers to.

    Raises:
        GcRefused: while a checkpoint is being protected, still after ``--wait``
            (nothing is deleted).
    """
    report = await collect_bank_garbage(engine, provider=args.provider, grace=args.grace,
                                        dry_run=args.dry_run, wait=args.wait)
    if out.json:
        out.document(msgspec.to_builtins(report))
        return
    sweep = report.sweep
    out.fields([("bank", report.bank), ("checkpoints", report.checkpoints),
                ("chunks referenced", report.marked), ("chunks stored", sweep.stored),
                ("deleted" + (" (dry run)" if sweep.dry_run else ""), sweep.deleted),
                ("kept (written within the grace)", sweep.kept_recent)])
