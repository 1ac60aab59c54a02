"""``python -m tests.swift_server``: run a Swift cluster until Ctrl-C, for manual use.

Prints one JSON line with the endpoints and the tempauth test account::

    {"auth_url": "http://127.0.0.1:PORT/auth/v1.0", "storage_url": ".../v1/AUTH_test",
     "s3_endpoint": "http://127.0.0.1:PORT", "user": "test:tester", "key": "testing"}

The key is printed on purpose: it is the fixed, public test account of Swift's
in-process cluster, and a caller needs it to connect.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading

import structlog

from tests.swift_server.server import SwiftServer


def main() -> None:
    """Start the cluster, print its endpoint, serve until SIGINT or SIGTERM."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    stopping = threading.Event()
    # Both signals explicitly: a shell starting us in the background ignores SIGINT,
    # and Python would then never raise KeyboardInterrupt.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with SwiftServer() as endpoint:
        sys.stdout.write(json.dumps(dataclasses.asdict(endpoint)) + "\n")
        sys.stdout.flush()
        stopping.wait()


if __name__ == "__main__":
    main()
