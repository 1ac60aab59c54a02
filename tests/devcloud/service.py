"""The shape of one OpenStack service of the dev cloud (one module per service implements it)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.devcloud.context import CloudContext, ProcessSpec


@dataclass(frozen=True)
class CatalogEntry:
    """A Keystone service with its endpoint, plus the service user that owns it."""

    name: str
    type: str
    url: str  # may hold %(project_id)s, Keystone substitutes it per token


class Service:
    """One service: its configuration, its one-time setup, its processes, its catalog entries."""

    name: str = ""
    startup_timeout: float = 120.0

    def configure(self, ctx: CloudContext) -> None:
        """Write the config files (every `up`: cheap, and picks up new options)."""

    def first_setup(self, ctx: CloudContext) -> None:
        """Create the schema and the like; run once per state directory."""

    def processes(self, ctx: CloudContext) -> list[ProcessSpec]:
        return []

    def after_start(self, ctx: CloudContext) -> None:
        """Work that needs the processes running (host discovery, ...)."""

    def catalog(self, ctx: CloudContext) -> list[CatalogEntry]:
        return []
