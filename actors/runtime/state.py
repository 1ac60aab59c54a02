"""The resource actor's states and the only transitions allowed between them.

    waiting ──▶ pre ──▶ parallel ──▶ waiting_children ──▶ post ──▶ done
       │         │         │  └──────────────────────────▲  │
       │         ├─────────┴──────────────┬──────────────────┴──▶ failed ────┐
       │         └─────────┴──────────────┴──────────────────┴──▶ cancelled ─┤
       └───────────────────────────────────┴──▶ skipped  (stopped while idle)┤
                                                                              │
          (stopped with its pre finished and its post not: compensation)     ▼
                          aborted ◀── aborting ◀── waiting_aborts ◀──────────┘
                     abort_failed ◀──────┘

``failed``, ``cancelled`` and ``skipped`` are final unless the resource's pre finished
and its post did not: then, once the operation stops it, the actor waits for each child's
abort (``waiting_aborts``), runs its own (``aborting``) and ends ``aborted`` or
``abort_failed`` (``actors.runtime.compensation``).
"""

from __future__ import annotations

from enum import StrEnum


class ActorState(StrEnum):
    """Where a resource actor is."""

    WAITING = "waiting"
    PRE = "pre"
    PARALLEL = "parallel"
    WAITING_CHILDREN = "waiting_children"
    POST = "post"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    WAITING_ABORTS = "waiting_aborts"
    ABORTING = "aborting"
    ABORTED = "aborted"
    ABORT_FAILED = "abort_failed"


_S = ActorState
ALLOWED_TRANSITIONS: dict[ActorState, frozenset[ActorState]] = {
    # pre starts once every parent finished its pre; a stop before that skips the actor
    _S.WAITING: frozenset({_S.PRE, _S.SKIPPED}),
    # parallel follows our own pre; the activity may fail or be cancelled
    _S.PRE: frozenset({_S.PARALLEL, _S.FAILED, _S.CANCELLED}),
    # after parallel: post at once if every child finished its post, else wait for them
    _S.PARALLEL: frozenset({_S.WAITING_CHILDREN, _S.POST, _S.FAILED, _S.CANCELLED}),
    # the last child's post releases our post; a stop while waiting skips the post
    _S.WAITING_CHILDREN: frozenset({_S.POST, _S.SKIPPED}),
    _S.POST: frozenset({_S.DONE, _S.FAILED, _S.CANCELLED}),
    _S.DONE: frozenset(),
    # stopped after its pre finished (failed in parallel or post): its pre is undone
    _S.FAILED: frozenset({_S.WAITING_ABORTS}),
    # cancelled in parallel or post, or just as its pre finished: its pre is undone
    _S.CANCELLED: frozenset({_S.WAITING_ABORTS}),
    # skipped while waiting for its children's post: its pre is undone
    _S.SKIPPED: frozenset({_S.WAITING_ABORTS}),
    # the last child's abort settled (finished, failed, timed out, or none was needed)
    _S.WAITING_ABORTS: frozenset({_S.ABORTING}),
    # the abort activity returned, or it raised or ran past its abort timeout
    _S.ABORTING: frozenset({_S.ABORTED, _S.ABORT_FAILED}),
    _S.ABORTED: frozenset(),
    _S.ABORT_FAILED: frozenset(),
}

# No further activity will run: an actor here has replied, or may reply, Stopped.
FINAL_STATES = frozenset({_S.DONE, _S.FAILED, _S.CANCELLED, _S.SKIPPED, _S.ABORTED,
                          _S.ABORT_FAILED})
RUNNING_STATES = frozenset({_S.PRE, _S.PARALLEL, _S.POST})


class IllegalTransition(RuntimeError):
    """A transition not in ALLOWED_TRANSITIONS: a bug in the actor, never user input."""


def check_transition(current: ActorState, target: ActorState, where: str) -> None:
    """Raise unless ``current -> target`` is allowed.

    Raises:
        IllegalTransition: naming the actor and both states.
    """
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(f"{where}: {current} -> {target} is not allowed")
