"""Plans: named sets of resources protected on a schedule and thinned by a retention policy.
This package is their pure logic (when slots fall, which run, which checkpoints to keep);
it imports nothing of the engine."""

from actors.plans.due import DueSlots, due_slots
from actors.plans.errors import PlanInvalid, RetentionError, ScheduleError
from actors.plans.retention import (
    Candidate,
    Decision,
    RetentionPolicy,
    forget,
    parse_duration,
    validate_retention,
)
from actors.plans.schedule import Schedule, next_slots, slots_between, validate_schedule
from actors.plans.slot_ids import retention_delete_request_id, slot_request_id

__all__ = [
    "Candidate",
    "Decision",
    "DueSlots",
    "PlanInvalid",
    "RetentionError",
    "RetentionPolicy",
    "Schedule",
    "ScheduleError",
    "due_slots",
    "forget",
    "next_slots",
    "parse_duration",
    "retention_delete_request_id",
    "slot_request_id",
    "slots_between",
    "validate_retention",
    "validate_schedule",
]
