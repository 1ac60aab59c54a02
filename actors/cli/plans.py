"""``strongbox plans``: create, list, show, change and delete plans; their next slots;
what their retention policy would forget.

Embedded, every command reads and writes the bank in this process, as the local user.
With a broker, ``create``, ``update``, ``schedule`` and ``delete`` go to the workers as
plan requests (``actors.cli.broker``); ``list``, ``show``, ``next`` and ``forget`` read
the bank, as ``checkpoints list`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from actors.cli.plan_arguments import (
    add_retention_options,
    add_schedule_options,
    plan_request,
)
from actors.errors import RequestInvalid, StrongboxError
from actors.operations.engine import Engine
from actors.plans.access import LOCAL
from actors.plans.authority import local_authority
from actors.plans.book import PlanBook
from actors.plans.plan import Plan, plan_document, utc_now
from actors.plans.schedule import next_slots
from actors.plans.slot_ids import retention_delete_request_id
from actors.plans.thinning import decide, thin
from actors.wire.requests import PlanCreateRequest, PlanDeleteRequest, PlanUpdateRequest
from plugins.checkpoint.operation_record import read_operation_record

if TYPE_CHECKING:
    from actors.cli.output import Command, Output

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
    AddLeaf = Callable[[Subcommands, str, Command, str], argparse.ArgumentParser]

NEXT_COUNT: Final = 5
DELETE_TIMEOUT: Final = 600.0


def add_parsers(groups: Subcommands, add: AddLeaf,
                client_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``plans ...`` to the CLI's parser."""
    plans = groups.add_parser("plans", help="resources protected on a schedule").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    create = add(plans, "create", plans_change, "store a new plan")
    create.add_argument("name")
    create.add_argument("resources", nargs="+", metavar="TYPE#ID")
    create.add_argument("--project", metavar="ID", help="the project the plan belongs to")
    _parameter_options(create)
    add_schedule_options(create)
    add_retention_options(create)
    add(plans, "list", plans_list, "list the plans")
    add(plans, "show", plans_show, "show a plan and its history").add_argument("plan")
    update = add(plans, "update", plans_change, "change a plan")
    update.add_argument("plan")
    update.add_argument("resources", nargs="*", metavar="TYPE#ID",
                        help="the plan's new resources (default: unchanged)")
    update.add_argument("--name", dest="new_name", metavar="NAME", help="rename the plan")
    _parameter_options(update)
    add_schedule_options(update)
    add_retention_options(update)
    update.add_argument("--no-schedule", action="store_true", help="remove the schedule")
    update.add_argument("--no-retention", action="store_true",
                        help="remove the retention policy")
    schedule = add(plans, "schedule", plans_change, "set a plan's schedule")
    schedule.add_argument("plan")
    add_schedule_options(schedule)
    schedule.add_argument("--request-id", metavar="ID", help="request id (idempotency key)")
    delete = add(plans, "delete", plans_change, "delete a plan (its checkpoints stay)")
    delete.add_argument("plan")
    delete.add_argument("--request-id", metavar="ID", help="request id (idempotency key)")
    add(plans, "next", plans_next, f"the next {NEXT_COUNT} slots of a plan"
        ).add_argument("plan")
    forget = add(plans, "forget", plans_forget,
                 "apply a plan's retention policy now (each checkpoint: keep or delete, why)")
    forget.add_argument("plan")
    forget.add_argument("--dry-run", action="store_true", help="say what, delete nothing")
    for leaf in (create, update, schedule, delete):
        client_options(leaf)


def _parameter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", action="append", default=[], metavar="TYPE[#ID].FIELD=VALUE",
                        help="one parameter of the plan's protects")
    parser.add_argument("--parameters", metavar="JSON|@FILE",
                        help="all parameters as {TYPE or TYPE#ID: {FIELD: VALUE}}")
    parser.add_argument("--request-id", metavar="ID", help="request id (idempotency key)")


