"""OpenStack plugins: the seven Karbor resource types, on openstacksdk.

Protectables (entry points of ``strongbox.protectables``) discover projects, servers,
volumes, images, shares, network topologies and Trove instances; protection plugins
(``strongbox.protections``: ``os-project``, ``os-server``, ``os-volume-backup``,
``os-volume-bytes``, ``os-image``, ``os-network``, ``os-share-snapshot``,
``os-database-backup``) protect, restore and delete them. Every SDK call runs in the
plugin's own bounded thread pool (``cloud.OpenStackCloud``) and SDK errors become
``OpenStackError``. See docs/openstack-plugins.md.
"""

from plugins.openstack.cloud import OpenStackCloud
from plugins.openstack.errors import (
    ChecksumMismatch,
    CloudAuthError,
    CloudCallFailed,
    CloudConfigError,
    CloudNotFound,
    CloudResourceFailed,
    CloudUnavailable,
    CloudWaitTimeout,
    OpenStackError,
)
from plugins.openstack.settings import CloudSettings

__all__ = [
    "ChecksumMismatch",
    "CloudAuthError",
    "CloudCallFailed",
    "CloudConfigError",
    "CloudNotFound",
    "CloudResourceFailed",
    "CloudSettings",
    "CloudUnavailable",
    "CloudWaitTimeout",
    "OpenStackCloud",
    "OpenStackError",
]
