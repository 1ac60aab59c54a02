"""Back up, re-back up and restore a generated tree with Strongbox and with restic.

    python -m bench.chunk_bench [--size-mb 2000] [--workdir DIR] [--keep] [--drop-caches]

One run generates the dataset (``bench.dataset``: many small files, some large ones,
half text-like, half random), then for each step runs both tools on it, each as its own
process timed from the outside (start-up, key derivation and the final fsyncs count):

1. **backup** into an empty repository,
2. **re-backup** of the unchanged tree into the same repository,
3. **restore** of the latest backup into an empty directory, checked byte for byte.

It prints MB/s (10^6 bytes of the dataset per second) of each step, CPU seconds, peak
RSS, the bytes each repository holds, and the ratio Strongbox/restic: above 1 means
Strongbox was faster (for bytes stored, below 1 means it stored less).

How the two are configured, so the comparison is fair:

- **Strongbox**: the ``strongbox`` CLI, embedded engine, ``directory`` plugin writing
  through the chunk store into a ``filesystem`` bank; the shipped defaults: FastCDC
  chunks of 256 KiB / 1 MiB / 4 MiB, zstd level 3 (chunks that do not compress stored
  raw), AES-256-GCM, HMAC-SHA256 chunk ids, a passphrase wrapped with scrypt.
- **restic** (the Debian package): a local repository of format version 2 (``init
  --repository-version 2``), ``backup --compression auto`` (zstd at its default level,
  incompressible data stored raw), AES-256 + Poly1305 (restic always encrypts), SHA-256
  blob ids, scrypt key derivation; its cache inside the work directory. The re-backup
  finds its parent snapshot by path, as restic does by default.

Page cache: the whole dataset and both repositories fit in this machine's memory, so
every step reads warm data for both tools. The order of the tools alternates from step
to step (Strongbox first for the backup, restic first for the re-backup, and so on), so
neither always runs with the other's leftovers in cache or on a disk still flushing.
``--drop-caches`` (root only) empties the page cache before every timed run instead:
cold reads for both.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import dataset

MB = 1_000_000
PASSPHRASE = "chunk bench passphrase"
DIRECTORY = "Strongbox::Directory"
PROVIDER = """[provider]
name = ChunkBench
id = chunk-bench
description = chunk store benchmark
bank = filesystem
plugin = directory

[filesystem]
path = {bank}

[directory]
passphrase = {passphrase}
"""


@dataclass
class Run:
    """One timed process: wall seconds, CPU seconds (user + system), peak RSS in KiB."""

    seconds: float
    cpu_seconds: float
    peak_rss_kib: int
    stdout: str


@dataclass
class ToolResult:
    """Per step, a tool's run; and the bytes its repository held after each backup."""

    runs: dict[str, Run] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)


def timed(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to its end; fail the bench with its stderr if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({process.returncode}): {stderr[-3000:]}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, stdout)


def tree_bytes(root: Path) -> int:
    """Bytes of every regular file under ``root`` (what a repository takes)."""
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(directory, name)).st_size
    return total


