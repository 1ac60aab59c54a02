"""Every worker derives the same request id for a plan's slot, and for retention's delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from actors.plans.slot_ids import PLANS_NAMESPACE, retention_delete_request_id, slot_request_id
from actors.wire.limits import check_id
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, decode_request

SLOT = datetime(2026, 12, 6, 1, 30, tzinfo=UTC)


def test_the_slot_id_is_the_same_for_the_same_plan_and_instant_in_any_zone() -> None:
    berlin = SLOT.astimezone(ZoneInfo("Europe/Berlin"))
    assert slot_request_id("nightly", SLOT) == slot_request_id("nightly", SLOT)
    assert slot_request_id("nightly", SLOT) == slot_request_id("nightly", berlin)
    assert slot_request_id("nightly", SLOT) == str(
        uuid.uuid5(PLANS_NAMESPACE, "nightly/2026-12-06T01:30:00+00:00"))


def test_the_namespace_never_changes() -> None:
    # a changed namespace would let old and new workers both run a slot
    assert slot_request_id("p", SLOT) == "bebda5c2-2370-5218-a2e8-a37765d22ab3"


def test_slot_ids_differ_per_slot_and_per_plan() -> None:
    slots = [SLOT + timedelta(seconds=n) for n in range(1000)]
    ids = {slot_request_id(plan, slot) for plan in ("a", "b", "nightly") for slot in slots}
    assert len(ids) == 3000


def test_a_naive_slot_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        slot_request_id("nightly", datetime(2026, 12, 6))


def test_retention_ids_are_deterministic_and_differ_from_slot_ids() -> None:
    first = retention_delete_request_id("nightly", "cp-1")
    assert first == retention_delete_request_id("nightly", "cp-1")
    assert first != retention_delete_request_id("nightly", "cp-2")
    assert first != retention_delete_request_id("weekly", "cp-1")
    assert first == str(uuid.uuid5(PLANS_NAMESPACE, "nightly/forget/cp-1"))


@pytest.mark.parametrize("plan_id", ["nightly", "a/b#c d", "x" * 2000, "caf\u00e9"])
def test_the_ids_pass_the_wire_limits_whatever_the_plan_id(plan_id: str) -> None:
    slot_id = slot_request_id(plan_id, SLOT)
    delete_id = retention_delete_request_id(plan_id, "0b6f4c1e-8a3b-4c55-9d1e-2f0f1a2b3c4d")
    check_id("request_id", slot_id)
    check_id("request_id", delete_id)
    protect = ProtectRequest(request_id=slot_id, resources=[ResourceRef(type="T", id="1")])
    delete = DeleteRequest(request_id=delete_id, checkpoint_id="cp-1")
    assert decode_request(msgspec.json.encode(protect)) == protect
    assert decode_request(msgspec.json.encode(delete)) == delete
