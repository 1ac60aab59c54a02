"""`python -m tests.devcloud up|down|status|lock`: the dev cloud as a standalone command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import structlog

from tests.devcloud import cloud
from tests.devcloud.config import default_state_dir, saved_config
from tests.devcloud.errors import DevCloudError
from tests.devcloud.venv import lock_versions

log = structlog.get_logger("tests.devcloud")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.devcloud", description=__doc__)
    parser.add_argument("--state", type=Path, default=default_state_dir(), help="state directory")
    parser.add_argument(
        "--port-offset",
        type=int,
        default=None,
        help="added to every API port (default: what the state directory was set up with, or 0)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the cloud (reuses running services)")
    up.add_argument(
        "--services",
        default=",".join(cloud.SERVICE_NAMES),
        help=f"comma-separated subset of {','.join(cloud.SERVICE_NAMES)}",
    )
    down = commands.add_parser("down", help="stop every service by its recorded pid")
    down.add_argument("--purge", action="store_true", help="also drop databases, vhost, state")
    commands.add_parser("status", help="each service's pid and health")
    lock = commands.add_parser("lock", help="re-resolve requirements.txt into constraints.txt")
    lock.add_argument("--scratch", type=Path, default=Path("/tmp/devcloud-lock-venv"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = saved_config(str(args.state.resolve()), args.port_offset)
    except ValueError as error:
        log.error("devcloud_config_conflict", error=str(error))
        return 2
    try:
        if args.command == "up":
            cloud.up(config, [name for name in args.services.split(",") if name])
        elif args.command == "down":
            cloud.down(config, purge=args.purge)
        elif args.command == "status":
            rows = cloud.status(config)
            for row in rows:
                log.info(
                    "service_status",
                    service=row.name,
                    pid=row.pid,
                    alive=row.alive,
                    healthy=row.healthy,
                    log=row.log,
                )
            if not rows:
                log.info("devcloud_not_running", state=config.state_dir)
            return 0 if rows and all(row.healthy for row in rows) else 1
        elif args.command == "lock":
            lock_versions(args.scratch)
    except DevCloudError as error:
        log.error("devcloud_failed", error=str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
