"""Soak: kill a random worker of three at a random moment, ``--rounds`` times (100 by default).

    PYTHONPATH=. .venv/bin/python -m tests.cluster.soak --rounds 100

Each round protects a 301-resource graph, SIGKILLs one worker mid-operation, checks that
the checkpoint ends ``available`` and that its restore is byte-identical, and prints one
line; the last line counts the failures (exit status 1 if any).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

from tests import broker
from tests.cluster.cluster import Milestone, cluster
from tests.integration.test_cluster import check_restore, protect_request


async def one_round(url: str, number: int) -> str | None:
    chooser = random.Random(number)
    with tempfile.TemporaryDirectory(prefix="strongbox-soak-") as root:
        async with cluster(url, Path(root), 3) as running:
            milestone = Milestone(chooser.randint(10, 860))  # of 903 activities
            operation = asyncio.create_task(
                running.run(protect_request(0.01), timeout=300, milestone=milestone))
            await milestone.wait()
            victim = chooser.choice(sorted(running.workers))
            running.kill(victim)
            finished = await operation
            if finished.status != "succeeded":
                return f"killed {victim}: {finished.status}: {finished.error}"
            await check_restore(running, finished.checkpoint_id, Path(root) / "restored")
    return None


async def main(url: str, rounds: int) -> int:
    failures = 0
    for number in range(rounds):
        began = time.monotonic()
        try:
            problem = await one_round(url, number)
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
        failures += problem is not None
        sys.stdout.write(f"round {number:3d}: {problem or 'ok'} "
                         f"({time.monotonic() - began:.1f} s)\n")
    sys.stdout.write(f"{rounds - failures}/{rounds} rounds ok\n")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    sys.exit(asyncio.run(main(broker.broker_url(), parser.parse_args().rounds)))
