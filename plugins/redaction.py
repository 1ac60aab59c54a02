"""Keeping secrets out of messages and reprs.

Values of secret-looking option names (password, secret, key, token, credential) are
shown as ``***``: ``is_secret_key`` decides, ``RedactedDict`` hides them in a repr and
``scrub`` removes known secret values from a text.
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "***"
_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "key",
    "token",
    "credential",
    "credentials",
)


def is_secret_key(key: str) -> bool:
    """True for option names whose values must never be shown (``bank_swift_key``)."""
    return any(
        token.endswith(word) for token in re.split(r"[_\-.]", key.lower()) for word in _SECRET_WORDS
    )


class RedactedDict(dict[str, str]):
    """A plain dict of options whose repr hides the values of secret keys."""

    def __repr__(self) -> str:
        shown = {k: (REDACTED if is_secret_key(k) else v) for k, v in self.items()}
        return repr(shown)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


__all__ = ["REDACTED", "RedactedDict", "is_secret_key", "scrub"]
