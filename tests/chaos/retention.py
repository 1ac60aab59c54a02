"""The suite's own retention: what the operator of a bank that protects every few seconds
does, so that the run's small bank never fills by itself.

A trial deletes the checkpoint its protect made, but not one its protect left failed: a
failed checkpoint keeps what it wrote, and ``bank gc`` keeps the chunks of every
checkpoint not deleted, so a failed one is reclaimed only once someone deletes it
(docs/plans.md, "a failed checkpoint is not retention's to remove"). A 200-trial run fails
about 80 protects; their chunks filled the 48 MB bank after about 180 trials, and every
protect after that was refused at submit (``BankFull``). So after every trial the suite
deletes each failed checkpoint (a protect or a delete that failed) and every available
one past the newest ``KEEP_AVAILABLE`` (only a trial that could not delete its own leaves
one), with the product's delete, run as ``strongbox delete`` runs it (an embedded
engine); the garbage collection of the checks then reclaims their chunks.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest
from plugins.checkpoint.checkpoint import CheckpointIndex, CheckpointStatus
from tests.chaos.plugin import chaos_registry
from tests.chaos.steps import DEADLINE

log = structlog.get_logger(__name__)

KEEP_AVAILABLE = 4  # the newest available checkpoints retention leaves


def to_delete(indexes: list[CheckpointIndex]) -> list[CheckpointIndex]:
    """Of a provider's checkpoints (newest first), those retention deletes: every failed
    one, and the available ones past the newest ``KEEP_AVAILABLE``. One being protected
    or deleted is its operation's."""
    available = [i for i in indexes if i.status == CheckpointStatus.AVAILABLE]
    return ([i for i in indexes if i.status == CheckpointStatus.ERROR]
            + available[KEEP_AVAILABLE:])


async def apply_retention(providers: Path, provider_id: str,
                          indexes: list[CheckpointIndex]) -> tuple[int, list[str]]:
    """Delete what ``to_delete`` picks of the provider's ``indexes``; the number deleted
    and a line for each delete that did not succeed (a failed check: the product could
    not delete a checkpoint it had ended)."""
    doomed = to_delete(indexes)
    if not doomed:
        return 0, []
    deleted, problems = 0, []
    async with Engine.embedded(providers, registry=chaos_registry()) as engine:
        for index in doomed:
            request = DeleteRequest(checkpoint_id=index.id, provider_id=provider_id,
                                    deadline=DEADLINE)
            try:
                finished = await engine.run(request, timeout=DEADLINE)
            except Exception as error:  # refused at submit, or no end in time
                problems.append(f"retention could not delete {index.status} checkpoint "
                                f"{index.id}: {type(error).__name__}: {error}")
                continue
            if finished.status == "succeeded":
                deleted += 1
            else:
                problems.append(f"retention's delete of {index.status} checkpoint {index.id} "
                                f"{finished.status}: {finished.error}")
    log.info("chaos_retention_applied", provider_id=provider_id, deleted=deleted,
             failed=len(problems))
    return deleted, problems
