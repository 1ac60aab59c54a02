"""A plugin pair written to the seeds' interface, found through entry points, protects,
restores and deletes through the real ``strongbox`` command, embedded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.seed_plugin.journal import PROJECT, SITE, check_journal, provider_file

REPOSITORY = Path(__file__).resolve().parents[2]


def strongbox(tmp_path: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGBOX_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY), str(SITE)])
    env["SEED_EXAMPLE_JOURNAL"] = str(tmp_path / "journal.txt")
    providers = provider_file(tmp_path / "providers", tmp_path / "bank")
    done = subprocess.run([sys.executable, "-m", "actors.cli.main", "--providers-dir",
                           str(providers), "--json", *args], capture_output=True, text=True,
                          env=env, cwd=REPOSITORY, timeout=120, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout.splitlines()[-1]) if done.stdout.strip() else {}


def test_a_seed_style_plugin_pair_protects_restores_and_deletes_through_the_cli(
        tmp_path: Path) -> None:
    protected = strongbox(tmp_path, "protect", f"{PROJECT}#p1", "--param",
                          "SeedExample::Volume.tag=weekly", "--param",
                          "SeedExample::Server.tag=weekly", "--param",
                          "SeedExample::Project.tag=weekly")
    assert protected["status"] == "succeeded", protected
    check_journal(tmp_path / "journal.txt", "protect")
    checkpoint = protected["checkpoint_id"]
    restored = strongbox(tmp_path, "restore", checkpoint)
    assert restored["status"] == "succeeded", restored
    check_journal(tmp_path / "journal.txt", "restore")
    deleted = strongbox(tmp_path, "delete", checkpoint)
    assert deleted["status"] == "succeeded", deleted
    check_journal(tmp_path / "journal.txt", "delete")


def test_the_seed_plugin_s_json_schemas_are_published_and_refuse_a_bad_field(
        tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "actors.cli.main", "--providers-dir",
         str(provider_file(tmp_path / "providers", tmp_path / "bank")), "--json",
         "protect", f"{PROJECT}#p1", "--param", "SeedExample::Volume.copies=0"],
        capture_output=True, text=True, cwd=REPOSITORY, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(SITE)])})
    assert listed.returncode != 0
    assert "protect of SeedExample::Volume#v1" in listed.stderr + listed.stdout
    assert "0 is less than the minimum of 1 - at `$.copies`" in listed.stderr + listed.stdout
