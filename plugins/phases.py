"""The operations and phases every activity belongs to; below the plugin interface and the
checkpoint state, which both name them."""

from __future__ import annotations

from typing import Literal

# "verify" is the engine's own: it checks what a checkpoint stored, through
# ``actors.operations.verify``; a plugin may add ``activity_verify_<phase>`` for its types.
OperationType = Literal["protect", "restore", "delete", "verify"]
Phase = Literal["pre", "parallel", "post"]
OPERATIONS: tuple[OperationType, ...] = ("protect", "restore", "delete")
PHASES: tuple[Phase, ...] = ("pre", "parallel", "post")
ANY_TYPE = "*"
