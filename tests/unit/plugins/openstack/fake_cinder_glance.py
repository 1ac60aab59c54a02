"""Cinder (volumes, snapshots, backups, upload-to-image, quotas) and Glance of the fake cloud."""

from __future__ import annotations

from typing import Any

from tests.unit.plugins.openstack.fake_cloud import Call, FakeCloud, HttpError, checksums


def add_volume(cloud: FakeCloud, *, data: bytes = b"volume bytes", size: int = 1,
               status: str = "available", server_id: str | None = None,
               **fields: Any) -> dict[str, Any]:
    attachments = [{"server_id": server_id, "volume_id": None, "device": "/dev/vdb"}] \
        if server_id else []
    volume = cloud.add("volume", size=size, status=status, name=fields.pop("name", "vol"),
                       attachments=attachments, availability_zone="nova", bootable="false",
                       volume_type="lvm", **{"os-vol-tenant-attr:tenant_id": cloud.project_id},
                       **fields)
    for attachment in volume["attachments"]:
        attachment["volume_id"] = volume["id"]
    cloud.blobs[volume["id"]] = data
    return volume


def add_image(cloud: FakeCloud, *, data: bytes = b"image bytes", status: str = "active",
              **fields: Any) -> dict[str, Any]:
    md5, sha512 = checksums(data)
    fields.setdefault("owner", cloud.project_id)
    image = cloud.add("image", status=status, name=fields.pop("name", "img"),
                      disk_format="qcow2", container_format="bare", size=len(data),
                      checksum=md5, os_hash_algo="sha512", os_hash_value=sha512,
                      visibility="private", min_disk=0, min_ram=0, **fields)
    cloud.blobs[image["id"]] = data
    return image


def cinder(cloud: FakeCloud, call: Call) -> Any:  # noqa: PLR0911 -- one return per route
    parts, method = call.parts, call.method
    kind = {"volumes": "volume", "snapshots": "snapshot", "backups": "backup"}.get(parts[0])
    if parts[0] == "os-quota-sets":
        return {"quota_set": {"id": parts[1], **cloud.quotas}}
    if parts[0] == "messages":
        return {"messages": list(cloud.table("message").values())}
    if kind is None:
        raise HttpError(404, f"no cinder collection {parts[0]}")
    if len(parts) == 1 or parts[1] == "detail":
        if method == "POST":
            return _create(cloud, kind, call.json()[kind])
        items = list(cloud.table(kind).values())
        for item in items:
            cloud.advance(kind, item)
        return {f"{kind}s": list(cloud.table(kind).values())}
    item_id = parts[1]
    if method == "DELETE":
        cloud.remove(kind, item_id, "deleting")
        return b""
    if len(parts) == 3 and parts[2] == "action":
        return _volume_action(cloud, item_id, call.json())
    if len(parts) == 3 and parts[2] == "restore":
        return _restore(cloud, item_id, call.json()["restore"])
    return {kind: cloud.get(kind, item_id)}


def _create(cloud: FakeCloud, kind: str, body: dict[str, Any]) -> Any:
    if kind == "snapshot":
        volume = cloud.get("volume", body["volume_id"])
        snap = {"id": cloud.new_id("snap"), "volume_id": volume["id"], "size": volume["size"],
                "name": body.get("name"), "force": body.get("force")}
        cloud.begin("snapshot", snap, "creating", "available")
        cloud.blobs[snap["id"]] = cloud.blobs[volume["id"]]
        return {"snapshot": snap}
    if kind == "backup":
        volume = cloud.get("volume", body["volume_id"])
        backup = {"id": cloud.new_id("backup"), "volume_id": volume["id"], "name": body.get("name"),
                  "size": volume["size"], "is_incremental": bool(body.get("incremental")),
                  "snapshot_id": body.get("snapshot_id"), "container": body.get("container"),
                  "fail_reason": None, "object_count": 1}
        source = body.get("snapshot_id") or volume["id"]
        cloud.blobs[backup["id"]] = cloud.blobs[source]
        if cloud.final_status.get("backup") == "error":
            backup["fail_reason"] = "backup driver exploded"
        cloud.begin("backup", backup, "creating", "available")
        return {"backup": backup}
    volume = {"id": cloud.new_id("vol"), "size": body.get("size", 1), "name": body.get("name"),
              "attachments": [], "availability_zone": body.get("availability_zone", "nova"),
              "bootable": "false", "volume_type": body.get("volume_type", "lvm"),
              "os-vol-tenant-attr:tenant_id": cloud.project_id,
              "imageRef": body.get("imageRef")}
    if body.get("imageRef"):
        cloud.blobs[volume["id"]] = cloud.blobs[cloud.get("image", body["imageRef"])["id"]]
        volume["bootable"] = "true"  # as Cinder marks every volume made from an image
    elif body.get("snapshot_id"):
        cloud.blobs[volume["id"]] = cloud.blobs[cloud.get("snapshot", body["snapshot_id"])["id"]]
    else:
        cloud.blobs[volume["id"]] = b""
    cloud.begin("volume", volume, "creating", "available")
    return {"volume": volume}


