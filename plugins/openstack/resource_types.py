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

__all__ = ["DATABASE", "IMAGE", "NETWORK", "PROJECT", "SERVER", "SHARE", "VOLUME"]