async def plans_change(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """``create``, ``update``, ``schedule``, ``delete`` in this process."""
    request = plan_request(args, engine.provider(args.provider).id
                           if args.action == "create" else args.provider)
    book = PlanBook(engine)
    if isinstance(request, PlanCreateRequest):
        plan = await book.create(request, LOCAL)
    elif isinstance(request, PlanUpdateRequest):
        plan = await book.update(request, LOCAL)
    else:
        assert isinstance(request, PlanDeleteRequest)
        plan = await book.delete(request, LOCAL)
    if out.json:
        out.document(plan_document(plan))
        return
    out.line(plan.id)


async def plans_list(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Every plan, by name."""
    plans = await PlanBook(engine).list(LOCAL)
    if out.json:
        out.document([plan_document(plan) for plan in plans])
        return
    out.table(["NAME", "ID", "PROVIDER", "SCHEDULE", "RETENTION", "LAST RUN", "NEXT SLOT"], [
        [p.name, p.id, p.provider_id, _schedule_text(p), _retention_text(p),
         _run_text(p), when(p.history.next_slot)] for p in plans])


async def plans_show(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """One plan: what it protects, when, what it keeps, and what became of its slots."""
    plan, store = await PlanBook(engine).find(args.plan, LOCAL, provider_id=args.provider)
    if out.json:
        out.document(plan_document(plan))
        return
    history = plan.history
    run_text = _run_text(plan)
    run = history.last_run
    if run is not None and run.status == "running":
        # a worker notes a run's end on its next pass; say how it ended if it has
        record = await read_operation_record(store.bank, run.operation_id)
        if record is not None and record.status != "running":
            run_text = (f"{run.operation_id} {record.status} (at {when(run.at)}; not yet "
                        f"noted by a worker)")
    success = history.last_success
    out.fields([
        ("id", plan.id), ("name", plan.name), ("provider", plan.provider_id),
        ("owner", plan.owner.label),
        ("resources", ", ".join(ref.key for ref in plan.resources)),
        ("parameters", ", ".join(sorted(plan.parameters)) or None),
        ("schedule", _schedule_text(plan)), ("retention", _retention_text(plan)),
        ("created", when(plan.created_at)), ("updated", when(plan.updated_at)),
        ("last slot", f"{when(history.last_slot)} ({history.last_outcome})"
         if history.last_slot else None),
        ("last skip reason", history.last_reason),
        ("last run", run_text),
        ("last success", f"{success.operation_id} at {when(success.finished_at)}"
         if success else None),
        ("last error", f"{history.last_error} (at {when(history.last_error_at)})"
         if history.last_error else None),
        ("next slot", when(history.next_slot)),
        ("slots", f"{history.scheduled} scheduled, {history.skipped} skipped, "
                  f"{history.missed} missed"),
        ("retention deleted", history.retention_deleted),
    ])


async def plans_next(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """The plan's next slots, in local time and UTC."""
    plan, _ = await PlanBook(engine).find(args.plan, LOCAL, provider_id=args.provider)
    if plan.schedule is None:
        raise RequestInvalid(f"plan {plan.name!r} has no schedule")
    slots = next_slots(plan.schedule, max(utc_now(), plan.schedule_since), NEXT_COUNT)
    if out.json:
        out.document([{"local": local(slot), "utc": slot.isoformat()} for slot in slots])
        return
    out.table(["LOCAL", "UTC"], [[local(slot), slot.isoformat()] for slot in slots])


async def plans_forget(engine: Engine, args: argparse.Namespace, out: Output) -> None:
    """Each checkpoint of the plan, kept or deleted and the rules that decided; without
    ``--dry-run``, delete those it lets go (in this process) and wait for the deletes.

    Raises:
        StrongboxError: if a delete failed.
    """
    plan, _ = await PlanBook(engine).find(args.plan, LOCAL, provider_id=args.provider)
    if plan.retention is None:
        raise RequestInvalid(f"plan {plan.name!r} has no retention policy")
    decisions = await decide(engine, plan)
    if not args.dry_run:
        thinned = await thin(engine, plan, local_authority)
        decisions = thinned.decisions
        failed = []
        for checkpoint_id in thinned.deleted:
            finished = await engine.wait(retention_delete_request_id(plan.id, checkpoint_id),
                                         timeout=DELETE_TIMEOUT)
            if finished.status != "succeeded":
                failed.append(f"{checkpoint_id}: {finished.error}")
        if failed:
            raise StrongboxError(f"plans forget: deletes failed: {'; '.join(failed)}")
    rows = [{"checkpoint": d.checkpoint_id, "created": local(d.created_at),
             "action": "keep" if d.keep else "delete", "reasons": d.reasons}
            for d in decisions]
    if out.json:
        out.document(rows)
        return
    out.table(["CHECKPOINT", "CREATED", "ACTION", "RULES"], [
        [r["checkpoint"], r["created"], r["action"], ", ".join(r["reasons"]) or "-"]
        for r in rows])


def when(moment: datetime | None) -> str | None:
    """A time as local ISO 8601 with its offset, or None."""
    return local(moment) if moment is not None else None


def local(moment: datetime) -> str:
    """``moment`` in this host's time zone, to the second."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone().isoformat(timespec="seconds")


def _schedule_text(plan: Plan) -> str | None:
    schedule = plan.schedule
    if schedule is None:
        return None
    rule = f"cron {schedule.cron}" if schedule.cron else f"rrule {schedule.rrule}"
    return f"{rule} ({schedule.timezone}, missed: {schedule.missed})"


def _retention_text(plan: Plan) -> str | None:
    policy = plan.retention
    if policy is None:
        return None
    parts = [f"{name} {getattr(policy, name)}"
             for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly")
             if getattr(policy, name)]
    if policy.within:
        parts.append(f"within {policy.within}")
    return ", ".join(parts)


def _run_text(plan: Plan) -> str | None:
    run = plan.history.last_run
    if run is None:
        return None
    return f"{run.operation_id} {run.status} (at {when(run.at)})"