def drop_caches() -> None:
    """Write back dirty pages, then empty the page cache (needs root)."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as control:
        control.write("3\n")


class Strongbox:
    """The ``strongbox`` CLI in embedded mode, one process per step."""

    name = "strongbox"

    def __init__(self, work: Path) -> None:
        self.bank = work / "strongbox-bank"
        self.providers = work / "strongbox-providers"
        self.providers.mkdir()
        (self.providers / "bench.conf").write_text(
            PROVIDER.format(bank=self.bank, passphrase=PASSPHRASE)
        )
        self.cli = str(Path(sys.executable).with_name("strongbox"))
        self.checkpoint = ""

    def _run(self, *arguments: str) -> Run:
        run = timed([self.cli, "--providers-dir", str(self.providers), "--json", *arguments])
        finished = json.loads(run.stdout.strip().splitlines()[-1])
        if finished.get("status") != "succeeded":
            raise SystemExit(f"strongbox {arguments[0]} did not succeed: {finished}")
        self.checkpoint = finished.get("checkpoint_id") or self.checkpoint
        return run

    def backup(self, source: Path) -> Run:
        return self._run("protect", f"{DIRECTORY}#{source}")

    def restore(self, source: Path, target: Path) -> tuple[Run, Path]:
        return self._run("restore", self.checkpoint, "--target", str(target)), target

    def stored(self) -> int:
        return tree_bytes(self.bank)


class Restic:
    """The ``restic`` command on a local repository, format version 2, compressed."""

    name = "restic"

    def __init__(self, work: Path, command: str) -> None:
        self.repository = work / "restic-repository"
        self.command = command
        self.env = {
            **os.environ,
            "RESTIC_REPOSITORY": str(self.repository),
            "RESTIC_PASSWORD": PASSPHRASE,
            "RESTIC_CACHE_DIR": str(work / "restic-cache"),
        }
        timed([command, "init", "--repository-version", "2", "-q"], self.env)

    def backup(self, source: Path) -> Run:
        return timed([self.command, "backup", "--compression", "auto", "-q", str(source)], self.env)

    def restore(self, source: Path, target: Path) -> tuple[Run, Path]:
        run = timed([self.command, "restore", "latest", "--target", str(target), "-q"], self.env)
        # restic recreates the absolute path of what it backed up below the target
        return run, target / source.relative_to(source.anchor)

    def stored(self) -> int:
        return tree_bytes(self.repository)


def same_tree(source: Path, restored: Path) -> bool:
    """True if every file of ``source`` is in ``restored`` with the same bytes, and no more."""
    for directory, _, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        for name in files:
            if not filecmp.cmp(Path(directory) / name, restored / relative / name, shallow=False):
                return False
    return sum(len(files) for _, _, files in os.walk(restored)) == sum(
        len(files) for _, _, files in os.walk(source)
    )


def run_steps(tools: list[Strongbox | Restic], source: Path, work: Path, cold: bool) -> None:
    results = {tool.name: ToolResult() for tool in tools}
    steps: list[tuple[str, Callable[[Strongbox | Restic], Run]]] = [
        ("backup", lambda tool: tool.backup(source)),
        ("re-backup", lambda tool: tool.backup(source)),
        ("restore", lambda tool: restore_checked(tool, source, work)),
    ]
    for number, (step, action) in enumerate(steps):
        for tool in tools if number % 2 == 0 else list(reversed(tools)):
            if cold:
                drop_caches()
            results[tool.name].runs[step] = action(tool)
            if step != "restore":
                results[tool.name].stored[step] = tool.stored()
            sys.stderr.write(f"{step} {tool.name}: {results[tool.name].runs[step].seconds:.1f} s\n")
    print_table(results, tree_bytes(source))


def restore_checked(tool: Strongbox | Restic, source: Path, work: Path) -> Run:
    run, restored = tool.restore(source, work / f"restored-{tool.name}")
    if not same_tree(source, restored):
        raise SystemExit(f"{tool.name}: the restored tree differs from the source")
    return run


def print_table(results: dict[str, ToolResult], size: int) -> None:
    ours, theirs = results["strongbox"], results["restic"]
    header = (
        f"{'step':<11}{'strongbox MB/s':>15}{'restic MB/s':>12}{'ratio':>7}"
        f"{'sbx CPU s':>10}{'restic CPU s':>13}{'sbx RSS MiB':>12}{'restic RSS MiB':>15}"
    )
    lines = [f"dataset: {size / MB:.0f} MB", header, "-" * len(header)]
    for step, ours_run in ours.runs.items():
        theirs_run = theirs.runs[step]
        ours_rate, theirs_rate = size / ours_run.seconds / MB, size / theirs_run.seconds / MB
        lines.append(
            f"{step:<11}{ours_rate:>15.1f}{theirs_rate:>12.1f}{ours_rate / theirs_rate:>7.2f}"
            f"{ours_run.cpu_seconds:>10.1f}{theirs_run.cpu_seconds:>13.1f}"
            f"{ours_run.peak_rss_kib / 1024:>12.0f}{theirs_run.peak_rss_kib / 1024:>15.0f}"
        )
    lines.append("")
    lines.append(f"{'stored after':<14}{'strongbox MB':>13}{'restic MB':>11}{'ratio':>7}")
    for step, ours_bytes in ours.stored.items():
        theirs_bytes = theirs.stored[step]
        lines.append(
            f"{step:<14}{ours_bytes / MB:>13.1f}{theirs_bytes / MB:>11.1f}"
            f"{ours_bytes / theirs_bytes:>7.3f}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2000, help="dataset size, 10^6 bytes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="default: a new directory in $TMPDIR")
    parser.add_argument("--keep", action="store_true", help="leave the work directory")
    parser.add_argument("--drop-caches", action="store_true", help="cold page cache (root)")
    args = parser.parse_args()
    restic = shutil.which("restic")
    if restic is None:
        raise SystemExit("restic is not installed: apt-get install -y restic (Debian, Ubuntu)")
    work = Path(tempfile.mkdtemp(prefix="chunk-bench-", dir=args.workdir))
    try:
        source = work / "dataset"
        started = time.perf_counter()
        specs = dataset.generate(source, args.size_mb * MB, args.seed)
        sys.stderr.write(
            f"dataset: {len(specs)} files, {args.size_mb} MB in"
            f" {time.perf_counter() - started:.1f} s at {source}\n"
        )
        tools: list[Strongbox | Restic] = [Strongbox(work), Restic(work, restic)]
        run_steps(tools, source, work, args.drop_caches)
    finally:
        if args.keep:
            sys.stderr.write(f"kept {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
