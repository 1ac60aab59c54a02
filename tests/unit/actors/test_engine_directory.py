"""The engine with the real directory plugin and the filesystem bank."""

from __future__ import annotations

from pathlib import Path

from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.keys import encode_segment
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.checkpoint.graph import ResourceGraph
from plugins.resource import Resource
from tests.fakes import node
from tests.helpers.directory_trees import build_awkward_tree, snapshot

DIRECTORY = "Strongbox::Directory"


def sections(bank: Path) -> str:
    # the passphrase from the provider file's own section, as a user would configure it
    return (
        f"plugin = directory\n[filesystem]\npath = {bank}\n"
        "[directory]\npassphrase = engine test passphrase\n"
    )


async def test_a_directory_round_trips_through_the_engine_and_its_delete_empties_the_bank(
    engine_for, tmp_path
):
    source, target = tmp_path / "source", tmp_path / "target"
    build_awkward_tree(source)
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        protected = await e.run(
            ProtectRequest(resources=[ResourceRef(DIRECTORY, str(source))]), timeout=60
        )
        assert protected.status == "succeeded", protected.error
        restored = await e.run(
            RestoreRequest(
                checkpoint_id=protected.checkpoint_id,
                parameters={DIRECTORY: {"target": str(target)}},
            ),
            timeout=60,
        )
        assert restored.status == "succeeded", restored.error
        assert snapshot(target) == snapshot(source)
        deleted = await e.run(DeleteRequest(checkpoint_id=protected.checkpoint_id), timeout=60)
        assert deleted.status == "succeeded", deleted.error
        bank = await e.bank(e.provider())
        prefix = f"/checkpoints/{encode_segment(protected.checkpoint_id)}/"
        assert await bank.list(prefix) == [prefix + "index"]


async def test_a_failure_elsewhere_keeps_what_the_directory_plugin_already_wrote(
    engine_for, tmp_path
):
    source = tmp_path / "source"
    build_awkward_tree(source)
    directory = Resource(type=DIRECTORY, id=str(source.resolve()), name="source")
    # the failing resource's post runs only after the directory's post: a fixed order
    graph = ResourceGraph([node("bad"), directory], [[1], []])
    parameters = {"Test::Node#bad": {"fail_at": "protect_post"}}
    async with engine_for(
        "recording", bank="filesystem", sections=sections(tmp_path / "bank")
    ) as engine:
        result = await engine.run(
            ProtectRequest(resources=[], parameters=parameters), graph=graph, timeout=60
        )
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#bad"
        index, _, states = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "error"
        assert {s.id: s.status for s in states} == {"bad": "error", directory.id: "available"}
        bank = await engine.bank(engine.provider())
        section = resource_section_prefix(bank, result.checkpoint_id, directory.key) + "/"
        assert section + "manifest" in await bank.list(section)
