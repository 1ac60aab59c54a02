"""Install the pinned Swift once, into a virtualenv of its own in the user's cache.

Layout under ``${XDG_CACHE_HOME:-~/.cache}/strongbox/swift-<version>/``::

    venv/                 python -m venv, then pip install swift, python-swiftclient and
                          keystonemiddleware
    sdist/swift-<ver>/    the unpacked source distribution: its test/ tree holds the
                          in-process cluster launcher the wheel does not ship
    install.lock          flock(2) taken around the install, so two pytest runs at once
                          (or CI beside a developer) never half-install over each other
    .installed            written last: the install is whole (it lists the pins)

Each step is skipped when its product is already there, so a second run costs a stat.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import structlog

SWIFT_VERSION = "2.38.3"
SWIFTCLIENT_VERSION = "4.11.0"  # test/functional imports swiftclient at module level
# Keystone's auth_token middleware, for a cluster that authenticates through the dev
# cloud's Keystone (the version the dev cloud itself runs: tests/devcloud/constraints.txt)
KEYSTONEMIDDLEWARE_VERSION = "13.0.1"
PINS = (
    f"swift=={SWIFT_VERSION}",
    f"python-swiftclient=={SWIFTCLIENT_VERSION}",
    f"keystonemiddleware=={KEYSTONEMIDDLEWARE_VERSION}",
)

log = structlog.get_logger(__name__)


class SwiftInstallError(RuntimeError):
    """The pinned Swift could not be installed (no network, pip failure, bad sdist)."""


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/strongbox/swift-<version>``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "strongbox" / f"swift-{SWIFT_VERSION}"


def _run(step: str, command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout)[-2000:]
        raise SwiftInstallError(f"installing swift {SWIFT_VERSION}: {step} failed: {tail}")


def _install(root: Path) -> None:
    venv = root / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        _run("create the virtualenv", [sys.executable, "-m", "venv", str(venv)])
    _run("pip install", [str(python), "-m", "pip", "install", "--quiet", *PINS])
    archive = root / "sdist" / f"swift-{SWIFT_VERSION}.tar.gz"
    if not archive.exists():
        _run(
            "download the sdist",
            [
                str(python),
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(archive.parent),
                f"swift=={SWIFT_VERSION}",
            ],
        )
    with tarfile.open(archive) as tar:
        tar.extractall(archive.parent, filter="data")


def ensure_swift() -> tuple[Path, Path]:
    """Install Swift if missing; return (the venv's python, the unpacked sdist).

    Raises:
        SwiftInstallError: naming the step that failed.
    """
    root = cache_root()
    python = root / "venv" / "bin" / "python"
    source = root / "sdist" / f"swift-{SWIFT_VERSION}"
    marker = root / ".installed"
    # the marker names the pins installed: a venv made before a pin was added is topped up
    installed = "\n".join(PINS) + "\n"
    if marker.exists() and marker.read_text() == installed:
        return python, source
    root.mkdir(parents=True, exist_ok=True)
    with (root / "install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # another process may have finished while we waited
        if not marker.exists() or marker.read_text() != installed:
            started = time.monotonic()
            log.info("swift_install_started", version=SWIFT_VERSION, path=str(root))
            _install(root)
            marker.write_text(installed)
            log.info(
                "swift_install_finished",
                version=SWIFT_VERSION,
                seconds=round(time.monotonic() - started, 1),
            )
    return python, source
