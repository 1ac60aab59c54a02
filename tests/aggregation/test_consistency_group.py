"""Aggregation: one group snapshot per server in its pre; volumes record and restore their part."""

from __future__ import annotations

from pathlib import Path

from actors.testing.harness import run_plugin
from tests.aggregation import consistency_group as cg
from tests.aggregation.consistency_group import (
    SERVER,
    ConsistencyGroupProtection,
    ServerProtectable,
    VolumeProtectable,
)


def test_one_group_snapshot_per_server_each_volume_restored_from_its_part_and_deleted_once(
        tmp_path: Path, monkeypatch) -> None:
    cloud = cg.FakeCloud()
    monkeypatch.setattr(cg, "CLOUD", cloud)
    run = run_plugin(ConsistencyGroupProtection, [f"{SERVER}#s1", f"{SERVER}#s2"],
                     protectables=[ServerProtectable, VolumeProtectable], work_dir=tmp_path)
    # one snapshot call per server, covering all its volumes, never one per volume
    assert sorted(cloud.group_calls) == [("v1", "v2"), ("v3",)]
    # restore: each volume found its own snapshot in its part; each server got its volumes
    assert set(cloud.restored) == {"group-1/snap-v1", "group-1/snap-v2", "group-2/snap-v3"} \
        or set(cloud.restored) == {"group-2/snap-v1", "group-2/snap-v2", "group-1/snap-v3"}
    assert sorted(len(v) for v in cloud.attached.values()) == [1, 2]
    assert set(cloud.attached) == {"restored-s1", "restored-s2"}
    assert {new for vs in cloud.attached.values() for new in vs} == set(cloud.restored.values())
    # delete: each group dropped once, after its volumes
    assert cloud.groups == {}
    assert len(run.protect.graph) == 5


def test_a_volume_whose_parent_recorded_no_group_fails_naming_itself(
        tmp_path: Path, monkeypatch) -> None:
    cloud = cg.FakeCloud()
    monkeypatch.setattr(cg, "CLOUD", cloud)
    monkeypatch.setattr(cloud, "snapshot_group", lambda volumes: ("g", {}))
    try:
        run_plugin(ConsistencyGroupProtection, [f"{SERVER}#s2"],
                   protectables=[ServerProtectable, VolumeProtectable], work_dir=tmp_path)
    except AssertionError as failure:
        assert "Agg::Volume#v3: no parent's group snapshot includes it" in str(failure)
    else:
        raise AssertionError("the harness accepted a failed protect")
