"""Local directory plugins: discover directory trees and protect them file by file.

``DirectoryProtectable`` lists the configured roots as ``Strongbox::Directory``
resources; ``DirectoryProtection`` streams a tree into a bank section with a manifest
and restores it without ever writing outside the chosen target.
"""

from plugins.local.directory.errors import (
    DirectoryPluginError,
    DirectoryProtectError,
    DirectoryRestoreError,
    ManifestError,
    UnsafeManifestEntry,
)
from plugins.local.directory.protectable import DIRECTORY_TYPE, DirectoryProtectable
from plugins.local.directory.protection import DirectoryProtection

__all__ = [
    "DIRECTORY_TYPE",
    "DirectoryPluginError",
    "DirectoryProtectError",
    "DirectoryProtectable",
    "DirectoryProtection",
    "DirectoryRestoreError",
    "ManifestError",
    "UnsafeManifestEntry",
]
