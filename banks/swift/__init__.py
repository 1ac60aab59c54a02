"""The Swift bank: objects in one Swift container over a keystoneauth session; streamed puts
as segments and an SLO manifest.

Needs the ``openstack`` extra (keystoneauth1, openstacksdk, requests)."""

from banks.extras import require_extra

require_extra("openstack", "the Swift bank", "keystoneauth1", "openstack", "requests")