def _restore(cloud: FakeCloud, backup_id: str, body: dict[str, Any]) -> Any:
    backup = cloud.get("backup", backup_id)
    if backup["status"] != "available":
        raise HttpError(400, f"backup {backup_id} is {backup['status']}")
    volume = {"id": cloud.new_id("vol"), "size": backup["size"], "name": body.get("name"),
              "attachments": [], "availability_zone": "nova", "bootable": "false",
              "volume_type": "lvm", "os-vol-tenant-attr:tenant_id": cloud.project_id}
    cloud.blobs[volume["id"]] = cloud.blobs[backup_id]
    cloud.begin("volume", volume, "restoring-backup", "available")
    if cloud.final_status.get("volume", "").startswith("error"):
        # what Cinder's backup service records when its restore fails
        cloud.add("message", resource_uuid=volume["id"], resource_type="VOLUME",
                  created_at="2026-12-06T07:00:00.000000", message_level="ERROR",
                  user_message="restore backup: An error occurred during backup restore.")
    return {"restore": {"backup_id": backup_id, "volume_id": volume["id"],
                        "volume_name": body.get("name")}}


def _volume_action(cloud: FakeCloud, volume_id: str, body: dict[str, Any]) -> Any:
    volume = cloud.get("volume", volume_id)
    if "os-volume_upload_image" in body:
        request = body["os-volume_upload_image"]
        data = cloud.blobs[volume_id]
        md5, sha512 = checksums(data)
        image = {"id": cloud.new_id("image"), "name": request["image_name"],
                 "disk_format": request.get("disk_format", "raw"),
                 "container_format": request.get("container_format", "bare"),
                 "size": len(data), "checksum": md5, "os_hash_algo": "sha512",
                 "os_hash_value": sha512, "owner": cloud.project_id, "visibility": "private",
                 "min_disk": 0, "min_ram": 0}
        cloud.blobs[image["id"]] = data
        cloud.begin("image", image, "saving", "active")
        return {"os-volume_upload_image": {"id": volume_id, "image_id": image["id"],
                                           "image_name": image["name"],
                                           "disk_format": image["disk_format"],
                                           "container_format": image["container_format"],
                                           "status": "uploading", "size": volume["size"]}}
    if "os-set_bootable" in body:
        volume["bootable"] = str(bool(body["os-set_bootable"]["bootable"])).lower()
        return b""
    raise HttpError(400, f"unsupported volume action {sorted(body)}")


def glance(cloud: FakeCloud, call: Call) -> Any:
    parts, method = call.parts, call.method
    if parts[:1] != ["images"]:
        raise HttpError(404, "no such glance call")
    if len(parts) == 1:
        if method == "POST":
            body = call.json()
            image = {"id": cloud.new_id("image"), "size": None, "checksum": None,
                     "owner": cloud.project_id, "visibility": "private", "min_disk": 0,
                     "min_ram": 0, **body}
            image["status"] = "queued"
            cloud.table("image")[image["id"]] = image
            return image
        items = list(cloud.table("image").values())
        for item in items:
            cloud.advance("image", item)
        return {"images": list(cloud.table("image").values())}
    image_id = parts[1]
    if len(parts) == 3 and parts[2] == "file":
        image = cloud.get("image", image_id)
        if method == "PUT":
            data = call.raw()
            md5, sha512 = checksums(data)
            cloud.blobs[image_id] = data
            image.update(size=len(data), checksum=md5, os_hash_algo="sha512",
                         os_hash_value=sha512)
            cloud.begin("image", image, "saving", "active")
            return b""
        return cloud.blobs[image_id]
    if method == "DELETE":
        cloud.get("image", image_id)
        del cloud.table("image")[image_id]
        cloud.blobs.pop(image_id, None)
        return b""
    return cloud.get("image", image_id)
