"""The ``verify`` operation: each resource of a checkpoint checked by its own actor.

The engine runs it like any other operation, with two differences that follow from what
it does. Its graph is the checkpoint's nodes *without* their edges: one resource's check
does not depend on another's, so all run at once (under the worker's and the plugin's
activity limits). And a resource that fails verification stops no other
(``FAILURES_STOP_NOTHING``): the operation ends ``failed`` once every resource has been
checked, naming each bad one; the checkpoint's status is never changed.

Each resource's plugin is wrapped in a ``ResourceVerifier``, whose ``verify_parallel``
activity runs ``checkpoint_verify.verify_resources`` for that resource when the plugin
keeps chunk lists: the manifest is there (bound to this checkpoint and resource, of a
version the store reads), every chunk it names exists, and a fraction
``sample`` of them decrypts and matches its hash. A plugin that keeps no chunks may
implement ``activity_verify_<phase>`` itself; otherwise its resources pass unchecked.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from actors.errors import StrongboxError
from actors.operations.checkpoint_chunks import chunk_keeper
from actors.operations.checkpoint_verify import Problem, verify_resources
from actors.wire.requests import Parameters, VerifyRequest
from plugins.base import ANY_TYPE, Activity, OperationType, Phase, ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.checkpoint.graph import ResourceGraph
from plugins.context import ActivityContext
from plugins.resource import Resource

PROBLEMS_NAMED: Final = 10  # per resource failure; the rest are counted


class VerifyParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What each resource's verification takes from the request."""

    sample: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0
    seed: int | None = None


class ResourceVerificationFailed(StrongboxError):
    """A resource's manifest or chunks are missing or corrupt; the message names each."""

    def __init__(self, checkpoint_id: str, resource_key: str, problems: list[Problem]) -> None:
        self.problems = problems
        named = "; ".join(p.detail() for p in problems[:PROBLEMS_NAMED])
        more = len(problems) - PROBLEMS_NAMED
        super().__init__(
            f"checkpoint {checkpoint_id} resource {resource_key} failed verification: "
            f"{len(problems)} problem(s): {named}" + (f"; and {more} more" if more > 0 else ""))


class ResourceVerifier(ProtectionPlugin):
    """A resource's plugin as the verify operation sees it."""

    supported_resource_types = frozenset({ANY_TYPE})

    def __init__(self, plugin: ProtectionPlugin) -> None:
        super().__init__(plugin.config)
        self.plugin = plugin
        self.chunks = chunk_keeper(plugin)
        # the plugin's own limits, whatever its class defaults are
        self.timeout = plugin.timeout
        self.poll_interval = plugin.poll_interval
        self.max_concurrent_activities = plugin.max_concurrent_activities

    def schema_for(self, operation: OperationType, resource_type: str) -> type[msgspec.Struct]:
        """Every resource of a verify takes the request's sample and seed."""
        return VerifyParameters

    def activity(self, operation: OperationType, phase: Phase) -> Activity | None:
        """Chunk plugins: the engine's check; any other: the plugin's own, if it has one."""
        if self.chunks is not None:
            return self.activity_verify_parallel if phase == "parallel" else None
        return self.plugin.activity(operation, phase)

    async def activity_verify_parallel(self, checkpoint: Checkpoint, context: ActivityContext,
                                       resource: Resource,
                                       parameters: VerifyParameters) -> None:
        """Check the resource's manifest and chunks.

        Raises:
            ResourceVerificationFailed: naming the checkpoint, the resource and each chunk.
            ChunkStoreError, BankError: the store cannot be opened or the bank read.
        """
        chunks = self.chunks
        if chunks is None:  # activity() hands this out for chunk plugins only
            raise StrongboxError(f"{type(self.plugin).__name__} keeps no chunk lists")
        found = await verify_resources(
            checkpoint, [(resource, chunks)],
            lambda: chunks.chunk_store(checkpoint.bank, create=False),
            sample=parameters.sample, seed=parameters.seed)
        if found.problems:
            raise ResourceVerificationFailed(checkpoint.id, resource.key, found.problems)


def verification_graph(graph: ResourceGraph) -> ResourceGraph:
    """The checkpoint's resources with no edges: every one a root, checked at once."""
    return ResourceGraph(graph.nodes, [[] for _ in graph.nodes])


def verify_parameters(request: VerifyRequest, graph: ResourceGraph) -> Parameters:
    """The request's sample and seed, as the parameters of every type of the graph."""
    values = {"sample": request.sample, "seed": request.seed}
    return {resource_type: dict(values) for resource_type in sorted(graph.types())}
