"""The Trove emulator's state: instances and backups per project, saved to one JSON file.

Statuses move with time, the way Trove's do under a real task manager: an instance is BUILD
for `build_seconds`, then ACTIVE; a backup is NEW, then BUILDING, then COMPLETED. They are
computed on read from the creation time, so no background thread is needed and a restarted
emulator continues where it was.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import msgspec

DATASTORE = {"type": "mysql", "version": "5.7"}
FLAVORS = [
    {"id": "1", "name": "db.tiny", "ram": 512, "vcpus": 1},
    {"id": "2", "name": "db.small", "ram": 2048, "vcpus": 1},
]


class ApiError(Exception):
    """An error answered to the client as Trove does: `{"<kind>": {"code", "message"}}`."""

    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.message = message


class Instance(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    name: str
    flavor_id: str
    volume_size: int
    datastore: dict[str, str]
    created_at: float
    restored_from: str | None = None
    deleted: bool = False


class Backup(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    name: str
    description: str | None
    instance_id: str
    size: float
    datastore: dict[str, str]
    created_at: float
    deleted: bool = False


class State(msgspec.Struct, kw_only=True):
    instances: dict[str, Instance] = msgspec.field(default_factory=dict)
    backups: dict[str, Backup] = msgspec.field(default_factory=dict)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))


class TroveState:
    """Thread-safe store; every change is written through to `path`."""

    def __init__(self, path: Path, build_seconds: float = 2.0) -> None:
        self.path = path
        self.build_seconds = build_seconds
        self.lock = threading.Lock()
        self.state = (
            msgspec.json.decode(path.read_bytes(), type=State) if path.exists() else State()
        )

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(self.state))
        tmp.replace(self.path)

    # -- views ------------------------------------------------------------------------------
    def instance_status(self, instance: Instance) -> str:
        if instance.deleted:
            return "SHUTDOWN"
        age = time.time() - instance.created_at
        return "ACTIVE" if age >= self.build_seconds else "BUILD"

    def backup_status(self, backup: Backup) -> str:
        age = time.time() - backup.created_at
        if age >= self.build_seconds:
            return "COMPLETED"
        return "BUILDING" if age >= self.build_seconds / 2 else "NEW"

    def instance_view(self, instance: Instance, base: str) -> dict[str, object]:
        view: dict[str, object] = {
            "id": instance.id,
            "name": instance.name,
            "status": self.instance_status(instance),
            "flavor": {"id": instance.flavor_id},
            "volume": {"size": instance.volume_size},
            "datastore": instance.datastore,
            "created": _iso(instance.created_at),
            "updated": _iso(instance.created_at),
            "tenant_id": instance.project_id,
            "links": [{"rel": "self", "href": f"{base}/instances/{instance.id}"}],
        }
        if instance.restored_from:
            view["restored_from_backup"] = instance.restored_from
        return view

    def backup_view(self, backup: Backup) -> dict[str, object]:
        return {
            "id": backup.id,
            "name": backup.name,
            "description": backup.description,
            "instance_id": backup.instance_id,
            "status": self.backup_status(backup),
            "size": backup.size,
            "datastore": backup.datastore,
            "locationRef": f"file:///trove-emulator/backups/{backup.id}",
            "parent_id": None,
            "created": _iso(backup.created_at),
            "updated": _iso(backup.created_at),
            "project_id": backup.project_id,
        }

    # -- lookups ----------------------------------------------------------------------------
    def instance(self, project_id: str, instance_id: str) -> Instance:
        found = self.state.instances.get(instance_id)
        if found is None or found.project_id != project_id or found.deleted:
            raise ApiError(404, "itemNotFound", f"Instance {instance_id} could not be found.")
        return found

    def backup(self, project_id: str, backup_id: str) -> Backup:
        found = self.state.backups.get(backup_id)
        if found is None or found.project_id != project_id or found.deleted:
            raise ApiError(404, "itemNotFound", f"Backup {backup_id} could not be found.")
        return found

    def instances(self, project_id: str) -> list[Instance]:
        return [
            i for i in self.state.instances.values() if i.project_id == project_id and not i.deleted
        ]

    def backups(self, project_id: str, instance_id: str | None = None) -> list[Backup]:
        return [
            b
            for b in self.state.backups.values()
            if b.project_id == project_id
            and not b.deleted
            and (instance_id is None or b.instance_id == instance_id)
        ]

    # -- changes ----------------------------------------------------------------------------
    def create_instance(self, project_id: str, body: dict[str, object]) -> Instance:
        spec = body.get("instance")
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("flavorRef"):
            raise ApiError(400, "badRequest", "instance needs at least name and flavorRef")
        flavor = str(spec["flavorRef"]).rstrip("/").rsplit("/", 1)[-1]
        if flavor not in {f["id"] for f in FLAVORS}:
            raise ApiError(404, "itemNotFound", f"Flavor {flavor} could not be found.")
        volume = spec.get("volume") or {}
        size = int(volume.get("size", 1)) if isinstance(volume, dict) else 1
        restore = spec.get("restorePoint")
        backup_id = restore.get("backupRef") if isinstance(restore, dict) else None
        with self.lock:
            if backup_id is not None:
                backup = self.backup(project_id, str(backup_id))
                if self.backup_status(backup) != "COMPLETED":
                    raise ApiError(
                        422, "unprocessableEntity", f"Backup {backup_id} is not completed."
                    )
            datastore = spec.get("datastore")
            instance = Instance(
                id=str(uuid.uuid4()),
                project_id=project_id,
                name=str(spec["name"]),
                flavor_id=flavor,
                volume_size=size,
                datastore=dict(datastore) if isinstance(datastore, dict) else dict(DATASTORE),
                created_at=time.time(),
                restored_from=str(backup_id) if backup_id else None,
            )
            self.state.instances[instance.id] = instance
            self._save()
        return instance

    def delete_instance(self, project_id: str, instance_id: str) -> None:
        with self.lock:
            self.instance(project_id, instance_id).deleted = True
            self._save()

    def create_backup(self, project_id: str, body: dict[str, object]) -> Backup:
        spec = body.get("backup")
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("instance"):
            raise ApiError(400, "badRequest", "backup needs name and instance")
        with self.lock:
            instance = self.instance(project_id, str(spec["instance"]))
            if self.instance_status(instance) != "ACTIVE":
                raise ApiError(422, "unprocessableEntity", f"Instance {instance.id} is not ready.")
            backup = Backup(
                id=str(uuid.uuid4()),
                project_id=project_id,
                name=str(spec["name"]),
                description=str(spec["description"]) if spec.get("description") else None,
                instance_id=instance.id,
                size=0.1,
                datastore=instance.datastore,
                created_at=time.time(),
            )
            self.state.backups[backup.id] = backup
            self._save()
        return backup

    def delete_backup(self, project_id: str, backup_id: str) -> None:
        with self.lock:
            self.backup(project_id, backup_id).deleted = True
            self._save()
