"""Which bank keys an encrypted store seals, with which key, bound to which scope."""

from __future__ import annotations

import pytest

from banks.keys import encode_segment
from banks.sealed import Purpose
from plugins.checkpoint.checkpoint import checkpoint_prefix
from plugins.checkpoint.operation_deadline import deadline_key
from plugins.checkpoint.sealing_layout import CHECKPOINT_SEALING, ObjectPlacement

CP = checkpoint_prefix("cp-1")
OP = f"/operations/{encode_segment('op-1')}/"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (CP + "index", ObjectPlacement(Purpose.ENGINE, "checkpoint cp-1")),
        (CP + "graph", ObjectPlacement(Purpose.ENGINE, "checkpoint cp-1")),
        (CP + "resources", ObjectPlacement(Purpose.ENGINE, "checkpoint cp-1")),
        (CP + "resource-data/abc/saved_info", ObjectPlacement(Purpose.SECTION, "checkpoint cp-1")),
        (OP + "spec", ObjectPlacement(Purpose.ENGINE, "operation op-1")),
        (OP + "journal/w.1/00000001", ObjectPlacement(Purpose.ENGINE, "operation op-1")),
        (OP + "restored/abc", ObjectPlacement(Purpose.ENGINE, "operation op-1")),
        (deadline_key("op-1"), ObjectPlacement(Purpose.ENGINE, "operation op-1")),
        # a prefix nobody declared is sealed: nothing is in the clear by omission
        ("/plans/p-1/state", ObjectPlacement(Purpose.ENGINE, "bank")),
        ("/chunks/config", None),
        ("/chunks/data/ab/" + "ab" * 32, None),
        (f"/indices/all/0000000000001@{encode_segment('cp-1')}", None),
    ],
)
def test_every_object_but_the_chunk_store_and_the_listing_is_sealed_in_its_scope(
    key: str, expected: ObjectPlacement | None
) -> None:
    assert CHECKPOINT_SEALING.placement(key) == expected


def test_a_segment_that_does_not_decode_still_names_its_scope() -> None:
    placement = CHECKPOINT_SEALING.placement("/checkpoints/a/index")
    assert placement == ObjectPlacement(Purpose.ENGINE, "checkpoint segment a")
