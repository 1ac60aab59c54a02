"""The one virtualenv holding every OpenStack service, keyed by the locked versions.

All services of one release series resolve together (measured: 181 packages, `pip check` clean),
so one venv serves them all: one install instead of seven, and 721 MiB on disk once.
Its directory name carries a hash of `requirements.txt` + `constraints.txt`, so a fresh clone
(CI) reuses the venv a previous run built, and changing a pin builds a new one beside it.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import structlog

from tests.devcloud.config import cache_root
from tests.devcloud.errors import InstallFailed

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "requirements.txt"
CONSTRAINTS = HERE / "constraints.txt"
COMPLETE_MARK = ".devcloud-complete"


def venv_path() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()
    return cache_root() / f"venv-openstack-{digest[:12]}"


def ensure_venv() -> Path:
    """The service venv, built first if missing or half-built (e.g. an interrupted install).

    Concurrent callers (a pytest session and `make devcloud-up`) serialize on a lock file.

    Raises:
        InstallFailed: venv creation or pip failed; the pip log is named.
    """
    path = venv_path()
    if (path / COMPLETE_MARK).exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path / COMPLETE_MARK).exists():
            _build(path)
    return path


def _build(path: Path) -> None:
    if path.exists():
        log.warning("venv_incomplete_rebuilding", venv=str(path))
        shutil.rmtree(path)
    pip_log = path.parent / f"{path.name}.pip.log"
    started = time.monotonic()
    log.info("venv_install_started", venv=str(path), log=str(pip_log))
    base_python = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base_python, "-m", "venv", str(path)],
        [str(path / "bin/pip"), "install", "--quiet", "--upgrade", "pip"],
        [
            str(path / "bin/pip"),
            "install",
            "-c",
            str(CONSTRAINTS),
            "-r",
            str(REQUIREMENTS),
        ],
    ]
    with pip_log.open("w") as out:
        for argv in steps:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
            if result.returncode != 0:
                raise InstallFailed(
                    str(path), f"{' '.join(argv[:3])} exited {result.returncode}", str(pip_log)
                )
    (path / COMPLETE_MARK).write_text(f"{time.time()}\n")
    log.info("venv_installed", venv=str(path), seconds=round(time.monotonic() - started, 1))


def lock_versions(scratch: Path) -> None:
    """Resolve `requirements.txt` afresh in `scratch` and write the result to constraints.txt.

    Raises:
        InstallFailed: the resolution failed.
    """
    base_python = getattr(sys, "_base_executable", sys.executable)
    pip = str(scratch / "bin/pip")
    for argv in (
        [base_python, "-m", "venv", "--clear", str(scratch)],
        [pip, "install", "--quiet", "-r", str(REQUIREMENTS)],
    ):
        if subprocess.run(argv, check=False).returncode != 0:
            raise InstallFailed(str(scratch), f"{' '.join(argv[:3])} failed", "stdout")
    frozen = subprocess.run([pip, "freeze"], capture_output=True, text=True, check=True).stdout
    CONSTRAINTS.write_text(
        "# Locked by `python -m tests.devcloud lock` (pip freeze of a fresh resolution).\n" + frozen
    )
