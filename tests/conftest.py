"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import structlog

from actors.operations.engine import Engine
from plugins.registry import PluginRegistry
from tests import fakes

structlog.configure(
    processors=[structlog.processors.add_log_level, structlog.processors.KeyValueRenderer()],
    logger_factory=structlog.stdlib.LoggerFactory(),
)



@pytest.fixture(autouse=True)
def _structlog_configuration_restored():
    """Each test starts from the suite's logging configuration: a CLI test configures a
    level filter (``configure_logging``) that would otherwise hide info records from
    ``structlog.testing.capture_logs`` in every later test."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


# The session-scoped ``swift_server`` fixture (a real Swift cluster, started on first use).
pytest_plugins = ["tests.swift_server.fixture"]

FAKE_PLUGINS = {
    "recording": fakes.RecordingProtection,
    "shapes": fakes.ShapesProtection,
    "polling": fakes.PollingGeneratorProtection,
    "blocking": fakes.BlockingProtection,
    "quiescing": fakes.QuiescingProtection,
    "polling-abort": fakes.PollingAbortProtection,
    "restore-checking": fakes.RestoreCheckingProtection,
}


def write_provider(
    directory: Path,
    plugin: str,
    *,
    bank: str = "memory",
    sections: str = "",
    provider_id: str = "test-provider",
) -> Path:
    """Write a one-plugin provider file; return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test.conf").write_text(
        f"[provider]\nname = Test\nid = {provider_id}\ndescription = test provider\n"
        f"bank = {bank}\nplugin = {plugin}\n{sections}\n"
    )
    return directory


@pytest.fixture
def registry() -> PluginRegistry:
    registry = PluginRegistry()
    for name, cls in FAKE_PLUGINS.items():
        registry.register_protection(name, cls)
    return registry


EngineFactory = Callable[..., "AsyncIterator[Engine]"]


@pytest.fixture
def engine_for(tmp_path: Path, registry: PluginRegistry):
    """``async with engine_for("recording") as engine``: an embedded engine on a memory bank."""

    def factory(plugin: str, *, bank: str = "memory", sections: str = "", **host_options):
        providers = write_provider(
            tmp_path / f"providers-{plugin}", plugin, bank=bank, sections=sections
        )
        return Engine.embedded(providers, registry=registry, **host_options)

    return factory
