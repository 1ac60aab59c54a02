"""What a request may do with a directory: protect it, and restore it where it asks.

A ``Strongbox::Directory``'s id is a local path and its restore ``target`` one too, so
both are checked against the request's ``PathGrant`` before the operation starts: a
protect reads only under the granted roots, a restore writes only under the granted
targets (the original root when no target is given), never into the bank's storage.
"""

from __future__ import annotations

from typing import Any

from plugins.access import check_path
from plugins.context import RequestContext
from plugins.phases import OperationType
from plugins.resource import Resource


def authorize_directory(operation: OperationType, context: RequestContext,
                        resource: Resource, parameters: Any) -> None:
    """Refuse a protect of a root, or a restore into a target, outside the grant.

    Raises:
        Forbidden: naming the path, what was refused and for whom.
    """
    grant = context.paths
    if operation == "protect":
        check_path(grant, "protect", resource.id, f"directory {resource.id!r}")
    elif operation == "restore":
        target = getattr(parameters, "target", None) or resource.id
        check_path(grant, "restore", target, f"restore target of {resource.key}")
