"""Failures cross the wire as data, never as exception objects."""

from __future__ import annotations

import traceback

import msgspec

from banks.errors import BankError


class FailureInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What went wrong: the exception's type and text, its traceback, and whether to retry."""

    type: str
    message: str
    traceback: str = ""
    retryable: bool = False

    @classmethod
    def from_exception(cls, error: BaseException) -> FailureInfo:
        """Capture an exception (type name, text, formatted traceback)."""
        retryable = bool(getattr(error, "retryable", False)) or (
            isinstance(error, BankError) and error.retryable
        )
        return cls(
            type=type(error).__name__,
            message=str(error) or repr(error),
            traceback="".join(traceback.format_exception(error)),
            retryable=retryable,
        )

    def summary(self) -> str:
        """``Type: message`` on one line."""
        return f"{self.type}: {self.message}".replace("\n", " ")
