"""Optional dependencies: what a plugin family or bank needs beyond the core install.

``pip install strongbox`` installs the engine, the filesystem bank and the local directory
plugins. The OpenStack plugins, the Swift bank and Keystone tokens need the ``openstack``
extra; the S3 bank needs ``s3``; ``all`` brings both. A package that needs an extra calls
``require_extra`` when it is imported, so that using it without the extra fails with one
line naming what to install, instead of a ``ModuleNotFoundError`` from deep inside.
"""

from __future__ import annotations

import importlib.util
from typing import Final

DISTRIBUTION: Final = "strongbox"


class MissingExtra(ImportError):
    """A module of an optional dependency is not installed; the message names the extra."""

    def __init__(self, extra: str, what: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{what} cannot run without the '{extra}' extra (module {module!r} is not "
            f"installed): pip install '{DISTRIBUTION}[{extra}]'",
            name=module,
        )


def require_extra(extra: str, what: str, *modules: str) -> None:
    """Raise ``MissingExtra`` unless every one of ``modules`` can be imported.

    Only looks the modules up (no import), so it costs nothing when they are there.

    Raises:
        MissingExtra: naming ``what`` needs them, the extra and the first missing module.
    """
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtra(extra, what, module)


__all__ = ["MissingExtra", "require_extra"]
