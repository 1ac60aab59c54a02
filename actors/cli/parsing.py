"""Reading the CLI's resource and parameter arguments into request values.

``TYPE#ID`` becomes a ``ResourceRef``; ``--parameters`` and ``--param`` become
``Parameters``. A bad argument raises ``RequestInvalid`` naming the option.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from actors.errors import RequestInvalid
from actors.wire.requests import (
    DeleteRequest,
    Parameters,
    ProtectRequest,
    ResourceRef,
    VerifyRequest,
)
from plugins.resource import parse_resource_key


def parse_ref(text: str) -> ResourceRef:
    """``TYPE#ID`` as a ResourceRef.

    Raises:
        RequestInvalid: if ``text`` is not of that form.
    """
    try:
        return ResourceRef(*parse_resource_key(text))
    except ValueError as error:
        raise RequestInvalid(str(error)) from None


def parse_parameters(raw: str | None, params: Sequence[str]) -> Parameters:
    """``--parameters`` (JSON, or ``@file``) overlaid by each ``--param
    TYPE[#ID].FIELD=VALUE``; VALUE is JSON if it parses, else a string.

    Raises:
        RequestInvalid: naming the option and what is wrong with it.
    """
    parameters: Parameters = {}
    if raw:
        text: str | bytes = raw
        if raw.startswith("@"):
            try:
                text = Path(raw[1:]).read_bytes()
            except OSError as error:
                raise RequestInvalid(
                    f"--parameters: cannot read {raw[1:]!r}: {error.strerror}"
                ) from None
        try:
            parameters = msgspec.json.decode(text, type=Parameters)
        except msgspec.DecodeError as error:
            raise RequestInvalid(f"--parameters: {error}") from None
    for item in params:
        target, equals, value_text = item.partition("=")
        key, dot, field = target.rpartition(".")
        if not equals or not dot or not key or not field.isidentifier():
            raise RequestInvalid(f"--param {item!r} is not of the form TYPE[#ID].FIELD=VALUE")
        try:
            value: Any = msgspec.json.decode(value_text)
        except msgspec.DecodeError:
            value = value_text
        parameters.setdefault(key, {})[field] = value
    return parameters


def request_ids(args: argparse.Namespace) -> dict[str, Any]:
    """``--request-id`` as request fields (none: the request makes one up)."""
    return {"request_id": args.request_id} if args.request_id else {}


def protect_request(args: argparse.Namespace, provider_id: str | None) -> ProtectRequest:
    """The protect request a ``strongbox protect`` command line stands for.

    Raises:
        RequestInvalid: naming the argument at fault.
    """
    if not args.resources:
        raise RequestInvalid("protect: name the resources (TYPE#ID ...) or a plan (--plan)")
    return ProtectRequest(
        provider_id=provider_id, resources=[parse_ref(text) for text in args.resources],
        parameters=parse_parameters(args.parameters, args.param),
        checkpoint_id=args.checkpoint_id, **request_ids(args))


def delete_request(args: argparse.Namespace, provider_id: str | None) -> DeleteRequest:
    """The delete request a ``strongbox delete`` command line stands for."""
    return DeleteRequest(checkpoint_id=args.checkpoint, provider_id=provider_id,
                         **request_ids(args))


def verify_request(args: argparse.Namespace, provider_id: str | None) -> VerifyRequest:
    """The verify request a ``strongbox verify --operation`` command line stands for."""
    return VerifyRequest(checkpoint_id=args.checkpoint, provider_id=provider_id,
                         sample=args.sample, **request_ids(args))
