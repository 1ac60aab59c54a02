"""``checkpoints list`` on a bank of a few hundred checkpoints: plaintext against sealed.

    python -m bench.listing_bench [--checkpoints 300] [--rounds 7]

Two filesystem banks get the same checkpoints (a small graph each, moved to
``available``): one plain, one sealed (an encrypted chunk store's keys, as the engine
seals a bank whose store is encrypted). Each round lists every checkpoint of both, in
alternating order, through ``CheckpointStore.list`` (one index read per checkpoint,
which in the sealed bank is also one AES-GCM open). Printed: the median of each, their
ratio, and the one-off cost a new process pays before its first sealed read (the
store's key unwrap, scrypt), with the ratio of a cold listing that includes it. Last,
``strongbox checkpoints list`` itself, a new process each time (interpreter start-up,
imports, provider files, the unwrap), on a provider with ``encryption = none`` against
one with a passphrase, over the same two banks.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreSettings
from banks.filesystem.bank import FilesystemBank
from banks.sealed import SealedBank
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.sealing_layout import CHECKPOINT_SEALING
from plugins.checkpoint.store import CheckpointStore
from plugins.resource import Resource

PROVIDER = "bench-provider"
PASSPHRASE = "listing bench passphrase"
SETTINGS = ChunkStoreSettings.from_options({"passphrase": PASSPHRASE}, "bench")
PROVIDER_FILE = """[provider]
name = Bench
id = {provider}
description = listing benchmark provider
bank = filesystem
plugin = directory

[filesystem]
path = {bank}

[directory]
{store}
"""


def graph() -> ResourceGraph:
    nodes = [Resource(type="OS::Nova::Server", id=str(uuid.uuid4()), name="web"),
             Resource(type="OS::Cinder::Volume", id=str(uuid.uuid4()), name="data")]
    return ResourceGraph(nodes, [[1], []])


def sealed(bank: Bank) -> SealedBank:
    async def open_root(create: bool) -> bytes:
        store = await ChunkStore.open(bank, SETTINGS, create=create)
        assert store.sealing_root is not None
        return store.sealing_root

    return SealedBank(bank, CHECKPOINT_SEALING, open_root)


async def fill(store: CheckpointStore, count: int) -> None:
    for _ in range(count):
        checkpoint_id = str(uuid.uuid4())
        await store.create(checkpoint_id=checkpoint_id, provider_id=PROVIDER, project_id=None,
                           graph=graph(), operation_id=str(uuid.uuid4()), owner="bench")
        await store.transition(checkpoint_id, CheckpointStatus.AVAILABLE)


async def timed_list(store: CheckpointStore, count: int) -> float:
    started = time.perf_counter()
    found = await store.list(PROVIDER)
    elapsed = time.perf_counter() - started
    assert len(found) == count, (len(found), count)
    return elapsed


def providers_for(scratch: Path, name: str, store: str) -> Path:
    directory = scratch / f"providers-{name}"
    directory.mkdir()
    (directory / "bench.conf").write_text(
        PROVIDER_FILE.format(provider=PROVIDER, bank=scratch / name, store=store))
    return directory


def timed_cli(providers: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "actors.cli.main", "--providers-dir", str(providers),
                    "--json", "checkpoints", "list"], check=True, capture_output=True)
    return time.perf_counter() - started


def cli_medians(scratch: Path, rounds: int) -> dict[str, float]:
    providers = {"plain": providers_for(scratch, "plain", "encryption = none"),
                 "sealed": providers_for(scratch, "sealed", f"passphrase = {PASSPHRASE}")}
    times: dict[str, list[float]] = {"plain": [], "sealed": []}
    for round_ in range(rounds):
        names = ["plain", "sealed"] if round_ % 2 == 0 else ["sealed", "plain"]
        for name in names:
            times[name].append(timed_cli(providers[name]))
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


async def run(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        plain_bank = await FilesystemBank.open({"path": str(Path(scratch) / "plain")})
        sealed_path = {"path": str(Path(scratch) / "sealed")}
        sealed_bank = sealed(await FilesystemBank.open(sealed_path))
        plain, secret = CheckpointStore(plain_bank), CheckpointStore(sealed_bank)
        await fill(plain, count)
        await fill(secret, count)
        times: dict[str, list[float]] = {"plain": [], "sealed": []}
        for round_ in range(rounds):
            order = [("plain", plain), ("sealed", secret)]
            for name, store in order if round_ % 2 == 0 else order[::-1]:
                times[name].append(await timed_list(store, count))
        # a new process: the same bank, keys not loaded yet
        cold_bank = sealed(await FilesystemBank.open(sealed_path))
        started = time.perf_counter()
        await cold_bank.ready(create=False)
        unwrap = time.perf_counter() - started
        for bank in (plain_bank, sealed_bank, cold_bank):
            await bank.close()
        cli = cli_medians(Path(scratch), rounds)
    plain_ms = statistics.median(times["plain"]) * 1000
    sealed_ms = statistics.median(times["sealed"]) * 1000
    print(f"checkpoints: {count}, rounds: {rounds} (median of each)")
    print("| listing | ms | µs per checkpoint | ratio to plaintext |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| plaintext bank | {plain_ms:.1f} | {plain_ms * 1000 / count:.0f} | 1.00 |")
    print(f"| sealed bank, keys loaded | {sealed_ms:.1f} | {sealed_ms * 1000 / count:.0f} "
          f"| {sealed_ms / plain_ms:.2f} |")
    cold_ms = sealed_ms + unwrap * 1000
    print(f"| sealed bank, first in a process (+ key unwrap {unwrap * 1000:.0f} ms) "
          f"| {cold_ms:.1f} | {cold_ms * 1000 / count:.0f} | {cold_ms / plain_ms:.2f} |")
    print(f"| `strongbox checkpoints list`, plaintext | {cli['plain']:.0f} | "
          f"{cli['plain'] * 1000 / count:.0f} | 1.00 |")
    print(f"| `strongbox checkpoints list`, sealed | {cli['sealed']:.0f} | "
          f"{cli['sealed'] * 1000 / count:.0f} | {cli['sealed'] / cli['plain']:.2f} |")


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(run(args.checkpoints, args.rounds))


if __name__ == "__main__":
    main()
