"""What the engine does for a restore before any activity: parameters a plugin derives per
resource, and every plugin's check of all its resources."""

from __future__ import annotations

from actors.operations.parameters import validate_parameters
from actors.wire.requests import ProtectRequest, RestoreRequest
from plugins.checkpoint.graph import ResourceGraph
from tests.fakes import RestoreCheckingProtection, node

CHECKS = [(f"Test::Node#{name}", "check_restore") for name in ("parent", "child", "sibling")]


def family() -> ResourceGraph:
    return ResourceGraph([node("parent"), node("child"), node("sibling")], [[1, 2], [], []])


def test_derived_parameters_overlay_the_types_and_a_resources_own_overlay_them() -> None:
    plugin = RestoreCheckingProtection()
    validated = validate_parameters("restore", family(), [plugin] * 3, {
        "Test::Node": {"hang_at": "derive", "delay": 1.0},
        "Test::Node#child": {"fail_at": "its own"}})
    assert [(p.delay, p.fail_at, p.hang_at) for p in validated] == [  # type: ignore[attr-defined]
        (1.0, "derived for parent", None), (1.0, "its own", None),
        (1.0, "derived for sibling", None)]


async def test_a_restore_refused_by_its_plugins_check_runs_no_activity_and_names_the_resource(
        engine_for) -> None:
    async with engine_for("restore-checking") as engine:
        protected = await engine.run(ProtectRequest(resources=[]), graph=family(), timeout=20)
        assert protected.status == "succeeded", protected.error
        plugin = engine.provider().plugins["restore-checking"]
        plugin.calls.clear()
        refused = await engine.run(RestoreRequest(
            checkpoint_id=protected.checkpoint_id,
            parameters={"Test::Node#sibling": {"fail_at": "check_restore"}}), timeout=20)
        assert (refused.status, refused.error_resource) == ("failed", "Test::Node#sibling")
        assert "refused on purpose" in refused.error
        assert refused.restored == {}
        assert plugin.calls == CHECKS  # every resource checked, and nothing ran


async def test_a_restore_checks_all_its_resources_once_before_the_first_activity(
        engine_for) -> None:
    async with engine_for("restore-checking") as engine:
        protected = await engine.run(ProtectRequest(resources=[]), graph=family(), timeout=20)
        plugin = engine.provider().plugins["restore-checking"]
        plugin.calls.clear()
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=20)
        assert restored.status == "succeeded", restored.error
        assert plugin.calls[:3] == CHECKS
        assert {activity for _, activity in plugin.calls[3:]} == {
            "restore_pre", "restore_parallel", "restore_post"}
        assert len(plugin.calls) == 3 + 3 * 3
