"""The CLI as a client of a worker cluster: requests onto the queue, progress from events.

With ``--amqp-url`` (or ``STRONGBOX_AMQP_URL``), ``protect``, ``restore``, ``delete`` and
``verify --operation`` publish their request to the request queue instead of running in
this process; with ``--wait`` they show the operation's live progress from the event
exchange exactly as the embedded mode does, and ``watch`` follows an operation the same
way. The client needs no provider files and no bank: the workers have them.
``plans create|update|schedule|delete`` publish plan requests and wait for the worker's
``PlanChanged`` (or the refusal); ``protect --plan`` publishes a ``plan_run``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import TYPE_CHECKING

import msgspec

from actors.cli.commands import check_finished
from actors.cli.parsing import (
    delete_request,
    parse_parameters,
    protect_request,
    request_ids,
    verify_request,
)
from actors.cli.plan_arguments import plan_request, run_request
from actors.cli.progress import final_lines, make_renderer
from actors.errors import RequestInvalid, StrongboxError
from actors.service.worker import broker_url
from actors.transport.amqp import AmqpTransport
from actors.transport.base import EventSubscription
from actors.wire.events import OperationFinished, PlanChanged, RequestRejected
from actors.wire.requests import (
    AnyRequest,
    PlanCreateRequest,
    PlanDeleteRequest,
    PlanUpdateRequest,
    RestoreRequest,
)

if TYPE_CHECKING:
    from actors.cli.output import Output

BROKER_COMMANDS = frozenset({"protect", "restore", "delete", "watch"})
BROKER_PLAN_ACTIONS = frozenset({"create", "update", "schedule", "delete"})
PLAN_CHANGE_TIMEOUT = 60.0  # seconds to wait for a worker's answer to a plan change
PLAN_CHANGES = (PlanCreateRequest, PlanUpdateRequest, PlanDeleteRequest)


def wants_broker(args: argparse.Namespace) -> bool:
    """Whether this command goes through a worker cluster."""
    operation = args.group in BROKER_COMMANDS or (
        args.group == "verify" and getattr(args, "operation", False)) or (
        args.group == "plans" and args.action in BROKER_PLAN_ACTIONS)
    return operation and bool(
        getattr(args, "amqp_url", None) or getattr(args, "amqp_url_file", None)
        or broker_url_from_env())


# A Keystone token for requests to OpenStack providers (``openstack token issue -f value
# -c id``); from the environment only, never an option: a command line is public on a host.
AUTH_TOKEN_ENV = "OS_AUTH_TOKEN"


def broker_url_from_env() -> str | None:
    """``STRONGBOX_AMQP_URL_FILE``'s URL or ``STRONGBOX_AMQP_URL``, if set."""
    try:
        return broker_url(None)
    except RequestInvalid:
        return None


def build_request(args: argparse.Namespace) -> AnyRequest:
    """The request a protect, restore, delete or verify command line stands for."""
    if args.group == "verify":
        return verify_request(args, args.provider)
    if args.group == "plans":
        return plan_request(args, args.provider)
    if args.group == "protect" and args.plan:
        return run_request(args, args.provider)
    if args.group == "protect":
        return protect_request(args, args.provider)
    if args.group == "restore":
        if args.target:
            raise RequestInvalid("--target needs the checkpoint's graph, which a client of "
                                 "the workers does not read: pass --param TYPE.target=DIR")
        return RestoreRequest(checkpoint_id=args.checkpoint, provider_id=args.provider,
                              parameters=parse_parameters(args.parameters, args.param),
                              **request_ids(args))
    return delete_request(args, args.provider)


async def run(args: argparse.Namespace, out: Output) -> None:
    """Carry out a broker-mode command."""
    transport = await AmqpTransport.connect(
        broker_url(args.amqp_url, url_file=getattr(args, "amqp_url_file", None)),
        namespace=args.namespace, client=True)  # a publisher needs no right on actor queues
    try:
        if args.group == "watch":
            subscription = transport.subscribe(args.operation_id)
            await _follow(subscription, out, "watch", args.timeout)
            return
        request = build_request(args)
        subscription = transport.subscribe(request.request_id)
        await subscription.bound  # type: ignore[attr-defined]  # miss no event
        await transport.publish_request(msgspec.json.encode(request),
                                        request_id=request.request_id,
                                        auth_token=os.environ.get(AUTH_TOKEN_ENV) or None)
        if isinstance(request, PLAN_CHANGES):
            await _plan_changed(subscription, out, args.timeout or PLAN_CHANGE_TIMEOUT)
            return
        if not args.wait:
            await subscription.close()
            out.line(request.request_id)
            return
        await _follow(subscription, out, args.group, args.timeout)
    finally:
        await transport.close()


async def _plan_changed(subscription: EventSubscription, out: Output,
                        timeout: float) -> None:
    """Wait for the worker's answer to a plan change; print the plan's id.

    Raises:
        StrongboxError: the request was refused (with the worker's reason), or no answer.
    """
    try:
        async with subscription, asyncio.timeout(timeout):
            async for event in subscription:
                if isinstance(event, RequestRejected):
                    raise StrongboxError(f"request rejected: {event.reason}")
                if isinstance(event, PlanChanged):
                    if out.json:
                        out.document(msgspec.to_builtins(event))
                    else:
                        out.line(event.plan_id)
                    return
    except TimeoutError:
        raise StrongboxError(f"plans: no answer from a worker after {timeout:g} s") from None
    raise StrongboxError("plans: the event stream ended before a worker answered")


async def _follow(subscription: EventSubscription, out: Output, label: str,
                  timeout: float | None) -> None:
    finished: OperationFinished | None = None
    try:
        async with subscription, asyncio.timeout(timeout):
            with make_renderer(not out.live, out.stream, out.console, label) as renderer:
                async for event in subscription:
                    if isinstance(event, RequestRejected):
                        raise StrongboxError(f"request rejected: {event.reason}")
                    renderer.handle(event)
                    if isinstance(event, OperationFinished):
                        finished = event
                        break
    except TimeoutError:
        raise StrongboxError(f"{label}: no end after {timeout:g} s") from None
    if finished is None:
        raise StrongboxError(f"{label}: the event stream ended before the operation")
    check_finished(finished)
    if out.live:
        for line in final_lines(finished):
            out.line(line)
