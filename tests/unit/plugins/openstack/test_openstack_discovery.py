"""The seven OpenStack protectables: listings, filters, dependents, scoping, errors."""

from __future__ import annotations

import pytest

from actors.wire.requests import ResourceRef
from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.openstack.errors import CloudAuthError, CloudServiceMissing
from plugins.openstack.network_protectable import NetworkProtectable
from plugins.openstack.resource_types import (
    DATABASE,
    IMAGE,
    NETWORK,
    PROJECT,
    SERVER,
    SHARE,
    VOLUME,
)
from plugins.openstack.share_protectable import ShareProtectable
from plugins.openstack.volume_protectable import VolumeProtectable
from tests.unit.plugins.openstack.fake_cinder_glance import add_image, add_volume
from tests.unit.plugins.openstack.fake_manila_trove import add_database, add_share
from tests.unit.plugins.openstack.fake_nova_neutron import add_server, attach
from tests.unit.plugins.openstack.helpers import sections


def edges(graph) -> set[tuple[str, str]]:
    found = set()
    for parent, children in zip(graph.nodes, graph.children, strict=True):
        for child in children:
            found.add((parent.key, graph.nodes[child].key))
    return found


def populate(cloud):
    image = add_image(cloud, name="ubuntu")
    add_image(cloud, name="half-uploaded", status="queued")
    add_image(cloud, name="someone-elses", owner="proj-other")
    server = add_server(cloud, name="web", image_id=image["id"])
    add_server(cloud, name="broken", status="ERROR")
    data = add_volume(cloud, name="data")
    attach(cloud, server, data)
    spare = add_volume(cloud, name="spare")
    add_volume(cloud, name="failed", status="error")
    share = add_share(cloud, name="files")
    add_share(cloud, name="dying", status="deleting")
    database = add_database(cloud, name="orders")
    add_database(cloud, name="building", status="BUILD")
    cloud.add("network", name="private", project_id=cloud.project_id)
    return image, server, data, spare, share, database


async def test_a_project_graph_holds_its_usable_resources_and_the_servers_dependents(
    cloud, engine_for
):
    image, server, data, spare, share, database = populate(cloud)
    project = f"{PROJECT}#{cloud.project_id}"
    async with engine_for("noop", sections=sections("noop")) as engine:
        graph = await engine.build_graph([ResourceRef(PROJECT, cloud.project_id)])
    keys = {node.key for node in graph.nodes}
    assert keys == {
        project, f"{SERVER}#{server['id']}", f"{VOLUME}#{data['id']}",
        f"{VOLUME}#{spare['id']}", f"{IMAGE}#{image['id']}", f"{SHARE}#{share['id']}",
        f"{NETWORK}#{cloud.project_id}", f"{DATABASE}#{database['id']}",
    }
    assert (f"{SERVER}#{server['id']}", f"{VOLUME}#{data['id']}") in edges(graph)
    assert (f"{SERVER}#{server['id']}", f"{IMAGE}#{image['id']}") in edges(graph)
    assert (project, f"{NETWORK}#{cloud.project_id}") in edges(graph)
    assert (f"{SERVER}#{server['id']}", f"{VOLUME}#{spare['id']}") not in edges(graph)


async def test_a_server_alone_pulls_in_its_volume_boot_image_and_network_topology(
    cloud, engine_for
):
    image, server, data, _spare, _share, _db = populate(cloud)
    async with engine_for("noop", sections=sections("noop")) as engine:
        graph = await engine.build_graph([ResourceRef(SERVER, server["id"])])
        listed = await engine.list_resources(VOLUME)
    assert {n.key for n in graph.nodes} == {
        f"{SERVER}#{server['id']}", f"{VOLUME}#{data['id']}", f"{IMAGE}#{image['id']}",
        f"{NETWORK}#{cloud.project_id}"}
    boot = graph.nodes[graph.find(IMAGE, image["id"])]
    assert boot.extra["server_id"] == server["id"]
    assert sorted(r.name for r in listed) == ["data", "spare"]


async def test_show_refuses_a_resource_in_an_error_state_and_one_that_does_not_exist(cloud):
    failed = add_volume(cloud, name="failed", status="error")
    volumes = VolumeProtectable({"cloud": "fake"})
    with pytest.raises(ResourceNotFound, match="in state 'error', not protectable"):
        await volumes.show_resource(RequestContext(), failed["id"])
    with pytest.raises(ResourceNotFound, match=f"{VOLUME}#vol-404 not found"):
        await volumes.show_resource(RequestContext(), "vol-404")


async def test_the_context_project_selects_a_connection_scoped_to_that_project(cloud):
    cloud.projects["proj-other"] = {"id": "proj-other", "name": "other", "enabled": True}
    add_volume(cloud, name="data")
    volumes = VolumeProtectable({"cloud": "fake"})
    await volumes.list_resources(RequestContext(project_id="proj-other"))
    await volumes.list_resources(RequestContext(project_id="proj-other"))
    await volumes.list_resources(RequestContext())
    # one token per project, each connection cached
    assert sorted(cloud.scopes) == sorted([cloud.project_id, "proj-other"])
    assert any("/v3/proj-other/volumes" in call for call in cloud.calls)


async def test_a_project_without_a_network_has_no_topology_resource(cloud):
    topology = NetworkProtectable({"cloud": "fake"})
    assert await topology.list_resources(RequestContext()) == []
    with pytest.raises(ResourceNotFound, match="the project has no network"):
        await topology.show_resource(RequestContext(), cloud.project_id)


async def test_refused_credentials_fail_naming_the_call_without_the_password(cloud):
    volumes = VolumeProtectable({"cloud": "fake", "password": "wrong-horse-battery"})
    with pytest.raises(CloudAuthError) as caught:
        await volumes.list_resources(RequestContext())
    assert "cinder list" in str(caught.value)
    assert "wrong-horse-battery" not in str(caught.value)
    assert "wrong-horse-battery" not in repr(volumes.cloud.settings)


async def test_a_cloud_without_manila_or_trove_still_gives_a_project_graph(cloud, engine_for):
    cloud.missing_services = {"shared-file-system", "sharev2", "database"}
    populate(cloud)
    async with engine_for("noop", sections=sections("noop")) as engine:
        graph = await engine.build_graph([ResourceRef(PROJECT, cloud.project_id)])
    assert graph.types() == {PROJECT, SERVER, VOLUME, IMAGE, NETWORK}
    # asked for directly, the missing service is an error naming it
    with pytest.raises(CloudServiceMissing, match="manila list"):
        await ShareProtectable({"cloud": "fake"}).list_resources(RequestContext())
