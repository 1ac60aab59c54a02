"""How a verify operation, which checks every resource before it fails, names its failures."""

from __future__ import annotations

from typing import Final

from actors.wire.failure import FailureInfo
from plugins.checkpoint.graph import ResourceGraph

FAILURES_NAMED: Final = 5  # in the operation's error; the events carry each one


def verification_outcome(graph: ResourceGraph,
                         failures: dict[int, FailureInfo]) -> tuple[FailureInfo, str]:
    """The operation's error and error resource, once every resource has been checked."""
    nodes = sorted(failures)
    named = "; ".join(failures[n].message for n in nodes[:FAILURES_NAMED])
    more = len(nodes) - FAILURES_NAMED
    message = (f"{len(nodes)} of {len(graph)} resource(s) failed verification: {named}"
               + (f"; and {more} more" if more > 0 else ""))
    return FailureInfo(type="VerificationFailed", message=message), graph.nodes[nodes[0]].key


