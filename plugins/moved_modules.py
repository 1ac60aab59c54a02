"""Modules that moved when the tree was laid out by role (docs/architecture.md).

A provider file may name a plugin or a bank by ``module:Class``; one written before the
move names an old module, and the registry's error then says where the class lives now.
"""

from __future__ import annotations

from typing import Final

MOVED_MODULES: Final[dict[str, str]] = {
    "plugins.checkpoint": "plugins.checkpoint.checkpoint",
    "plugins.checkpoint_store": "plugins.checkpoint.store",
    "plugins.journal": "plugins.checkpoint.journal",
    "plugins.graph": "plugins.checkpoint.graph",
    "plugins.operation_record": "plugins.checkpoint.operation_record",
    "plugins.operation_spec": "plugins.checkpoint.operation_spec",
    "plugins.ini_reader": "plugins.provider.ini_reader",
    "plugins.provider_config": "plugins.provider.config",
    "plugins.provider": "plugins.provider.provider",
    "plugins.provider_set": "plugins.provider.selection",
    "plugins.local.bounded_tasks": "plugins.local.directory.bounded_tasks",
    "plugins.local.directory_errors": "plugins.local.directory.errors",
    "plugins.local.directory_manifest": "plugins.local.directory.manifest",
    "plugins.local.directory_manifest_chunks": "plugins.local.directory.manifest_chunks",
    "plugins.local.directory_parent": "plugins.local.directory.parent",
    "plugins.local.directory_protectable": "plugins.local.directory.protectable",
    "plugins.local.directory_protection": "plugins.local.directory.protection",
    "plugins.local.directory_references": "plugins.local.directory.references",
    "plugins.local.directory_restore": "plugins.local.directory.restore",
    "plugins.local.directory_restore_plan": "plugins.local.directory.restore_plan",
    "plugins.local.directory_restored_file": "plugins.local.directory.restored_file",
    "plugins.local.directory_target": "plugins.local.directory.target",
    "plugins.local.directory_upload": "plugins.local.directory.upload",
    "plugins.local.directory_walk": "plugins.local.directory.walk",
    "banks.filesystem_bank": "banks.filesystem.bank",
    "banks.filesystem_atomic": "banks.filesystem.atomic",
    "banks.filesystem_leases": "banks.filesystem.leases",
    "banks.filesystem_listing": "banks.filesystem.listing",
    "banks.filesystem_put_stream": "banks.filesystem.put_stream",
    "banks.object_file": "banks.filesystem.object_file",
    "banks.s3_bank": "banks.s3.bank",
    "banks.s3_client": "banks.s3.client",
    "banks.s3_put_stream": "banks.s3.put_stream",
    "banks.swift_bank": "banks.swift.bank",
    "banks.swift_auth": "banks.swift.auth",
    "banks.swift_client": "banks.swift.client",
    "banks.swift_put_stream": "banks.swift.put_stream",
    "banks.object_store_leases": "banks.object_store.leases",
    "banks.object_store_options": "banks.object_store.options",
    "banks.retry": "banks.object_store.retry",
    "banks.metadata_headers": "banks.object_store.metadata_headers",
    "banks.chunks.chunk_codec": "banks.chunks.codec",
    "banks.chunks.chunk_ref": "banks.chunks.ref",
    "banks.chunks.chunk_store": "banks.chunks.store",
}


def moved_path(path: str) -> str | None:
    """The current ``module:Class`` for an old one, or None if its module did not move."""
    module_name, _, attribute = path.partition(":")
    new = MOVED_MODULES.get(module_name)
    return f"{new}:{attribute}" if new is not None else None
