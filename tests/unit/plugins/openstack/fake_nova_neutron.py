"""Nova (servers, flavors, key pairs, volume attachments) and Neutron of the fake cloud."""

from __future__ import annotations

from typing import Any

from tests.unit.plugins.openstack.fake_cloud import Call, FakeCloud, HttpError

NEUTRON_KINDS = {
    "networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
    "security-groups": "security_group", "security-group-rules": "security_group_rule",
    "floatingips": "floatingip",
}


def add_server(cloud: FakeCloud, *, image_id: str | None = None, status: str = "ACTIVE",
               **fields: Any) -> dict[str, Any]:
    flavor = cloud.table("flavor").get("flavor-small") or cloud.add(
        "flavor", id="flavor-small", name="m1.small", vcpus=1, ram=512, disk=1,
        original_name="m1.small")
    server = cloud.add("server", status=status, name=fields.pop("name", "vm"),
                       image={"id": image_id} if image_id else "",
                       flavor={"original_name": flavor["name"], "vcpus": 1, "ram": 512,
                               "disk": 1, "id": flavor["id"]},
                       key_name=fields.pop("key_name", None),
                       security_groups=[{"name": "default"}], addresses={},
                       tenant_id=cloud.project_id,
                       **{"OS-EXT-AZ:availability_zone": "nova"}, **fields)
    server["os-extended-volumes:volumes_attached"] = []
    return server


def attach(cloud: FakeCloud, server: dict[str, Any], volume: dict[str, Any]) -> None:
    server["os-extended-volumes:volumes_attached"].append({"id": volume["id"]})
    volume["attachments"].append({"server_id": server["id"], "volume_id": volume["id"],
                                  "device": "/dev/vdb"})
    volume["status"] = "in-use"


def nova(cloud: FakeCloud, call: Call) -> Any:
    parts, method = call.parts, call.method
    head = parts[0]
    if head == "servers":
        return _servers(cloud, call)
    if head == "flavors":
        if len(parts) > 1 and parts[1] != "detail":
            return {"flavor": cloud.get("flavor", parts[1])}
        return {"flavors": list(cloud.table("flavor").values())}
    if head == "os-quota-sets":
        return {"quota_set": {"id": parts[1], "instances": 10, "cores": 20, "ram": 51200}}
    if head == "os-keypairs":
        if method == "POST":
            body = call.json()["keypair"]
            pair = cloud.add("keypair", id=body["name"], name=body["name"],
                             public_key=body.get("public_key", "ssh-ed25519 AAAA"))
            return {"keypair": pair}
        return {"keypair": cloud.get("keypair", parts[1])}
    raise HttpError(404, f"no nova call {head}")


def _servers(cloud: FakeCloud, call: Call) -> Any:
    parts, method = call.parts, call.method
    if len(parts) == 1 or parts[1] == "detail":
        if method == "POST":
            body = call.json()["server"]
            server = {"id": cloud.new_id("server"), "name": body["name"],
                      "image": {"id": body["imageRef"]} if body.get("imageRef") else "",
                      "flavor": {"id": body["flavorRef"]}, "key_name": body.get("key_name"),
                      "security_groups": body.get("security_groups", []), "addresses": {},
                      "tenant_id": cloud.project_id, "_request": body,
                      "os-extended-volumes:volumes_attached": [
                          {"id": b["uuid"]} for b in body.get("block_device_mapping_v2", [])
                          if b.get("source_type") == "volume"]}
            cloud.begin("server", server, "BUILD", "ACTIVE")
            return {"server": server}
        items = list(cloud.table("server").values())
        for item in items:
            cloud.advance("server", item)
        return {"servers": list(cloud.table("server").values())}
    server_id = parts[1]
    if len(parts) >= 3 and parts[2] == "os-volume_attachments":
        server = cloud.get("server", server_id)
        if method == "POST":
            volume_id = call.json()["volumeAttachment"]["volumeId"]
            volume = cloud.get("volume", volume_id)
            attach(cloud, server, volume)
            return {"volumeAttachment": {"id": volume_id, "volumeId": volume_id,
                                         "serverId": server_id, "device": "/dev/vdb"}}
        return {"volumeAttachments": [
            {"id": v["id"], "volumeId": v["id"], "serverId": server_id, "device": "/dev/vdb"}
            for v in server["os-extended-volumes:volumes_attached"]]}
    if method == "DELETE":
        cloud.remove("server", server_id, "DELETED")
        return b""
    return {"server": cloud.get("server", server_id)}


def neutron(cloud: FakeCloud, call: Call) -> Any:  # noqa: PLR0911 -- one return per route
    parts, method = call.parts, call.method
    if parts[0] == "quotas":
        return {"quota": {"network": 10, "subnet": 10, "port": 50, "router": 5}}
    kind = NEUTRON_KINDS.get(parts[0].removesuffix(".json"))
    if kind is None:
        raise HttpError(404, f"no neutron collection {parts[0]}")
    if len(parts) == 1:
        if method == "POST":
            body = call.json()[kind]
            if "description" in body and body["description"] is None:
                raise HttpError(400, "Invalid input for description. Reason: 'None' is not "
                                     "a valid string.")  # as Neutron answers
            item = cloud.add(kind, project_id=cloud.project_id, tenant_id=cloud.project_id,
                             status="ACTIVE", **body)
            if kind == "security_group":
                item.setdefault("security_group_rules", [])
            if kind == "port":
                item.setdefault("fixed_ips", [])
                item.setdefault("mac_address", "fa:16:3e:00:00:01")
            return {kind: item}
        items = [i for i in cloud.table(kind).values()
                 if all(str(i.get(k)) == v for k, v in call.query.items()
                        if k not in ("fields", "limit", "marker"))]
        return {f"{kind}s" if not kind.endswith("y") else kind[:-1] + "ies": items}
    item_id = parts[1].removesuffix(".json")
    if method == "DELETE":
        cloud.get(kind, item_id)
        del cloud.table(kind)[item_id]
        return b""
    if len(parts) == 3 and kind == "router":
        router = cloud.get(kind, item_id)
        body = call.json()
        router.setdefault("_interfaces", []).append(body)
        return {"id": item_id, "subnet_id": body.get("subnet_id"),
                "port_id": body.get("port_id")}
    if method == "PUT":
        item = cloud.get(kind, item_id)
        item.update(call.json()[kind])
        return {kind: item}
    return {kind: cloud.get(kind, item_id)}
