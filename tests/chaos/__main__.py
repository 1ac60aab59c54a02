"""``python -m tests.chaos --trials 200``: the chaos suite, and its table (``make chaos``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from actors.service.logging_setup import configure_logging
from tests.chaos.broker_node import BrokerNode
from tests.chaos.cluster import ChaosCluster
from tests.chaos.report import Report
from tests.chaos.trials import Trials, run_dir


async def run_suite(trials: int, seed: int, base: Path) -> Report:
    """``trials`` trials on a private broker node and two worker processes."""
    node = BrokerNode()
    await asyncio.to_thread(node.start)
    cluster = ChaosCluster(run_dir(base), node)
    try:
        await cluster.start()
        return await Trials(cluster, seed).run(trials)
    finally:
        await cluster.close()
        await asyncio.to_thread(node.remove)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--errors", action="store_true", help="why each failed operation failed")
    args = parser.parse_args()
    configure_logging("warning")
    report = asyncio.run(run_suite(args.trials, args.seed, args.workdir))
    sys.stdout.write(report.table() + "\n")
    if args.errors:
        for line in report.errors:
            sys.stdout.write(f"  {line}\n")
    for failure in report.failures:
        sys.stdout.write(f"FAILED {failure}\n")
    sys.exit(1 if report.failures or report.hung or report.mismatches else 0)


if __name__ == "__main__":
    main()
