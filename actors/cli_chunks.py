"""``strongbox verify`` and ``strongbox bank gc``: the chunk store's maintenance commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import msgspec

from actors.checkpoint_verify import VerifyFailed, verify_checkpoint
from actors.engine import Engine

if TYPE_CHECKING:
    from actors.cli import Output


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction in [0, 1]")
    return value


async def verify(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Verify a checkpoint; list what is bad, then fail (exit 1) if anything is.

    Raises:
        VerifyFailed: if any chunk or manifest is bad.
    """
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
