"""Protect a tree into a FilesystemBank, restore it elsewhere, report time and peak memory.

Run in its own process, so that its peak RSS is the plugin's and not the test runner's::

    python -m tests.helpers.directory_roundtrip SOURCE BANK_DIR TARGET

Writes one JSON line to stdout: ``peak_rss_kib`` (``VmHWM``, KiB), the RSS before any
data moved, and the seconds each half took. Logs go to stderr.

Not ``ru_maxrss``: Linux carries it over ``exec`` from the forking process, so a test
runner that had grown to 140 MiB would be charged to this process.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

import structlog

from banks.filesystem.bank import FilesystemBank
from plugins.local.directory.protection import (
    DirectoryParameters,
    DirectoryProtection,
    DirectoryRestoreParameters,
)
from tests.helpers.directory_trees import activity_context, checkpoint_for, directory_resource


def peak_rss_kib() -> int:
    """This process's own peak resident set size, in KiB (Linux ``VmHWM``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def round_trip(source: Path, bank_dir: Path, target: Path) -> dict[str, float]:
    """Protect ``source`` into a bank at ``bank_dir`` and restore it to ``target``."""
    baseline = peak_rss_kib()
    bank = await FilesystemBank.open({"path": str(bank_dir)})
    # the shipped defaults (1 MiB reads, 4 files at once, ~1 MiB chunks), encrypted
    plugin = DirectoryProtection({"passphrase": "round trip passphrase"})
    item = directory_resource(source)
    started = time.perf_counter()
    await plugin.activity_protect_parallel(
        checkpoint_for(bank, item, writable=True),
        activity_context("protect"),
        item,
        DirectoryParameters(),
    )
    protected = time.perf_counter()
    await plugin.activity_restore_parallel(
        checkpoint_for(bank, item, writable=False),
        activity_context("restore"),
        item,
        DirectoryRestoreParameters(target=str(target)),
    )
    restored = time.perf_counter()
    await bank.close()
    return {
        "baseline_rss_kib": baseline,
        "peak_rss_kib": peak_rss_kib(),
        "protect_seconds": protected - started,
        "restore_seconds": restored - protected,
    }


def main(argv: list[str]) -> None:
    """Entry point: ``SOURCE BANK_DIR TARGET``."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    source, bank_dir, target = (Path(arg) for arg in argv[1:4])
    report = asyncio.run(round_trip(source, bank_dir, target))
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main(sys.argv)
