"""The files ``strongbox plugin new`` writes, as ``string.Template`` texts.

``$``-placeholders (``string.Template``), because the templates are Python and TOML full
of braces. The names: ``$dist`` (the distribution, NAME), ``$package`` (its import name),
``$rtype`` (the resource type), ``$prefix`` (CamelCase of NAME, for class names).
"""

from __future__ import annotations

from string import Template

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "Strongbox plugins for $rtype"
requires-python = ">=3.11"
dependencies = ["strongbox"]

[project.optional-dependencies]
test = ["pytest>=8"]

# Strongbox finds the plugins through these entry points once the package is installed.
[project.entry-points."strongbox.protectables"]
# any entry name: the resource type comes from the class
${package}_item = "$package.protectable:${prefix}Protectable"

[project.entry-points."strongbox.protections"]
$dist = "$package.protection:${prefix}Protection"

[tool.setuptools.packages.find]
include = ["$package*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''')

README = Template('''\
# $dist

Strongbox plugins for `$rtype`: a protectable (discovery) and a protection plugin
(protect, restore, delete). Scaffolded by `strongbox plugin new $dist`.

    pip install -e . && pytest

`tests/test_through_the_engine.py` runs the plugin through the real engine, embedded
(protect -> restore -> delete on a temporary filesystem bank), with
`actors.testing.harness.run_plugin`, which checks the seed's four orderings, the journal
and the checkpoint's status. `providers.d/$dist.conf` is a provider file that uses the
plugin: `strongbox --providers-dir providers.d protect $rtype#i1`.
See Strongbox's docs/plugin-guide.md.
''')

INIT = Template('''\
"""Strongbox plugins for $rtype."""
''')

PROTECTABLE = Template('''\
"""Discovers $rtype resources. Replace CATALOGUE with calls to your service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.base import ProtectablePlugin
from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.resource import Resource

RESOURCE_TYPE = "$rtype"
# id -> (name, ids of the items it contains): i1 contains i1.a, so the graph has an edge
CATALOGUE: dict[str, tuple[str, list[str]]] = {
    "i1": ("first", ["i1.a"]),
    "i1.a": ("inside the first", []),
    "i2": ("second", []),
}


def _resource(resource_id: str) -> Resource:
    return Resource(type=RESOURCE_TYPE, id=resource_id, name=CATALOGUE[resource_id][0])


class ${prefix}Protectable(ProtectablePlugin):
    resource_type = RESOURCE_TYPE
    # an item may contain items: its dependents are found through this same plugin
    parent_resource_types = frozenset({RESOURCE_TYPE})

    async def list_resources(self, context: RequestContext,
                             parameters: Mapping[str, Any] | None = None) -> list[Resource]:
        return [_resource(resource_id) for resource_id in CATALOGUE]

    async def show_resource(self, context: RequestContext, resource_id: str,
                            parameters: Mapping[str, Any] | None = None) -> Resource:
        if resource_id not in CATALOGUE:
            raise ResourceNotFound(RESOURCE_TYPE, resource_id, "no such item")
        return _resource(resource_id)

    async def get_dependent_resources(self, context: RequestContext,
                                      parent: Resource) -> list[Resource]:
        return [_resource(child) for child in CATALOGUE.get(parent.id, ("", []))[1]]
''')

PROTECTION = Template('''\
"""Protects, restores and deletes $rtype resources.

pre, parallel, post, in the seed's order: a resource's pre after its parents' pre, its
parallel after its pre, its post after its parallel and its children's post. The parallel
is a polling generator: it starts a (simulated) copy job and yields until it is done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import msgspec

from plugins.base import ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import RequestContext
from plugins.resource import Resource

from $package.protectable import RESOURCE_TYPE


class Parameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Protect parameters, per resource type or per resource."""

    copies: int = 1


class RestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Restore parameters."""

    suffix: str = "-restored"


class SavedInfo(msgspec.Struct, frozen=True):
    """What this plugin writes into a checkpoint, per resource."""

    copies: int
    polls: int


class CopyJob:
    """A stand-in for your service's asynchronous copy: done after a few status checks."""

    def __init__(self, resource_id: str) -> None:
        self.resource_id = resource_id
        self.checks = 0

    def done(self) -> bool:
        self.checks += 1
        return self.checks >= 3


class ${prefix}Protection(ProtectionPlugin):
    supported_resource_types: ClassVar[frozenset[str]] = frozenset({RESOURCE_TYPE})
    Parameters = Parameters
    RestoreParameters = RestoreParameters
    SavedInfo = SavedInfo

    async def activity_protect_pre(self, checkpoint: Checkpoint, context: RequestContext,
                                   resource: Resource, parameters: Parameters) -> None:
        # quiesce, snapshot: here, only record that the resource was prepared
        await checkpoint.bank_section(resource).put("prepared", b"1")

    async def activity_protect_parallel(self, checkpoint: Checkpoint, context: RequestContext,
                                        resource: Resource,
                                        parameters: Parameters) -> AsyncIterator[None]:
        job = CopyJob(resource.id)
        while not job.done():
            yield  # polled again every poll_interval seconds
        info = SavedInfo(copies=parameters.copies, polls=job.checks)
        await checkpoint.bank_section(resource).put("saved_info", msgspec.json.encode(info))

    async def activity_protect_post(self, checkpoint: Checkpoint, context: RequestContext,
                                    resource: Resource, parameters: Parameters) -> None:
        # resume what pre quiesced; the checkpoint must say what was copied by now
        section = checkpoint.bank_section(resource)
        msgspec.json.decode(await section.get("saved_info"), type=SavedInfo)

    async def activity_restore_parallel(self, checkpoint: Checkpoint, context: RequestContext,
                                        resource: Resource,
                                        parameters: RestoreParameters) -> None:
        info = msgspec.json.decode(await checkpoint.bank_section(resource).get("saved_info"),
                                   type=SavedInfo)
        if info.copies < 1:
            raise ValueError(f"{resource.key}: the checkpoint holds no copy")
        await checkpoint.record_restored(resource, resource.id + parameters.suffix)

    async def activity_restore_post(self, checkpoint: Checkpoint, context: RequestContext,
                                    resource: Resource,
                                    parameters: RestoreParameters) -> None:
        # every child's post has finished: their new ids are recorded
        node = checkpoint.graph.find(resource.type, resource.id)
        children = [checkpoint.graph.nodes[c] for c in checkpoint.graph.children[node or 0]]
        for child in children:
            if await checkpoint.restored_id(child) is None:
                raise RuntimeError(f"{child.key} was not restored before its parent's post")

    async def activity_delete_parallel(self, checkpoint: Checkpoint, context: RequestContext,
                                       resource: Resource, parameters: Any) -> None:
        # delete what protect created outside the bank (copies in your service), as the
        # checkpoint describes them; the engine purges the bank section afterwards
        info = msgspec.json.decode(await checkpoint.bank_section(resource).get("saved_info"),
                                   type=SavedInfo)
        if info.copies < 1:
            raise ValueError(f"{resource.key}: the checkpoint names no copy to delete")
''')

PROVIDER = Template('''\
# A provider that uses the $dist plugins; the bank is a local directory.
[provider]
name = $prefix
id = $dist
description = $rtype with the $dist plugins
bank = filesystem
plugin = $dist

[filesystem]
path = var/bank

[$dist]
poll_interval = 0.5
''')

TEST_ENGINE = Template('''\
"""The plugins through the real Strongbox engine, embedded: protect, restore, delete."""

from pathlib import Path

from actors.testing.harness import run_plugin
from $package.protectable import RESOURCE_TYPE


def test_protect_restore_delete_keep_the_seed_orderings(tmp_path: Path) -> None:
    run = run_plugin("$dist", [f"{RESOURCE_TYPE}#i1", f"{RESOURCE_TYPE}#i2"],
                     work_dir=tmp_path, parameters={RESOURCE_TYPE: {"copies": 2}})
    assert sorted(r.id for r in run.protect.graph.nodes) == ["i1", "i1.a", "i2"]
''')

TEST_PROTECTABLE = Template('''\
"""The protectable on its own: discovery, without an engine."""

import asyncio

import pytest

from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from $package.protectable import RESOURCE_TYPE, ${prefix}Protectable


def test_the_catalogue_is_listed_and_an_unknown_id_is_not_found() -> None:
    plugin = ${prefix}Protectable()
    listed = asyncio.run(plugin.list_resources(RequestContext()))
    assert {r.key for r in listed} == {f"{RESOURCE_TYPE}#{i}" for i in ("i1", "i1.a", "i2")}
    with pytest.raises(ResourceNotFound):
        asyncio.run(plugin.show_resource(RequestContext(), "nope"))
''')

# relative path (with $package substituted) -> template
FILES: dict[str, Template] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$package/__init__.py": INIT,
    "$package/protectable.py": PROTECTABLE,
    "$package/protection.py": PROTECTION,
    "providers.d/$dist.conf": PROVIDER,
    "tests/test_through_the_engine.py": TEST_ENGINE,
    "tests/test_protectable.py": TEST_PROTECTABLE,
}
