"""A network link of a given rate in front of one local service, for benchmarks.

On one machine every service is reached over loopback, where Glance serves an image from
the page cache at 1.5-2 GB/s: a protect compared with that measures our CPU per byte, not
how long a backup window is where Glance sits across a network. :func:`shaped_link` puts
the service's port behind a link of ``gbit`` Gbit/s each way for the duration of a
``with`` block: Linux traffic control on ``lo``, an HTB class per direction matched on
the port (``tc``, as root). Everything else on loopback passes unshaped.

It refuses to start where ``lo`` already has a root qdisc (someone else's shaping is
not ours to remove) and always removes its own on the way out.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

DEVICE = "lo"


class LinkShapingError(RuntimeError):
    """The link could not be shaped (no ``tc``, not root, no HTB, lo already shaped)."""


def _tc(*args: str) -> None:
    done = subprocess.run(["tc", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LinkShapingError(f"tc {' '.join(args)}: {done.stderr.strip() or done.returncode}")


@contextmanager
def shaped_link(port: int, gbit: float) -> Iterator[None]:
    """Traffic from and to ``port`` on loopback limited to ``gbit`` Gbit/s each way.

    Raises:
        LinkShapingError: the link could not be shaped (naming the command and why).
    """
    if shutil.which("tc") is None:
        raise LinkShapingError("tc not found (Debian package iproute2); shaping needs root")
    shown = subprocess.run(["tc", "qdisc", "show", "dev", DEVICE], capture_output=True,
                           text=True, check=False).stdout
    if "noqueue" not in shown and shown.strip():
        raise LinkShapingError(f"{DEVICE} already has a qdisc ({shown.strip()}): not ours")
    rate = f"{gbit * 1000:.0f}mbit"
    # r2q sets HTB's quantum from the rate: the default gives loopback's 64 KiB packets
    # a quantum too small for it (a warning, and a rougher rate)
    _tc("qdisc", "add", "dev", DEVICE, "root", "handle", "1:", "htb", "default", "1",
        "r2q", "1000")
    try:
        _tc("class", "add", "dev", DEVICE, "parent", "1:", "classid", "1:1", "htb",
            "rate", "100gbit")
        for classid, direction in (("1:2", "sport"), ("1:3", "dport")):
            _tc("class", "add", "dev", DEVICE, "parent", "1:", "classid", classid, "htb",
                "rate", rate, "ceil", rate, "burst", "1mb", "cburst", "1mb")
            _tc("filter", "add", "dev", DEVICE, "parent", "1:", "protocol", "ip", "prio", "1",
                "u32", "match", "ip", direction, str(port), "0xffff", "flowid", classid)
        yield
    finally:
        _tc("qdisc", "del", "dev", DEVICE, "root")


__all__ = ["LinkShapingError", "shaped_link"]
