"""A clouds.yaml entry whose chosen endpoints go through fault proxies (``fault_proxy``).

Tests point the plugins at it (``cloud = devcloud-faulty``); every other endpoint is the
dev cloud's own, found in its catalog.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.devcloud.fixture import DevCloud

FAULTY_CLOUD = "devcloud-faulty"


def faulty_cloud(tmp_path: Path, devcloud: DevCloud, monkeypatch: pytest.MonkeyPatch,
                 **overrides: str) -> dict[str, str]:
    """A clouds.yaml entry with endpoint ``overrides`` (the proxies), made the one the
    plugins read; their sections' connection options (just ``cloud``).

    A block-storage override must be the project's literal path: keystoneauth's version
    discovery does not fill in a ``%(project_id)s`` template of an endpoint override.
    """
    entry = {"auth": devcloud.auth("demo"), "region_name": "RegionOne", **overrides}
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {FAULTY_CLOUD: entry}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return {"cloud": FAULTY_CLOUD}
