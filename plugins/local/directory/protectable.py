"""The protectable of local directory trees: configured roots, or any absolute directory."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from typing import Any

import structlog

from banks.option_schema import OptionSchema
from plugins.base import ProtectablePlugin
from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.resource import Resource

DIRECTORY_TYPE = "Strongbox::Directory"
ROOTS_ENV = "STRONGBOX_DIRECTORY_ROOTS"

log = structlog.get_logger(__name__)

# The provider file lists roots one per line or comma-separated; both read naturally in INI.
_CONFIG_SEPARATORS = re.compile(r"[,\n]")


def _directory_resource(path: str) -> Resource:
    return Resource(type=DIRECTORY_TYPE, id=path, name=os.path.basename(path) or path)


class DirectoryProtectableOptions(OptionSchema, frozen=True):
    """``roots``: the directories listed, comma- or newline-separated."""

    roots: str | None = None


class DirectoryProtectable(ProtectablePlugin):
    """Lists the configured root directories as ``Strongbox::Directory`` resources.

    Roots come from the ``roots`` option of the ``[protectable:Strongbox::Directory]``
    provider section (comma- or newline-separated), else from the
    ``STRONGBOX_DIRECTORY_ROOTS`` environment variable (``os.pathsep``-separated). A
    resource's id is the absolute, resolved path; its name is the base name.
    """

    resource_type = DIRECTORY_TYPE
    Options = DirectoryProtectableOptions

    def configured_roots(self) -> list[str]:
        """The root paths as configured, before checking that they exist."""
        raw = self.config.get("roots")
        if raw is not None and raw.strip():
            parts = _CONFIG_SEPARATORS.split(raw)
        else:
            parts = os.environ.get(ROOTS_ENV, "").split(os.pathsep)
        return [part.strip() for part in parts if part.strip()]

    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        """The configured roots that exist as directories; missing ones are logged and skipped."""
        roots = self.configured_roots()
        # resolve() and is_dir() touch the disk, which may be a slow network mount.
        resolved = await asyncio.to_thread(_resolve_roots, roots)
        resources: list[Resource] = []
        seen: set[str] = set()
        for configured, path in resolved:
            if path is None:
                log.warning("directory_root_missing", root=configured)
                continue
            if path not in seen:
                seen.add(path)
                resources.append(_directory_resource(path))
        return resources

    async def show_resource(
        self,
        context: RequestContext,
        resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        """Return the directory at the absolute path ``resource_id`` (its id resolved).

        Raises:
            ResourceNotFound: if the path is relative or is not an existing directory.
        """
        if not os.path.isabs(resource_id):
            raise ResourceNotFound(DIRECTORY_TYPE, resource_id, "not an absolute path")
        if not await asyncio.to_thread(os.path.isdir, resource_id):
            exists = await asyncio.to_thread(os.path.lexists, resource_id)
            reason = "not a directory" if exists else "no such directory"
            raise ResourceNotFound(DIRECTORY_TYPE, resource_id, reason)
        # the resolved path, as list_resources gives: one directory, one id
        return _directory_resource(await asyncio.to_thread(os.path.realpath, resource_id))


def _resolve_roots(roots: list[str]) -> list[tuple[str, str | None]]:
    resolved: list[tuple[str, str | None]] = []
    for root in roots:
        path = os.path.realpath(os.path.expanduser(root))
        resolved.append((root, path if os.path.isdir(path) else None))
    return resolved
