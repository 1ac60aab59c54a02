"""``strongbox plugin new``: the scaffolded package installs and its own tests pass."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from actors.cli.main import main

REPOSITORY = Path(__file__).resolve().parents[3]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGBOX_")}
    # this checkout's actors (the harness), before the installed strongbox
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPOSITORY), *filter(None, [os.environ.get("PYTHONPATH")])])
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done


def throwaway_venv(where: Path) -> Path:
    """A venv that sees this interpreter's packages without downloading anything."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(where)], check=True, timeout=60)
    python = where / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # --system-site-packages reaches the base interpreter, not the venv the suite runs in:
    # add that venv's site-packages (pytest, msgspec, pip, setuptools, strongbox) too
    parent = sysconfig.get_paths()["purelib"]
    Path(site, "parent_venv.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def test_a_scaffolded_plugin_package_installs_and_its_own_tests_pass(tmp_path: Path) -> None:
    if importlib.util.find_spec("wheel") is None:
        pytest.fail("the 'wheel' package is missing (pyproject's test extra): an editable "
                    "install without build isolation needs it with setuptools < 70.1")
    package = tmp_path / "acme-bucket"
    assert main(["plugin", "new", "acme-bucket", "--directory", str(package)]) == 0
    python = throwaway_venv(tmp_path / "venv")
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "-e", "."], package)
    done = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], package)
    assert "2 passed" in done.stdout, done.stdout


def test_plugin_new_refuses_a_bad_name_and_a_directory_that_is_not_empty(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugin", "new", "Acme Bucket", "--directory", str(tmp_path / "x")]) == 1
    assert "plugin name 'Acme Bucket': use lower-case letters" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["plugin", "new", "acme", "--directory", str(tmp_path / "taken")]) == 1
    assert "exists and is not an empty directory" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_plugin_new_writes_entry_points_for_both_groups_and_a_provider_file(
        tmp_path: Path) -> None:
    assert main(["plugin", "new", "acme_db", "--directory", str(tmp_path / "p")]) == 0
    pyproject = (tmp_path / "p" / "pyproject.toml").read_text()
    assert 'acme_db_item = "acme_db.protectable:AcmeDbProtectable"' in pyproject
    assert 'acme_db = "acme_db.protection:AcmeDbProtection"' in pyproject
    assert "plugin = acme_db" in (tmp_path / "p" / "providers.d" / "acme_db.conf").read_text()
