"""Protect no-op graphs of 1k, 10k and 100k resources; print µs per resource and peak RSS.

    python -m bench.engine_bench [--sizes 1000,10000,100000]

Each case runs in its own process so peak RSS belongs to that case alone. The baseline
(``bench.ideal_scheduler``) runs the same graph in the same process and order with no
messages, events or bank; the ratio is the number to watch across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, ResourceRef
from bench import synthetic
from bench.ideal_scheduler import run_ideal
from plugins.checkpoint.graph import ResourceGraph
from plugins.registry import PluginRegistry
from plugins.resource import Resource

PROVIDER = """[provider]
name = Bench
id = bench
description = no-op benchmark provider
bank = filesystem
plugin = noop

[filesystem]
path = {bank}
"""


def registry() -> PluginRegistry:
    found = PluginRegistry()
    for cls in (synthetic.BenchProject, synthetic.BenchServer, synthetic.BenchVolume,
                synthetic.BenchItem):
        found.register_protectable(cls)
    return found


def request_for(shape: str, size: int) -> ProtectRequest:
    if shape == "tree":  # project -> servers -> 2 volumes each: 1 + 3n resources
        servers = max(1, (size - 1) // 3)
        return ProtectRequest(resources=[ResourceRef(synthetic.PROJECT, str(servers))])
    return ProtectRequest(resources=[ResourceRef(synthetic.ITEM, f"i{i}") for i in range(size)])


async def measure(shape: str, size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        providers = Path(scratch) / "providers"
        providers.mkdir()
        (providers / "bench.conf").write_text(PROVIDER.format(bank=Path(scratch) / "bank"))
        async with Engine.embedded(providers, registry=registry()) as engine:
            began = time.perf_counter()
            graph = await engine.build_graph(request_for(shape, size).resources)
            built = time.perf_counter()
            result = await engine.run(request_for(shape, size), graph=graph)
            finished = time.perf_counter()
            if result.status != "succeeded":
                raise SystemExit(f"benchmark operation failed: {result.error}")
        baseline_graph = ResourceGraph([Resource(type="x", id=str(i)) for i in range(len(graph))],
                                       graph.children)
        ideal_began = time.perf_counter()
        await run_ideal(baseline_graph)
        ideal = time.perf_counter() - ideal_began
    count = len(graph)
    return {
        "resources": count,
        "graph_us": (built - began) / count * 1e6,
        "run_us": (finished - built) / count * 1e6,
        "total_us": (finished - began) / count * 1e6,
        "ideal_us": ideal / count * 1e6,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_case(shape: str, size: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.engine_bench", "--case", f"{shape}:{size}"],
        check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        shape, size = args.case.split(":")
        sys.stdout.write(json.dumps(asyncio.run(measure(shape, int(size)))) + "\n")
        return
    header = (f"{'shape':<6}{'resources':>10}{'graph µs':>10}{'run µs':>9}{'total µs':>10}"
              f"{'ideal µs':>10}{'run/ideal':>10}{'peak RSS MiB':>14}")
    sys.stdout.write(header + "\n" + "-" * len(header) + "\n")
    for size in (int(s) for s in args.sizes.split(",")):
        for shape in ("tree", "flat"):
            row = run_case(shape, size)
            sys.stdout.write(
                f"{shape:<6}{int(row['resources']):>10}{row['graph_us']:>10.1f}"
                f"{row['run_us']:>9.1f}{row['total_us']:>10.1f}{row['ideal_us']:>10.1f}"
                f"{row['run_us'] / row['ideal_us']:>10.1f}{row['peak_rss_mib']:>14.0f}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
