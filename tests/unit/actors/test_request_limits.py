"""What a request may hold, checked where it is decoded, and routing keys any id keeps valid."""

from __future__ import annotations

import json

import pytest

from actors.errors import RequestInvalid
from actors.wire.events import (
    MAX_ROUTING_KEY_BYTES,
    ActivityFinished,
    OperationFinished,
    RequestRejected,
    routing_part,
)
from actors.wire.limits import MAX_RESOURCES, MAX_VALUE_DEPTH
from actors.wire.requests import CancelRequest, ProtectRequest, decode_request


def protect(**fields) -> bytes:
    body = {"kind": "protect", "resources": [{"type": "OS::Nova::Server", "id": "1"}]}
    return json.dumps({**body, **fields}).encode()


def refusal(raw: bytes) -> str:
    with pytest.raises(RequestInvalid) as raised:
        decode_request(raw)
    return str(raised.value)


def test_a_uuid_and_short_slugs_are_valid_ids() -> None:
    request = decode_request(protect(request_id="0b6f4c1e-8a3b-4c55-9d1e-2f0f1a2b3c4d",
                                     checkpoint_id="nightly_2024-01-01"))
    assert isinstance(request, ProtectRequest)
    cancel = decode_request(b'{"kind": "cancel", "operation_id": "op-1"}')
    assert isinstance(cancel, CancelRequest)


@pytest.mark.parametrize("bad", ["a#b", "a*b", "a.b", "a/b", "a b", "-leading", "", "x" * 129,
                                 "ab\n", "caf\u00e9"])
@pytest.mark.parametrize("field", ["request_id", "checkpoint_id"])
def test_an_id_with_a_routing_or_path_character_or_too_long_is_refused_naming_the_field(
        field: str, bad: str) -> None:
    assert field in refusal(protect(**{field: bad}))


def test_a_cancel_for_a_malformed_operation_id_is_refused_naming_the_field() -> None:
    assert "operation_id" in refusal(json.dumps(
        {"kind": "cancel", "operation_id": "x" * 520_000}).encode())


def test_directory_ids_keep_their_slashes_but_not_control_characters_or_megabytes() -> None:
    decode_request(protect(resources=[{"type": "Strongbox::Directory", "id": "/srv/a b.c"}]))
    for bad_id, word in [("/srv/a\x00b", "control"), ("/srv/\n", "control"),
                         ("é" * 600, "bytes"), ("x" * 2000, "length"), ("", "")]:
        reason = refusal(protect(resources=[{"type": "Strongbox::Directory", "id": bad_id}]))
        assert "resources[0]" in reason or "$.resources[0].id" in reason
        assert word in reason


@pytest.mark.parametrize("bad", ["OS::Nova Server", "a.b", "x" * 129, "T#1", ""])
def test_a_resource_type_outside_letters_digits_and_colons_is_refused(bad: str) -> None:
    assert "resources[0]" in refusal(protect(resources=[{"type": bad, "id": "1"}]))


def test_more_resources_than_the_limit_are_refused() -> None:
    many = [{"type": "T", "id": "1"}] * (MAX_RESOURCES + 1)
    assert "resources" in refusal(protect(resources=many))


def test_parameters_nested_too_deeply_or_keyed_by_no_type_are_refused() -> None:
    deep: object = 1
    for _ in range(MAX_VALUE_DEPTH + 1):
        deep = [deep]
    assert "nested deeper" in refusal(protect(parameters={"T": {"x": deep}}))
    assert "nested deeper" in refusal(protect(extra={"x": deep}))
    assert "does not start with a resource type" in refusal(protect(parameters={"a.b": {}}))
    assert "control" in refusal(protect(parameters={"T#a\x01": {}}))


def test_json_nested_ten_thousand_deep_is_a_clear_refusal_not_a_recursion_error() -> None:
    raw = b'{"kind": "protect", "resources": [], "extra": {"a": ' + b"[" * 10_000 + b"]" * 10_000
    raw += b"}}"
    assert "nested too deeply" in refusal(raw)


def test_every_routing_key_stays_within_amqp_s_255_bytes_whatever_the_names() -> None:
    huge = ActivityFinished(operation_id="é" * 500, node=1, resource_type="T." * 300,
                            resource_id="x", activity="protect_pre", state="s" * 400)
    assert len(huge.routing_key.encode()) <= MAX_ROUTING_KEY_BYTES
    assert huge.routing_key.count(".") == 2
    assert "*" not in RequestRejected(operation_id="a*#b", reason="r").routing_key
    assert "#" not in RequestRejected(operation_id="a*#b", reason="r").routing_key


def test_a_valid_operation_id_and_type_are_kept_as_they_are() -> None:
    operation = "0b6f4c1e-8a3b-4c55-9d1e-2f0f1a2b3c4d"
    event = OperationFinished(operation_id=operation, operation_type="protect",
                              checkpoint_id="c", status="succeeded")
    assert event.routing_key == f"{operation}.operation.succeeded"
    assert routing_part("x" * 128) == "x" * 128


def test_shortened_parts_stay_distinct() -> None:
    first, second = routing_part("x" * 300 + "a"), routing_part("x" * 300 + "b")
    assert first != second
    assert len(first.encode()) <= 128
