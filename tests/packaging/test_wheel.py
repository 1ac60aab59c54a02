"""The wheel as a new operator gets it: built from this checkout, installed with no extras
into a fresh virtualenv, and run from a directory outside the checkout.

``strongbox demo`` must work from the files the wheel carries (the shipped provider files
are package data), none of the OpenStack or S3 libraries may come along, and asking for
an OpenStack or S3 provider must say, in one line, which extra to install. Building and
installing take a minute or two (the dependencies come from the package index, or pip's
cache), so the virtualenv is built once for the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
EXTRA_LIBRARIES = ("openstack", "keystoneauth1", "botocore")


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv holding only the wheel and its core dependencies; yields its bin."""
    base = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                 "--wheel-dir", str(base / "dist"), str(REPOSITORY)], cwd=base)
    assert built.returncode == 0, built.stderr
    wheels = list((base / "dist").glob("strongbox-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    assert made.returncode == 0, made.stderr
    pip = run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])],
              cwd=base)
    assert pip.returncode == 0, pip.stderr
    yield venv / "bin"
    shutil.rmtree(base, ignore_errors=True)


def clean_environment(home: Path) -> dict[str, str]:
    """No variable of ours, no PYTHONPATH into the checkout, a HOME of its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STRONGBOX_", "OS_", "AWS_")) and k != "PYTHONPATH"}
    env["HOME"] = str(home)
    return env


def test_the_wheel_carries_the_provider_files_and_the_schema(installed: Path,
                                                            tmp_path: Path) -> None:
    listed = run([str(installed / "python"), "-c",
                  "import importlib.resources as r, plugins.provider as p, actors.wire as w;"
                  "print(sorted(f.name for f in (r.files(p) / 'shipped').iterdir()));"
                  "print((r.files(w) / 'schema.json').read_text()[:40])"],
                 cwd=tmp_path, env=clean_environment(tmp_path))
    assert listed.returncode == 0, listed.stderr
    assert "['README.md', 'local.conf', 'openstack.conf']" in listed.stdout
    schema = run([str(installed / "strongbox"), "schema"], cwd=tmp_path,
                 env=clean_environment(tmp_path))
    assert schema.returncode == 0, schema.stderr
    assert schema.stdout == (REPOSITORY / "actors" / "wire" / "schema.json").read_text()


def test_the_core_install_has_no_openstack_or_s3_library(installed: Path,
                                                         tmp_path: Path) -> None:
    for module in EXTRA_LIBRARIES:
        found = run([str(installed / "python"), "-c",
                     f"import importlib.util as u; print(u.find_spec({module!r}) is None)"],
                    cwd=tmp_path)
        assert found.stdout.strip() == "True", f"{module} came with the core install"


def test_strongbox_demo_runs_from_the_wheel_outside_the_checkout(installed: Path,
                                                                 tmp_path: Path) -> None:
    env = clean_environment(tmp_path)
    demo = run([str(installed / "strongbox"), "demo", "--work", str(tmp_path / "demo")],
               cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr + demo.stdout
    assert "identical:" in demo.stdout
    providers = run([str(installed / "strongbox"), "providers", "list", "--json"],
                    cwd=tmp_path, env=env)
    assert providers.returncode == 0, providers.stderr
    assert str(REPOSITORY) not in providers.stdout  # the files come from site-packages
    assert "site-packages" in providers.stdout


@pytest.mark.parametrize(("bank", "plugins", "extra"), [
    ("swift", ["os-server"], "openstack"),
    ("filesystem", ["os-volume-backup"], "openstack"),
    ("s3", ["noop"], "s3"),
])
def test_a_provider_that_needs_an_extra_says_which_to_install(
        installed: Path, tmp_path: Path, bank: str, plugins: list[str], extra: str) -> None:
    providers = tmp_path / "providers"
    providers.mkdir()
    (providers / "cloud.conf").write_text(
        f"[provider]\nname = Cloud\nid = cloud\ndescription = needs an extra\nbank = {bank}\n"
        + "".join(f"plugin = {p}\n" for p in plugins))
    env = clean_environment(tmp_path)
    failed = run([str(installed / "strongbox"), "--providers-dir", str(providers),
                  "--provider", "Cloud", "checkpoints", "list"], cwd=tmp_path, env=env)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("strongbox: error: ")
    assert f"pip install 'strongbox[{extra}]'" in lines[0]
    assert "cloud.conf" in lines[0]


def test_the_shipped_openstack_provider_enabled_asks_for_the_openstack_extra(
        installed: Path, tmp_path: Path) -> None:
    providers = tmp_path / "providers"
    providers.mkdir()
    shipped = (REPOSITORY / "plugins" / "provider" / "shipped" / "openstack.conf").read_text()
    (providers / "openstack.conf").write_text(shipped.replace("enabled = false",
                                                              "enabled = true"))
    failed = run([str(installed / "strongbox"), "--providers-dir", str(providers),
                  "resources", "list", "OS::Nova::Server"], cwd=tmp_path,
                 env=clean_environment(tmp_path))
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1, failed.stderr
    assert "pip install 'strongbox[openstack]'" in failed.stderr
