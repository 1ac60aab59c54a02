"""A small but complete project in the fake cloud: server, disks, network, share, database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.unit.plugins.openstack.fake_cinder_glance import add_image, add_volume
from tests.unit.plugins.openstack.fake_cloud import FakeCloud
from tests.unit.plugins.openstack.fake_manila_trove import add_database, add_share
from tests.unit.plugins.openstack.fake_nova_neutron import add_server, attach


@dataclass
class Project:
    image: dict[str, Any]
    server: dict[str, Any]
    volume: dict[str, Any]
    network: dict[str, Any]
    subnet: dict[str, Any]
    router: dict[str, Any]
    port: dict[str, Any]
    group: dict[str, Any]
    share: dict[str, Any]
    database: dict[str, Any]


def build_project(cloud: FakeCloud) -> Project:
    public = cloud.add("network", id="net-public", name="public", project_id="admin",
                       **{"router:external": True})
    image = add_image(cloud, name="cirros", data=b"boot disk bytes " * 1000)
    server = add_server(cloud, name="web", image_id=image["id"], key_name="ops",
                        metadata={"role": "web"})
    cloud.add("keypair", id="ops", name="ops", public_key="ssh-ed25519 AAAA")
    volume = add_volume(cloud, name="data", data=b"the data disk")
    attach(cloud, server, volume)
    p = cloud.project_id
    network = cloud.add("network", name="private", project_id=p, admin_state_up=True,
                        mtu=1450, **{"router:external": False})
    subnet = cloud.add("subnet", name="private-v4", network_id=network["id"], project_id=p,
                       cidr="10.0.0.0/24", ip_version=4, gateway_ip="10.0.0.1",
                       enable_dhcp=True, dns_nameservers=[], host_routes=[],
                       allocation_pools=[{"start": "10.0.0.2", "end": "10.0.0.254"}])
    group = cloud.add("security_group", name="web", project_id=p, description="http in",
                      security_group_rules=[])
    group["security_group_rules"] = [
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80,
         "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
         "port_range_min": 5432, "port_range_max": 5432, "remote_group_id": group["id"]},
    ]
    cloud.add("security_group", name="default", project_id=p, security_group_rules=[])
    router = cloud.add("router", name="edge", project_id=p, admin_state_up=True,
                       external_gateway_info={"network_id": public["id"]})
    cloud.add("port", name="", network_id=network["id"], project_id=p,
              device_owner="network:router_interface", device_id=router["id"],
              fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.1"}],
              security_groups=[])
    cloud.add("port", name="", network_id=network["id"], project_id=p,
              device_owner="network:dhcp", device_id="dhcp",
              fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.2"}])
    port = cloud.add("port", name="web-port", network_id=network["id"], project_id=p,
                     device_owner="compute:nova", device_id=server["id"],
                     mac_address="fa:16:3e:aa:bb:cc", admin_state_up=True,
                     fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.10"}],
                     security_groups=[group["id"]])
    share = add_share(cloud, name="files")
    database = add_database(cloud, name="orders")
    return Project(image=image, server=server, volume=volume, network=network, subnet=subnet,
                   router=router, port=port, group=group, share=share, database=database)
