"""A Cinder volume driver that keeps each volume as a sparse file (runs inside cinder-volume).

The dev cloud has no LVM (no device-mapper in this kernel) and no iSCSI; the shipped fake
drivers keep no bytes. With volumes as plain files and os-brick's LOCAL connector (the
"device" is the file's path), cinder-backup reads and writes real bytes and nova's fake
driver can attach a volume. Snapshots and clones are sparse copies.
"""

import os
import subprocess

from cinder.volume import driver
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

file_volume_opts = [
    cfg.StrOpt("devcloud_volume_dir", help="Directory holding the volume and snapshot files."),
]

GIB = 1024**3


class FileVolumeDriver(driver.VolumeDriver):
    """Volumes and snapshots as sparse files in `devcloud_volume_dir`."""

    VERSION = "1.0.0"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(file_volume_opts)
        self.backend_name = self.configuration.safe_get("volume_backend_name") or "file"

    # -- paths ----------------------------------------------------------------------------
    @property
    def _dir(self):
        return self.configuration.safe_get("devcloud_volume_dir")

    def local_path(self, volume):
        return os.path.join(self._dir, f"volume-{volume.id}")

    def _snapshot_path(self, snapshot):
        return os.path.join(self._dir, f"snapshot-{snapshot.id}")

    # -- setup ----------------------------------------------------------------------------
    def do_setup(self, context):
        os.makedirs(self._dir, exist_ok=True)

    def check_for_setup_error(self):
        if not os.access(self._dir, os.W_OK):
            raise RuntimeError(f"devcloud_volume_dir {self._dir} is not writable")

    def _update_volume_stats(self):
        self._stats = {
            "volume_backend_name": self.backend_name,
            "vendor_name": "Strongbox devcloud",
            "driver_version": self.VERSION,
            "storage_protocol": "local",
            "pools": [
                {
                    "pool_name": self.backend_name,
                    "total_capacity_gb": 1000,
                    "free_capacity_gb": 1000,
                    "reserved_percentage": 0,
                    "thin_provisioning_support": True,
                    "max_over_subscription_ratio": 20.0,
                    "QoS_support": False,
                    "multiattach": False,
                }
            ],
        }

    # -- volumes and snapshots --------------------------------------------------------------
    @staticmethod
    def _sparse(path, size_gb):
        with open(path, "ab") as volume_file:
            volume_file.truncate(max(size_gb, 1) * GIB)

    @staticmethod
    def _copy(source, target, size_gb):
        # cp keeps the holes; a plain copy would write every zero of a 1 GiB volume.
        subprocess.run(["cp", "--sparse=always", source, target], check=True)
        FileVolumeDriver._sparse(target, size_gb)

    def create_volume(self, volume):
        self._sparse(self.local_path(volume), volume.size)
        return {}

    def delete_volume(self, volume):
        self._unlink(self.local_path(volume))

    def create_snapshot(self, snapshot):
        self._copy(
            self.local_path(snapshot.volume), self._snapshot_path(snapshot), snapshot.volume_size
        )
        return {}

    def delete_snapshot(self, snapshot):
        self._unlink(self._snapshot_path(snapshot))

    def create_volume_from_snapshot(self, volume, snapshot):
        self._copy(self._snapshot_path(snapshot), self.local_path(volume), volume.size)
        return {}

    def create_cloned_volume(self, volume, src_vref):
        self._copy(self.local_path(src_vref), self.local_path(volume), volume.size)
        return {}

    def extend_volume(self, volume, new_size):
        self._sparse(self.local_path(volume), new_size)

    def revert_to_snapshot(self, context, volume, snapshot):
        self._copy(self._snapshot_path(snapshot), self.local_path(volume), volume.size)

    @staticmethod
    def _unlink(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            LOG.info("devcloud file volume %s was already gone", path)

    # -- exports: the file itself is the device ------------------------------------------------
    def ensure_export(self, context, volume):
        pass

    def create_export(self, context, volume, connector):
        return {}

    def remove_export(self, context, volume):
        pass

    def validate_connector(self, connector):
        pass

    def initialize_connection(self, volume, connector, **kwargs):
        return {"driver_volume_type": "local", "data": {"device_path": self.local_path(volume)}}

    def terminate_connection(self, volume, connector, **kwargs):
        pass

    def initialize_connection_snapshot(self, snapshot, connector, **kwargs):
        return {
            "driver_volume_type": "local",
            "data": {"device_path": self._snapshot_path(snapshot)},
        }

    def terminate_connection_snapshot(self, snapshot, connector, **kwargs):
        pass

    def create_export_snapshot(self, context, snapshot, connector):
        return {}

    def remove_export_snapshot(self, context, snapshot):
        pass
