"""OpenStack plugins: the seven Karbor resource types, on openstacksdk.

Protectables (entry points of ``strongbox.protectables``) discover projects, servers,
volumes, images, shares, network topologies and Trove instances; protection plugins
(``strongbox.protections``: ``os-project``, ``os-server``, ``os-volume-backup``,
``os-volume-bytes``, ``os-image``, ``os-network``, ``os-share-snapshot``,
``os-database-backup``) protect, restore and delete them. Every SDK call runs in the
plugin's own bounded thread pool (``cloud.OpenStackCloud``) and SDK errors become
``OpenStackError``. See docs/openstack-plugins.md.

Needs the ``openstack`` extra (``pip install 'strongbox[openstack]'``); without it,
importing this package raises ``MissingExtra`` naming it.
"""

from banks.extras import require_extra

require_extra("openstack", "the OpenStack plugins", "openstack", "keystoneauth1")

from plugins.openstack.cloud import OpenStackCloud  # noqa: E402 -- after the check
from plugins.openstack.errors import (  # noqa: E402
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
from plugins.openstack.settings import CloudSettings  # noqa: E402

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
