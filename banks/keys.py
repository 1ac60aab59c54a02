"""Bank key rules and resource-key encoding.

Keys are absolute, slash-separated paths (``/checkpoints/<id>/index``). The rules are the
original system's (``^[A-Za-z0-9/_.\\-@]+$``, no ``.`` or ``..`` segment) made strict: we
reject rather than normalise, so that two spellings never name one object.
"""

from __future__ import annotations

import base64
import re

from banks.errors import InvalidKey

_ALLOWED = re.compile(r"[A-Za-z0-9/_.\-@=]+")
MAX_KEY_LENGTH = 900  # leaves room below S3's 1024-byte limit for a bank's own prefix


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid bank key.

    Raises:
        InvalidKey: naming the key and the rule it breaks.
    """
    if not key.startswith("/"):
        raise InvalidKey(key, "must start with '/'")
    if key.endswith("/"):
        raise InvalidKey(key, "must not end with '/'")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(key, f"longer than {MAX_KEY_LENGTH} characters")
    if not _ALLOWED.fullmatch(key):
        raise InvalidKey(key, "may hold only letters, digits and '/_.-@='")
    for segment in key[1:].split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(key, "has an empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a valid listing prefix (``/`` or a key, optionally with ``/``).

    Raises:
        InvalidKey: naming the prefix and the rule it breaks.
    """
    if prefix == "/":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def encode_segment(text: str) -> str:
    """Encode any text (a resource id may be a path) as one key segment, reversibly."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") or "="


def decode_segment(segment: str) -> str:
    """Invert :func:`encode_segment`."""
    if segment == "=":
        return ""
    padding = "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(segment + padding).decode()
