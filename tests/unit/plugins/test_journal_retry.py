"""A journal segment is written again while its bank is unavailable, within a window."""

from __future__ import annotations

import pytest

from banks.errors import BankFull, BankUnavailable
from banks.memory_bank import MemoryBank
from plugins.checkpoint import journal
from plugins.checkpoint.journal import Journal, read_journal


class FlakyBank(MemoryBank):
    """Refuses the first ``failures`` puts with ``error``."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures = failures
        self.error = error
        self.puts = 0

    async def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        if self.puts <= self.failures:
            raise self.error
        await super().put(key, data)


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "RETRY_PAUSE", 0.01)
    monkeypatch.setattr(journal, "RETRY_WINDOW", 0.5)


async def test_an_entry_outlives_a_short_outage_of_its_bank() -> None:
    bank = FlakyBank(3, BankUnavailable("s3 bank: cannot write: HTTP 503"))
    await Journal(bank, "op", "w1").record(0, "protect_pre", "done")
    entries = await read_journal(bank, "op")
    assert [(e.node, e.activity, e.state) for e in entries] == [(0, "protect_pre", "done")]
    assert bank.puts == 4


async def test_an_outage_past_the_window_fails_the_entry() -> None:
    bank = FlakyBank(10_000, BankUnavailable("s3 bank: cannot write: HTTP 503"))
    with pytest.raises(BankUnavailable):
        await Journal(bank, "op", "w1").record(0, "protect_pre", "done")
    assert 2 <= bank.puts <= 60  # tried again, and given up within the window


async def test_a_full_bank_is_not_waited_for() -> None:
    bank = FlakyBank(1, BankFull("filesystem bank is full"))
    with pytest.raises(BankFull):
        await Journal(bank, "op", "w1").record(0, "protect_pre", "done")
    assert bank.puts == 1
