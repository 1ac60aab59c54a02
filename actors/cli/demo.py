"""``strongbox demo``: the main job, protect a sample tree and restore it, then compare."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from actors.cli import commands
from actors.errors import StrongboxError
from actors.operations.demo import run_demo
from actors.operations.engine import Engine
from actors.wire.events import OperationFinished
from actors.wire.requests import EngineRequest

if TYPE_CHECKING:
    from actors.cli.output import Output

BANK_ENV = "STRONGBOX_BANK_PATH"


def _prepare(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    return work.resolve()


async def demo(args: argparse.Namespace, out: Output) -> None:
    """Run the demo under ``--work``; its bank too, unless STRONGBOX_BANK_PATH says else.

    Raises:
        StrongboxError: if the restored tree differs from the original.
    """
    work = await asyncio.to_thread(_prepare, Path(args.work))
    os.environ.setdefault(BANK_ENV, str(work / "bank"))
    async with Engine.embedded(args.providers_dir) as engine:

        async def run(request: EngineRequest, label: str) -> OperationFinished:
            return await commands.run_operation(engine, request, out, label)

        protected, restored, problems, compared = await run_demo(engine, work, run)
    if problems:
        for problem in problems[:20]:
            out.line(problem)
        raise StrongboxError(
            f"the restore differs from the original in {len(problems)} "
            f"entries (first: {problems[0]})"
        )
    out.line(
        f"protected {work / 'sample'} as checkpoint {protected.checkpoint_id} "
        f"({protected.duration:.2f} s) in bank {os.environ[BANK_ENV]}"
    )
    out.line(f"restored to {work / 'restored'} ({restored.duration:.2f} s)")
    out.line(
        f"identical: {compared} entries compared (bytes, modes, mtimes, symlinks, "
        f"empty directories)"
    )
