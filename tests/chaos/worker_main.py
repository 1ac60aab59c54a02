"""``python -m tests.chaos.worker_main``: a real worker process with the chaos plugins."""

from __future__ import annotations

import argparse
import asyncio

from actors.service.logging_setup import configure_logging
from actors.service.worker import WorkerOptions, run_worker
from tests.chaos.plugin import chaos_registry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--providers-dir", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--lease-ttl", type=float, default=3.0)
    args = parser.parse_args()
    configure_logging("info")
    options = WorkerOptions(amqp_url=args.amqp_url, namespace=args.namespace,
                            shards=args.shards, providers_dir=args.providers_dir,
                            worker_id=args.worker_id, lease_ttl=args.lease_ttl)
    asyncio.run(run_worker(options, registry=chaos_registry()))


if __name__ == "__main__":
    main()
