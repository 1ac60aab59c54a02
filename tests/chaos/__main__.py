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
from tests.chaos.faults import FAULTS
from tests.chaos.object_store import ObjectStore
from tests.chaos.report import Report
from tests.chaos.trials import Trials, run_dir


async def run_suite(trials: int, seed: int, base: Path,
                    faults: tuple[str, ...] = FAULTS) -> Report:
    """``trials`` trials on a private broker node and two worker processes, with a
    filesystem bank and (where Swift runs) an object-store bank behind a fault proxy."""
    node = BrokerNode()
    store = ObjectStore()
    try:
        await asyncio.gather(asyncio.to_thread(node.start), store.start())
        cluster = ChaosCluster(run_dir(base), node, object_store=store)
        try:
            await cluster.start()
            return await Trials(cluster, seed, faults).run(trials)
        finally:
            await cluster.close()
    finally:
        await store.close()
        await asyncio.to_thread(node.remove)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--errors", action="store_true", help="why each failed operation failed")
    parser.add_argument("--faults", type=lambda text: tuple(text.split(",")), default=FAULTS,
                        help=f"draw only these (comma-separated; default all: {','.join(FAULTS)})")
    args = parser.parse_args()
    configure_logging("warning")
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    report = asyncio.run(run_suite(args.trials, args.seed, args.workdir, args.faults))
    sys.stdout.write(report.table() + "\n")
    if args.errors:
        for line in report.errors:
            sys.stdout.write(f"  {line}\n")
    for failure in report.failures:
        sys.stdout.write(f"FAILED {failure}\n")
    sys.exit(1 if report.failures or report.hung or report.mismatches else 0)


if __name__ == "__main__":
    main()
