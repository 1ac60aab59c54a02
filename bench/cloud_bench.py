"""A Cinder volume's bytes through the chunk store (``os-volume-bytes``), on the dev cloud.

    python -m bench.cloud_bench --state DIR [--size-mib 1024] [--seed 1] [--rewrite 0.05]
                                [--compression-level N] [--link-gbit G ...]

Against the dev cloud running in ``DIR`` (``python -m tests.devcloud --state DIR up
--services keystone,glance,placement,cinder``; ``make bench-cloud`` starts it), in a
throwaway project: a volume filled with realistic content (16 MiB regions, alternately
random and text-like as ``bench.dataset`` makes them, every eighth left zero: about 44 %
random, 44 % compressible, 12 % zeros) is

1. downloaded raw from Glance (the baseline: Cinder's upload-to-image of the volume, then
   the image's bytes read and thrown away, as fast as openstacksdk reads them),
2. protected with ``os-volume-bytes`` into a filesystem bank (the chunk store encrypted),
3. protected again, unchanged,
4. protected after rewriting ``--rewrite`` of it (8 regions of new random bytes),
5. restored into a new volume, checked byte for byte against the volume,
6. protected and restored with ``os-volume-backup`` (Cinder's posix backup driver), for
   comparison.
7. with ``--link-gbit G`` (repeatable), behind a G Gbit/s link: Glance's port shaped with
   ``tc`` (``bench.link_shaper``, as root), the raw download, a protect into a new bank,
   one unchanged and a restore again, each compared with that link's raw download.

Each step's wall time covers the whole operation (snapshot, clone, upload-to-image and
clean-up for the protects; image rebuild and Cinder's volume-from-image for the restore);
the *transfer* column times only the bytes' own phase (Glance -> chunk store, or chunk
store -> Glance), which is what the raw download compares with. CPU seconds are this
process's (the engine runs here); the cloud's services' are not counted. Bytes added are
what the bank (for ``os-volume-backup``: Cinder's backup directory) holds after the step
minus before.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from bench import dataset
from bench.link_shaper import shaped_link
from plugins.openstack import image_protection
from plugins.openstack.image_protection import ImageProtection
from plugins.openstack.resource_types import VOLUME
from tests.cloud.cloud_project import CloudProject, cloud_project, new_volume
from tests.cloud.openstack_provider import write_provider
from tests.devcloud import cloud
from tests.devcloud.config import saved_config
from tests.devcloud.fixture import DevCloud

MB = 1_000_000
MIB = 1 << 20
GIB = 1 << 30
REGION = 16 * MIB
PASSPHRASE = "cloud bench passphrase"
SERVICES = ("keystone", "glance", "placement", "cinder")


@dataclass
class Step:
    """One measured step."""

    name: str
    seconds: float
    cpu_seconds: float
    added: int | None = None  # bytes the bank gained
    transfer_seconds: float | None = None
    identical: bool | None = None  # a restore: the new volume has the original's bytes


@dataclass
class Phases:
    """Wall seconds of the byte-moving phases, recorded by wrapping the plugin's calls."""

    times: list[float] = field(default_factory=list)

    def wrap(self, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.times.append(time.perf_counter() - started)

        return timed


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_bytes(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                continue  # removed while we walked
    return total


def fill_volume(path: Path, size: int, seed: int) -> None:
    """Write the benchmark's content over the whole volume file (see the module)."""
    with path.open("r+b") as device:
        for number in range(size // REGION):
            device.seek(number * REGION)
            if number % 8 == 7:
                device.write(bytes(REGION))  # a zero region, written: the file is not sparse
                continue
            spec = dataset.FileSpec(f"region-{number}", REGION, text=number % 2 == 1)
            for piece in dataset.content(seed, number, spec):
                device.write(piece)


def rewrite(path: Path, size: int, fraction: float, seed: int) -> int:
    """Overwrite ``fraction`` of the volume in 8 regions of new random bytes; the count."""
    chooser = random.Random(seed)
    length = int(size * fraction) // 8
    slots = sorted(chooser.sample(range(size // length), 8))
    with path.open("r+b") as device:
        for slot in slots:
            device.seek(slot * length)
            device.write(os.urandom(length))
    return length * 8


def file_sha256(path: Path, size: int | None = None) -> str:
    """SHA-256 of the file, as a device of ``size`` bytes would read (zeros past its end:
    the dev cloud's volumes are sparse files, and a restore may leave a zero tail out)."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    for left in range((size or 0) - path.stat().st_size, 0, -MIB):
        digest.update(bytes(min(MIB, left)))
    return digest.hexdigest()


def raw_download(project: CloudProject, volume_id: str) -> tuple[Step, int]:
    """Cinder uploads the volume to an image; the image is read and thrown away, timed."""
    conn = project.connection
    uploaded = conn.block_storage.upload_volume_to_image(
        volume_id, "bench-raw", force=True, disk_format="raw", container_format="bare")
    image = conn.image.get_image(uploaded["image_id"])
    conn.image.wait_for_status(image, "active", failures=["killed"], wait=1800)
    conn.block_storage.wait_for_status(conn.block_storage.get_volume(volume_id), "available",
                                       failures=["error"], wait=600)
    cpu, started = cpu_seconds(), time.perf_counter()
    response = conn.image.download_image(image.id, stream=True, chunk_size=MIB)
    size = sum(len(piece) for piece in response.iter_content(chunk_size=MIB))
    response.close()
    step = Step("raw Glance download", time.perf_counter() - started, cpu_seconds() - cpu)
    step.transfer_seconds = step.seconds
    conn.image.delete_image(image.id)
    return step, size


async def timed_run(engine: Engine, request: Any, name: str, measure: Callable[[], int],
                    phases: Phases | None = None) -> tuple[Step, Any]:
    before, cpu = measure(), cpu_seconds()
    phase_count = len(phases.times) if phases else 0
    started = time.perf_counter()
    result = await engine.run(request, timeout=3600)
    seconds = time.perf_counter() - started
    if result.status != "succeeded":
        raise SystemExit(f"{name}: {result.status}: {result.error}")
    step = Step(name, seconds, cpu_seconds() - cpu, measure() - before)
    if phases is not None and len(phases.times) > phase_count:
        step.transfer_seconds = sum(phases.times[phase_count:])
    sys.stderr.write(f"{name}: {seconds:.1f} s\n")
    return step, result


async def bench(devcloud: DevCloud, work: Path, size: int, *, fraction: float,
                seed: int, options: dict[str, str],
                links: list[float]) -> tuple[list[Step], dict[float, list[Step]], int, int]:
    steps: list[Step] = []
    stored_phases, sent_phases = Phases(), Phases()
    ImageProtection.protect_bytes = stored_phases.wrap(  # type: ignore[method-assign]
        ImageProtection.protect_bytes)
    image_protection.send_image = sent_phases.wrap(image_protection.send_image)  # type: ignore[assignment]
    with cloud_project(devcloud, "strongbox-cloud-bench") as project:
        volume_id = new_volume_of(project, size)
        volume_file = devcloud.volume_file(volume_id)
        fill_volume(volume_file, size, seed)
        baseline, downloaded = raw_download(project, volume_id)
        steps.append(baseline)
        bank = work / "bank"
        providers = write_provider(work / "providers", bank, devcloud.auth("demo"),
                                   plugins=("os-volume-bytes",),
                                   options={"os-volume-bytes": {"passphrase": PASSPHRASE,
                                                                **options}})
        def protect() -> ProtectRequest:  # a new request each time: a repeat is a duplicate
            return ProtectRequest(project_id=project.id,
                                  resources=[ResourceRef(VOLUME, volume_id)])

        async with Engine.embedded(providers) as engine:
            for name in ("os-volume-bytes protect", "protect again, unchanged"):
                step, _ = await timed_run(engine, protect(), name, lambda: tree_bytes(bank),
                                          stored_phases)
                steps.append(step)
            changed = rewrite(volume_file, size, fraction, seed)
            step, protected = await timed_run(
                engine, protect(), f"protect after {changed / size:.0%} rewritten",
                lambda: tree_bytes(bank), stored_phases)
            steps.append(step)
            original = file_sha256(volume_file)
            step, _ = await timed_run(engine, RestoreRequest(
                project_id=project.id, checkpoint_id=protected.checkpoint_id,
                parameters={VOLUME: {"restore_name": "bench-restored"}}),
                "os-volume-bytes restore", lambda: 0, sent_phases)
            step.added = None
            steps.append(step)
        steps[-1].identical = same_volume(devcloud, project, "bench-restored", original)
        steps += await volume_backup(devcloud, project, work, volume_id, original)
        linked: dict[float, list[Step]] = {}
        for gbit in links:
            with shaped_link(devcloud.config.port("glance"), gbit):
                linked[gbit] = await link_pass(
                    devcloud, project, work / f"link-{gbit}", volume_id, original=original,
                    options=options, stored_phases=stored_phases, sent_phases=sent_phases)
    return steps, linked, downloaded, changed


async def link_pass(devcloud: DevCloud, project: CloudProject, work: Path, volume_id: str, *,
                    original: str, options: dict[str, str], stored_phases: Phases,
                    sent_phases: Phases) -> list[Step]:
    """Behind a shaped link: the raw download, a protect into a new bank, one unchanged,
    a restore (the volume as the loopback steps left it)."""
    baseline, _ = raw_download(project, volume_id)
    steps = [baseline]
    bank = work / "bank"
    providers = write_provider(work / "providers", bank, devcloud.auth("demo"),
                               plugins=("os-volume-bytes",),
                               options={"os-volume-bytes": {"passphrase": PASSPHRASE,
                                                            **options}})
    async with Engine.embedded(providers) as engine:
        protected = None
        for name in ("os-volume-bytes protect", "protect again, unchanged"):
            step, protected = await timed_run(
                engine, ProtectRequest(project_id=project.id,
                                       resources=[ResourceRef(VOLUME, volume_id)]),
                name, lambda: tree_bytes(bank), stored_phases)
            steps.append(step)
        assert protected is not None
        name = f"bench-restored-{work.name}"
        step, _ = await timed_run(engine, RestoreRequest(
            project_id=project.id, checkpoint_id=protected.checkpoint_id,
            parameters={VOLUME: {"restore_name": name}}),
            "os-volume-bytes restore", lambda: 0, sent_phases)
    step.added = None
    step.identical = same_volume(devcloud, project, name, original)
    steps.append(step)
    return steps


def new_volume_of(project: CloudProject, size: int) -> str:
    if size == GIB:
        return new_volume(project, "bench")
    storage = project.connection.block_storage
    volume = storage.create_volume(size=-(-size // GIB), name="bench")
    storage.wait_for_status(volume, "available", failures=["error"], wait=240)
    return str(volume.id)


async def volume_backup(devcloud: DevCloud, project: CloudProject, work: Path,
                        volume_id: str, original: str) -> list[Step]:
    backups = devcloud.config.state / "cinder" / "backups"
    providers = write_provider(work / "providers-backup", work / "bank-backup",
                               devcloud.auth("demo"), plugins=("os-volume-backup",))
    async with Engine.embedded(providers) as engine:
        protect, protected = await timed_run(engine, ProtectRequest(
            project_id=project.id, resources=[ResourceRef(VOLUME, volume_id)]),
            "os-volume-backup protect", lambda: tree_bytes(backups))
        restore, _ = await timed_run(engine, RestoreRequest(
            project_id=project.id, checkpoint_id=protected.checkpoint_id,
            parameters={VOLUME: {"restore_name": "bench-from-backup"}}),
            "os-volume-backup restore", lambda: 0)
    restore.added = None
    restore.identical = same_volume(devcloud, project, "bench-from-backup", original)
    return [protect, restore]


def same_volume(devcloud: DevCloud, project: CloudProject, name: str, original: str) -> bool:
    """True if the volume ``name`` holds the original's bytes (its backing file's SHA-256)."""
    (volume,) = [v for v in project.connection.block_storage.volumes() if v.name == name]
    path = devcloud.volume_file(volume.id)
    same = file_sha256(path, int(volume.size) * GIB) == original
    if not same:
        sys.stderr.write(f"{name}: its bytes differ from the original's "
                         f"({path.stat().st_size} bytes)\n")
    return same


def print_table(steps: list[Step], size: int, title: str) -> None:
    """One table; its first step is the raw download the others are compared with."""
    baseline = steps[0]
    raw_rate = size / baseline.seconds / MB
    header = (f"{'step':<30}{'wall s':>8}{'MB/s':>8}{'transfer MB/s':>15}{'vs raw':>8}"
              f"{'bank +MB':>10}{'+% of vol':>10}{'CPU s':>7}{'same':>6}")
    lines = [f"{title}; raw Glance download {raw_rate:.1f} MB/s", header, "-" * len(header)]
    for step in steps:
        transfer = (f"{size / step.transfer_seconds / MB:>15.1f}"
                    f"{size / step.transfer_seconds / MB / raw_rate:>8.2f}"
                    if step.transfer_seconds else f"{'':>15}{'':>8}")
        added = (f"{step.added / MB:>10.1f}{step.added / size:>10.2%}"
                 if step.added is not None else f"{'':>10}{'':>10}")
        same = {None: "", True: "yes", False: "NO"}[step.identical]
        lines.append(f"{step.name:<30}{step.seconds:>8.1f}{size / step.seconds / MB:>8.1f}"
                     f"{transfer}{added}{step.cpu_seconds:>7.1f}{same:>6}")
    sys.stdout.write("\n".join(lines) + "\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="the dev cloud's state dir")
    parser.add_argument("--size-mib", type=int, default=1024, help="volume content, MiB")
    parser.add_argument("--rewrite", type=float, default=0.05, help="fraction rewritten")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compression-level", type=int, help="zstd level (default: 3)")
    parser.add_argument("--link-gbit", type=float, action="append", default=[],
                        help="also run behind a link of this many Gbit/s (tc, as root)")
    args = parser.parse_args()
    options = ({"compression_level": str(args.compression_level)}
               if args.compression_level is not None else {})
    config = saved_config(str(args.state.resolve()))
    if not cloud.status(config) or not all(row.healthy for row in cloud.status(config)):
        raise SystemExit(f"no healthy dev cloud in {args.state}: start it with `python -m "
                         f"tests.devcloud --state {args.state} up --services "
                         f"{','.join(SERVICES)}`")
    devcloud = DevCloud(config=config, services=SERVICES)
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="cloud-bench-") as work:
        steps, linked, downloaded, changed = asyncio.run(
            bench(devcloud, Path(work), size, fraction=args.rewrite, seed=args.seed,
                  options=options, links=args.link_gbit))
    if downloaded != -(-size // GIB) * GIB:
        sys.stderr.write(f"note: Glance served {downloaded} bytes for the volume\n")
    volume = f"volume: {downloaded / MB:.0f} MB ({downloaded // MIB} MiB)"
    print_table(steps, downloaded, f"{volume}, {changed / MB:.1f} MB rewritten; loopback")
    for gbit, link_steps in linked.items():
        print_table(link_steps, downloaded, f"{volume}; Glance behind a {gbit:g} Gbit/s link")


if __name__ == "__main__":
    main()
