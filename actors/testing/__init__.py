"""Testing a plugin through the real engine: what a plugin package's own tests import.

``harness.run_plugin`` runs one protection plugin embedded (protect, restore, delete on a
temporary filesystem bank) and checks the seed's orderings (``orderings``), the journal and
the checkpoint's status. It runs the engine, so it lives in ``actors``, beside ``cli`` at the
top of the actor layers (docs/architecture.md); plugins never import it, their tests do.
"""

from actors.testing.harness import HarnessFailure, OperationTrace, PluginRun, run_plugin
from actors.testing.orderings import OrderingViolation, check_seed_orderings

__all__ = [
    "HarnessFailure",
    "OperationTrace",
    "OrderingViolation",
    "PluginRun",
    "check_seed_orderings",
    "run_plugin",
]
