"""The launcher's own behaviour that needs no running cloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.devcloud import cloud
from tests.devcloud.config import CloudConfig, save_config, saved_config
from tests.devcloud.errors import InfraUnavailable


def test_an_unreachable_broker_is_named_before_anything_starts(tmp_path: Path) -> None:
    config = CloudConfig(state_dir=str(tmp_path / "state"), amqp_host="127.0.0.1:5999")
    with pytest.raises(InfraUnavailable, match=r"RabbitMQ at 127\.0\.0\.1:5999"):
        cloud.up(config)
    assert cloud.status(config) == []  # nothing was started, nothing is left to stop


def test_two_clouds_share_nothing_on_this_machine(tmp_path: Path) -> None:
    ours = CloudConfig(state_dir=str(tmp_path / "a"))
    theirs = CloudConfig(state_dir=str(tmp_path / "b"), port_offset=20000)
    assert ours.vhost != theirs.vhost
    assert ours.database_name("nova") != theirs.database_name("nova")
    assert ours.port("keystone") != theirs.port("keystone")


def test_a_state_directory_remembers_its_ports_and_refuses_others(tmp_path: Path) -> None:
    config = CloudConfig(state_dir=str(tmp_path), port_offset=20000)
    save_config(config)
    assert saved_config(str(tmp_path)) == config
    assert saved_config(str(tmp_path), 20000).auth_url == "http://127.0.0.1:25000/v3"
    with pytest.raises(ValueError, match="uses port offset 20000, not 0"):
        saved_config(str(tmp_path), 0)
    assert saved_config(str(tmp_path / "new")).port_offset == 0
