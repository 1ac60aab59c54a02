"""Manila (shares, snapshots) and Trove (instances, backups) of the fake cloud."""

from __future__ import annotations

from typing import Any

from tests.unit.plugins.openstack.fake_cloud import Call, FakeCloud, HttpError


def add_share(cloud: FakeCloud, *, status: str = "available", **fields: Any) -> dict[str, Any]:
    return cloud.add("share", status=status, name=fields.pop("name", "share"), size=1,
                     share_proto="NFS", share_type="default", share_network_id="sn-1",
                     project_id=cloud.project_id, availability_zone="nova", **fields)


def add_database(cloud: FakeCloud, *, status: str = "ACTIVE", **fields: Any) -> dict[str, Any]:
    return cloud.add("instance", status=status, name=fields.pop("name", "db"),
                     flavor={"id": "flavor-db"}, volume={"size": 2},
                     datastore={"type": "mysql", "version": "8.0"}, **fields)


def manila(cloud: FakeCloud, call: Call) -> Any:
    parts, method = call.parts, call.method
    kind = {"shares": "share", "snapshots": "share_snapshot"}.get(parts[0])
    if kind is None:
        raise HttpError(404, f"no manila collection {parts[0]}")
    key = "snapshot" if kind == "share_snapshot" else "share"
    if len(parts) == 1 or parts[1] == "detail":
        if method == "POST":
            body = call.json()[key]
            if kind == "share_snapshot":
                share = cloud.get("share", body["share_id"])
                item = {"id": cloud.new_id("ssnap"), "share_id": share["id"],
                        "size": share["size"], "share_proto": share["share_proto"],
                        "name": body.get("name"), "description": body.get("description")}
            else:
                item = {"id": cloud.new_id("share"), "project_id": cloud.project_id,
                        "share_type": "default", **body}
            cloud.begin(kind, item, "creating", "available")
            return {key: item}
        for item in list(cloud.table(kind).values()):
            cloud.advance(kind, item)
        return {f"{key}s": list(cloud.table(kind).values())}
    if method == "DELETE":
        cloud.remove(kind, parts[1], "deleting")
        return b""
    return {key: cloud.get(kind, parts[1])}


def trove(cloud: FakeCloud, call: Call) -> Any:
    parts, method = call.parts, call.method
    kind = {"instances": "instance", "backups": "db_backup"}.get(parts[0])
    if kind is None:
        raise HttpError(404, f"no trove collection {parts[0]}")
    key = "backup" if kind == "db_backup" else "instance"
    if len(parts) == 1:
        if method == "POST":
            body = call.json()[key]
            if kind == "db_backup":
                instance = cloud.get("instance", body["instance"])
                item = {"id": cloud.new_id("dbbackup"), "instance_id": instance["id"],
                        "name": body.get("name"), "description": body.get("description"),
                        "size": 0.1, "datastore": instance["datastore"]}
                cloud.begin(kind, item, "NEW", "COMPLETED")
            else:
                item = {"id": cloud.new_id("db"), **body,
                        "datastore": {"type": "mysql", "version": "8.0"}}
                cloud.begin(kind, item, "BUILD", "ACTIVE")
            return {key: item}
        for item in list(cloud.table(kind).values()):
            cloud.advance(kind, item)
        return {f"{key}s": list(cloud.table(kind).values())}
    if method == "DELETE":
        cloud.remove(kind, parts[1], "DELETE_PENDING" if kind == "db_backup" else "SHUTDOWN")
        return b""
    return {key: cloud.get(kind, parts[1])}
