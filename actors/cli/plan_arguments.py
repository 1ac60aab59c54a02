"""Reading ``strongbox plans`` command lines into plan requests (embedded and broker alike).

A bad argument raises ``RequestInvalid`` naming the option.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from actors.cli.parsing import parse_parameters, parse_ref, request_ids
from actors.errors import RequestInvalid
from actors.wire.plan_fields import PlanRetention, PlanSchedule
from actors.wire.requests import (
    PlanCreateRequest,
    PlanDeleteRequest,
    PlanRequest,
    PlanRunRequest,
    PlanUpdateRequest,
    decode_request,
)

R = TypeVar("R", bound=PlanRequest)
KEEP_OPTIONS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def add_schedule_options(parser: argparse.ArgumentParser) -> None:
    """``--cron``/``--rrule`` and what qualifies them."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cron", metavar="EXPR",
                       help="a cron expression ('0 2 * * *'; a sixth field counts seconds)")
    which.add_argument("--rrule", metavar="RULE",
                       help="an RFC 5545 RRULE ('FREQ=DAILY;BYHOUR=2')")
    parser.add_argument("--timezone", metavar="TZ", help="the schedule's time zone (UTC)")
    parser.add_argument("--start", metavar="ISO", help="no slot before this time")
    parser.add_argument("--end", metavar="ISO", help="no slot after this time")
    parser.add_argument("--missed", choices=("skip", "once"),
                        help="slots missed while no worker ran: skip them (default), or "
                             "run once for all of them")


def add_retention_options(parser: argparse.ArgumentParser) -> None:
    """``--keep-*``: the retention policy."""
    for name in KEEP_OPTIONS:
        parser.add_argument(f"--keep-{name}", type=int, metavar="N",
                            help=f"keep the {name} N" if name == "last" else
                            f"keep one checkpoint per {name[:-2] if name == 'daily' else name}"
                            f" period for the newest N")
    parser.add_argument("--keep-within", metavar="DUR",
                        help="keep every checkpoint within DUR of the newest (36h, 7d, 2w)")


def schedule_fields(args: argparse.Namespace) -> PlanSchedule | None:
    """The ``--cron``/``--rrule`` options as schedule fields, or None if neither is given.

    Raises:
        RequestInvalid: a qualifier without a schedule, or a time that is not ISO 8601.
    """
    if args.cron is None and args.rrule is None:
        given = [f"--{n}" for n in ("timezone", "start", "end", "missed")
                 if getattr(args, n) is not None]
        if given:
            raise RequestInvalid(f"{', '.join(given)}: needs --cron or --rrule")
        return None
    fields: dict[str, Any] = {"cron": args.cron, "rrule": args.rrule,
                              "start": _iso(args.start, "--start"),
                              "end": _iso(args.end, "--end")}
    if args.timezone is not None:
        fields["timezone"] = args.timezone
    if args.missed is not None:
        fields["missed"] = args.missed
    schedule: PlanSchedule = _convert(fields, PlanSchedule, "schedule")
    return schedule


def retention_fields(args: argparse.Namespace) -> PlanRetention | None:
    """The ``--keep-*`` options as retention fields, or None if none is given."""
    fields: dict[str, Any] = {name: getattr(args, f"keep_{name}") for name in KEEP_OPTIONS
                              if getattr(args, f"keep_{name}") is not None}
    if args.keep_within is not None:
        fields["within"] = args.keep_within
    if not fields:
        return None
    retention: PlanRetention = _convert(fields, PlanRetention, "retention")
    return retention


def plan_request(args: argparse.Namespace, provider_id: str | None) -> PlanRequest:
    """The plan request a ``plans create|update|schedule|delete`` command line stands for.

    Raises:
        RequestInvalid: naming the option at fault.
    """
    ids = request_ids(args)
    if args.action == "create":
        return _checked(PlanCreateRequest(
            name=args.name, provider_id=provider_id,
            resources=[parse_ref(text) for text in args.resources],
            parameters=parse_parameters(args.parameters, args.param),
            schedule=schedule_fields(args), retention=retention_fields(args),
            project_id=args.project, **ids))
    if args.action == "delete":
        return _checked(PlanDeleteRequest(plan=args.plan, provider_id=provider_id,
                                                  **ids))
    changes: dict[str, Any] = {}
    schedule = schedule_fields(args)
    if schedule is not None:
        changes["schedule"] = schedule
    if args.action == "update":
        if args.new_name:
            changes["name"] = args.new_name
        if args.resources:
            changes["resources"] = [parse_ref(text) for text in args.resources]
        if args.parameters or args.param:
            changes["parameters"] = parse_parameters(args.parameters, args.param)
        retention = retention_fields(args)
        if retention is not None:
            changes["retention"] = retention
        if args.no_retention:
            changes["retention"] = None
        if args.no_schedule:
            changes["schedule"] = None
    elif schedule is None:
        raise RequestInvalid("plans schedule: give --cron or --rrule")
    return _checked(PlanUpdateRequest(plan=args.plan, provider_id=provider_id,
                                              **changes, **ids))


def run_request(args: argparse.Namespace, provider_id: str | None) -> PlanRunRequest:
    """``strongbox protect --plan NAME``.

    Raises:
        RequestInvalid: if resources, parameters or a checkpoint id are given too.
    """
    if args.resources or args.param or args.parameters or args.checkpoint_id:
        raise RequestInvalid("protect --plan: the plan names the resources and parameters; "
                             "give no TYPE#ID, --param, --parameters or --checkpoint-id")
    return _checked(PlanRunRequest(plan=args.plan, provider_id=provider_id,
                                           **request_ids(args)))


def _checked(request: R) -> R:
    """Check a request exactly as a worker checks one from the queue (a struct built in
    Python skips the checks decoding makes).

    Raises:
        RequestInvalid: naming the field at fault.
    """
    decoded = decode_request(msgspec.json.encode(request))
    assert isinstance(decoded, type(request))
    return decoded


def _iso(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RequestInvalid(f"{option}: {text!r} is not an ISO 8601 time") from None


def _convert(fields: dict[str, Any], kind: Any, what: str) -> Any:
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as error:
        raise RequestInvalid(f"{what}: {error}") from None
