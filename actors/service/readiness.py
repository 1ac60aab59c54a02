"""Is this worker ready to take work? The checks behind ``/readyz``.

    broker   the RabbitMQ connection is up (it reconnects by itself; until then, not ready)
    bank     every loaded provider's bank answers a one-key listing within ``probe_timeout``
    plugins  at least one provider loaded, and no enabled provider file failed to load

A bank is probed at most once per ``probe_interval`` however often ``/readyz`` is asked
(probes in flight are shared), so a load balancer polling every second costs the bank
one listing per interval. Each check's state is also the gauge ``strongbox_ready{check}``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import structlog

from banks import metrics

if TYPE_CHECKING:
    from actors.operations.engine import Engine

log = structlog.get_logger(__name__)

CHECKS: Final = ("broker", "bank", "plugins")


@dataclass(slots=True)
class Check:
    """One check's verdict: passed or not, and why not."""

    ok: bool
    detail: str = ""


@dataclass(slots=True)
class Readiness:
    """The verdict of every check."""

    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks.values())

    def document(self) -> dict[str, object]:
        """JSON for ``/readyz``: ``{"ready": bool, "checks": {name: {ok, detail}}}``."""
        return {"ready": self.ready,
                "checks": {name: {"ok": c.ok, "detail": c.detail}
                           for name, c in self.checks.items()}}


class ReadinessProbe:
    """Answers "ready?" for one worker's engine."""

    def __init__(self, engine: Engine, *, probe_interval: float = 5.0,
                 probe_timeout: float = 5.0) -> None:
        self.engine = engine
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self._bank = Check(False, "not probed yet")
        self._probed_at = float("-inf")
        self._probing: asyncio.Task[Check] | None = None
        providers = engine.providers
        metrics.PROVIDERS.labels("loaded").set(len(providers))
        metrics.PROVIDERS.labels("disabled").set(len(providers.disabled()))
        metrics.PROVIDERS.labels("broken").set(len(providers.broken))

    async def check(self) -> Readiness:
        """Every check now (the bank's as of its last probe, at most ``probe_interval`` old)."""
        readiness = Readiness({"broker": self._broker(), "bank": await self._bank_check(),
                               "plugins": self._plugins()})
        for name, verdict in readiness.checks.items():
            metrics.READY.labels(name).set(1 if verdict.ok else 0)
        return readiness

    def _broker(self) -> Check:
        if self.engine.host.transport.connected:
            return Check(True)
        return Check(False, "the broker connection is down; reconnecting")

    def _plugins(self) -> Check:
        providers = self.engine.providers
        broken = [b for b in providers.broken if b.config is None or b.config.enabled]
        if broken:
            return Check(False, "; ".join(str(b.error) for b in broken))
        if not len(providers):
            return Check(False, f"no enabled provider in {providers.directory}")
        return Check(True, ", ".join(p.name for p in providers.values()))

    async def _bank_check(self) -> Check:
        if time.monotonic() - self._probed_at < self.probe_interval:
            return self._bank
        if self._probing is None or self._probing.done():
            self._probing = asyncio.create_task(self._probe_banks(), name="bank-probe")
        return await asyncio.shield(self._probing)

    async def _probe_banks(self) -> Check:
        failures: list[str] = []
        for provider in self.engine.providers.values():
            try:
                async with asyncio.timeout(self.probe_timeout):
                    bank = await self.engine.bank(provider)
                    await bank.list("/", limit=1)
            except TimeoutError:
                failures.append(f"{provider.name}: no answer in {self.probe_timeout:g} s")
            except Exception as error:  # whatever the bank raises, the worker is not ready
                failures.append(f"{provider.name}: {type(error).__name__}: {error}")
        verdict = Check(not failures, "; ".join(failures))
        if not verdict.ok and self._bank.ok:
            log.warning("bank_unreachable", detail=verdict.detail)
        self._bank, self._probed_at = verdict, time.monotonic()
        return verdict
