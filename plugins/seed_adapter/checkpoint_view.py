"""The checkpoint as a synchronous (Karbor-style) activity sees it.

Karbor's activities ran in threads and wrote their saved info with
``checkpoint.get_resource_bank_section(resource_id).update_object(key, value)``. Our bank
is async; from an activity running in the thread pool these calls hop onto the event loop
and wait. Async activities use ``checkpoint.checkpoint`` (our ``Checkpoint``) directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.resource import Resource
from plugins.seed_adapter.resources import SeedResource

_T = TypeVar("_T")

class SeedBankSection:
    """One resource's bank section with Karbor's synchronous, JSON-valued methods."""

    def __init__(self, checkpoint: Checkpoint, resource: Resource,
                 loop: asyncio.AbstractEventLoop | None) -> None:
        self._section = checkpoint.bank_section(resource)
        self._loop = loop

    def _wait(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return _wait(coroutine, self._loop)

    def update_object(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``."""
        self._wait(self._section.put(key, json.dumps(value).encode()))

    def get_object(self, key: str) -> Any:
        """The JSON value stored under ``key``."""
        return json.loads(self._wait(self._section.get(key)))

    def delete_object(self, key: str) -> None:
        """Delete ``key``."""
        self._wait(self._section.delete(key))

    def list_objects(self, prefix: str = "") -> list[str]:
        """The keys under ``prefix``."""
        return list(self._wait(self._section.list(prefix)))

class SeedCheckpoint:
    """``id``, ``status``, ``resource_graph`` and Karbor's ``get_resource_bank_section``."""

    def __init__(self, checkpoint: Checkpoint, loop: asyncio.AbstractEventLoop | None) -> None:
        self.checkpoint = checkpoint
        self._loop = loop

    @property
    def id(self) -> str:
        """The checkpoint id."""
        return self.checkpoint.id

    @property
    def status(self) -> str:
        """The checkpoint status when the operation loaded it."""
        return str(self.checkpoint.status)

    @property
    def resource_graph(self) -> list[SeedResource]:
        """Every resource of the checkpoint's graph."""
        return [SeedResource(r.type, r.id, r.name, dict(r.extra))
                for r in self.checkpoint.graph.nodes]

    def get_resource_bank_section(self, resource: Any) -> SeedBankSection:
        """The bank section of ``resource`` (a resource in any form, or Karbor's bare id)."""
        return SeedBankSection(self.checkpoint, self._find(resource), self._loop)

    def record_restored(self, resource: Any, new_id: str) -> None:
        """Record that ``resource`` was restored as ``new_id`` (restore only)."""
        _wait(self.checkpoint.record_restored(self._find(resource), new_id), self._loop)

    def restored_id(self, resource: Any) -> str | None:
        """The id ``resource`` was restored as in this restore, or None."""
        return _wait(self.checkpoint.restored_id(self._find(resource)), self._loop)

    def _find(self, resource: Any) -> Resource:
        if isinstance(resource, str):
            matches = [r for r in self.checkpoint.graph.nodes if r.id == resource]
            if len(matches) != 1:
                raise LookupError(f"checkpoint {self.id}: {len(matches)} resources have id "
                                  f"{resource!r}; pass the resource itself")
            return matches[0]
        if isinstance(resource, dict):
            return Resource(type=resource["type"], id=str(resource["id"]))
        return Resource(type=resource.type, id=str(resource.id))


def _wait(coroutine: Coroutine[Any, Any, _T], loop: asyncio.AbstractEventLoop | None) -> _T:
    if loop is None:
        coroutine.close()
        raise RuntimeError("the plugin was not set up (ProtectionPlugin.setup) on this loop")
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # in a worker thread, as synchronous activities are
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()
    coroutine.close()
    raise RuntimeError("the synchronous checkpoint methods are for synchronous activities; "
                       "an async activity awaits checkpoint.checkpoint.bank_section(resource)")


__all__ = ["SeedBankSection", "SeedCheckpoint"]
