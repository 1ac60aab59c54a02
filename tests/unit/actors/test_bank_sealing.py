"""Which providers' banks the engine seals: those whose chunk store options ask for encryption."""

from __future__ import annotations

from pathlib import Path

import pytest

from banks.sealed import SealedBank


@pytest.mark.parametrize(
    ("plugin", "options", "sealed"),
    [
        ("directory", "[directory]\npassphrase = a passphrase\n", True),
        # the default is an encrypted store: sealed even before a passphrase is given
        ("directory", "", True),
        ("directory", "[directory]\nencryption = none\n", False),
        (None, "", False),  # no plugin keeps a chunk store: nothing to take keys from
    ],
    ids=["passphrase", "default", "encryption-none", "no-chunk-store"],
)
async def test_the_engine_seals_a_bank_exactly_when_its_store_options_ask_for_encryption(
    engine_for, tmp_path: Path, plugin: str | None, options: str, sealed: bool
) -> None:
    extra = f"plugin = {plugin}\n" if plugin else ""
    sections = f"{extra}[filesystem]\npath = {tmp_path / 'bank'}\n{options}"
    async with engine_for("recording", bank="filesystem", sections=sections) as engine:
        bank = await engine.bank(engine.provider())
        assert isinstance(bank, SealedBank) is sealed
        assert bank.local_path == str(tmp_path / "bank") and bank.name == "filesystem"
