"""``python -m tests.cluster.worker_main``: a real worker process with the cluster plugin.

The same ``run_worker`` as ``strongbox worker``; only the registry adds the test plugin
and the synthetic protectables, which have no entry points.
"""

from __future__ import annotations

import argparse
import asyncio

from actors.service.logging_setup import configure_logging
from actors.service.worker import WorkerOptions, run_worker
from tests.cluster.plugin import cluster_registry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--providers-dir", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--lease-ttl", type=float, default=60.0)
    parser.add_argument("--metrics-port", type=int, default=None)
    args = parser.parse_args()
    configure_logging("info")
    options = WorkerOptions(amqp_url=args.amqp_url, namespace=args.namespace,
                            shards=args.shards, providers_dir=args.providers_dir,
                            worker_id=args.worker_id, lease_ttl=args.lease_ttl,
                            metrics_port=args.metrics_port)
    asyncio.run(run_worker(options, registry=cluster_registry()))


if __name__ == "__main__":
    main()
