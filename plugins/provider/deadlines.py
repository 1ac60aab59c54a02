"""Operation deadlines a provider sets in its ``[provider]`` section.

    [provider]
    deadline = 43200            every operation of this provider: 12 hours at most
    protect_deadline = 86400    protects only (wins over ``deadline``)

Seconds, from 1 to ``MAX_DEADLINE`` (a week). A request may still ask for its own
deadline (the ``deadline`` field of a request), which wins over the provider's; the
engine's default per operation type applies when neither says (``actors.operations.deadlines``).
The values are checked like any option: an unknown key, a word or a value out of range is
an error naming the file and the line.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from banks.option_schema import OptionSchema
from plugins.phases import OperationType

# A week: longer than any backup window; a deadline is there to end what is stuck.
MAX_DEADLINE: Final = 7 * 24 * 3600.0

Seconds = Annotated[float, msgspec.Meta(ge=1.0, le=MAX_DEADLINE)]


class ProviderDeadlines(OptionSchema, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The deadline keys of ``[provider]``; None: left to the request or the default."""

    deadline: Seconds | None = None
    protect_deadline: Seconds | None = None
    restore_deadline: Seconds | None = None
    delete_deadline: Seconds | None = None
    verify_deadline: Seconds | None = None

    def for_operation(self, operation: OperationType) -> float | None:
        """The seconds this provider allows an operation of this type, if it says."""
        specific: float | None = getattr(self, f"{operation}_deadline", None)
        return specific if specific is not None else self.deadline


DEADLINE_KEYS: Final = frozenset(f.name for f in msgspec.structs.fields(ProviderDeadlines))
