"""Floating IPs of a topology: saved with their port, pointed at the restored port."""

from __future__ import annotations

from typing import Any

from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from plugins.openstack.resource_types import NETWORK
from tests.unit.plugins.openstack.helpers import sections
from tests.unit.plugins.openstack.topology import Project, build_project

PLUGIN = "os-network"


def add_floating_ip(cloud: Any, project: Project) -> dict[str, Any]:
    return cloud.add("floatingip", floating_ip_address="172.24.4.10",
                     floating_network_id="net-public", port_id=project.port["id"],
                     fixed_ip_address="10.0.0.10", project_id=cloud.project_id,
                     description="web")


def lose_the_port(cloud: Any, project: Project) -> None:
    """What deleting a server's port does: the floating IP stays, unassociated."""
    del cloud.table("port")[project.port["id"]]
    for floating_ip in cloud.table("floatingip").values():
        floating_ip.update(port_id=None, fixed_ip_address=None)


async def protect_then_lose_the_port(engine: Any, cloud: Any, project: Project) -> str:
    """Protect the topology, then delete the port as a lost server does; the checkpoint."""
    protected = await engine.run(ProtectRequest(
        resources=[ResourceRef(NETWORK, cloud.project_id)]), timeout=30)
    assert protected.status == "succeeded", protected.error
    lose_the_port(cloud, project)
    return str(protected.checkpoint_id)


def new_port(cloud: Any, before: set[str]) -> dict[str, Any]:
    (port,) = [p for key, p in cloud.table("port").items() if key not in before]
    return port


async def test_a_floating_ip_that_survived_is_pointed_at_the_restored_port(cloud, engine_for):
    project = build_project(cloud)
    floating_ip = add_floating_ip(cloud, project)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        checkpoint_id = await protect_then_lose_the_port(engine, cloud, project)
        ports_before = set(cloud.table("port"))
        restored = await engine.run(RestoreRequest(checkpoint_id=checkpoint_id), timeout=30)
    assert restored.status == "succeeded", restored.error
    port = new_port(cloud, ports_before)
    assert list(cloud.table("floatingip")) == [floating_ip["id"]]  # the same one, kept
    assert (floating_ip["port_id"], floating_ip["fixed_ip_address"]) == (port["id"], "10.0.0.10")


async def test_a_lost_floating_ip_is_allocated_again_with_any_address_when_refused(
    cloud, engine_for
):
    project = build_project(cloud)
    floating_ip = add_floating_ip(cloud, project)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        checkpoint_id = await protect_then_lose_the_port(engine, cloud, project)
        del cloud.table("floatingip")[floating_ip["id"]]
        ports_before = set(cloud.table("port"))
        # Neutron's default policy: only an admin may choose the address
        cloud.fail("POST", r"/v2.0/floatingips", 403)
        restored = await engine.run(RestoreRequest(checkpoint_id=checkpoint_id), timeout=30)
    assert restored.status == "succeeded", restored.error
    port = new_port(cloud, ports_before)
    (allocated,) = cloud.table("floatingip").values()
    assert "floating_ip_address" not in allocated  # the second request let Neutron choose
    assert (allocated["port_id"], allocated["floating_network_id"]) == (port["id"],
                                                                        "net-public")
    assert allocated["description"] == "web"
