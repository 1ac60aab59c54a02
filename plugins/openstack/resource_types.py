"""The OpenStack resource types, as Karbor named them."""

from __future__ import annotations

from typing import Final

PROJECT: Final = "OS::Keystone::Project"
SERVER: Final = "OS::Nova::Server"
VOLUME: Final = "OS::Cinder::Volume"
IMAGE: Final = "OS::Glance::Image"
SHARE: Final = "OS::Manila::Share"
NETWORK: Final = "OS::Neutron::Network"
DATABASE: Final = "OS::Trove::Instance"

# Parts of a network topology: not protectable on their own, but their new ids are
# recorded under these types during a restore so servers find their restored ports.
NEUTRON_NET: Final = "OS::Neutron::Net"
NEUTRON_SUBNET: Final = "OS::Neutron::Subnet"
NEUTRON_PORT: Final = "OS::Neutron::Port"
NEUTRON_SECURITY_GROUP: Final = "OS::Neutron::SecurityGroup"
NEUTRON_ROUTER: Final = "OS::Neutron::Router"
NEUTRON_FLOATING_IP: Final = "OS::Neutron::FloatingIP"

__all__ = [
    "DATABASE", "IMAGE", "NETWORK", "NEUTRON_FLOATING_IP", "NEUTRON_NET", "NEUTRON_PORT",
    "NEUTRON_ROUTER", "NEUTRON_SECURITY_GROUP", "NEUTRON_SUBNET", "PROJECT", "SERVER",
    "SHARE", "VOLUME",
]
