"""What the plan tests share: a provider with the directory plugin on a filesystem bank,
a clock the test moves, and a plan request of a small directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from actors.wire.plan_fields import PlanRetention, PlanSchedule
from actors.wire.requests import PlanCreateRequest, ResourceRef

DIRECTORY = "Strongbox::Directory"
START = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def directory_sections(bank: Path) -> str:
    return (f"plugin = directory\n[filesystem]\npath = {bank}\n"
            "[directory]\nencryption = none\n")


def make_source(root: Path) -> Path:
    source = root / "source"
    source.mkdir(parents=True, exist_ok=True)
    (source / "a.txt").write_text("a")
    (source / "sub").mkdir(exist_ok=True)
    (source / "sub" / "b.txt").write_text("b" * 100)
    return source


class ManualClock:
    """Now is what the test says it is."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def create_request(source: Path, *, name: str = "nightly", every: int = 2,
                   keep_last: int | None = 2) -> PlanCreateRequest:
    return PlanCreateRequest(
        name=name, resources=[ResourceRef(DIRECTORY, str(source))],
        schedule=PlanSchedule(rrule=f"FREQ=SECONDLY;INTERVAL={every}"),
        retention=PlanRetention(last=keep_last) if keep_last else None)
