"""Run Swift's in-process cluster; executed by the Swift virtualenv's python, not ours.

    <swift venv>/bin/python launcher.py <unpacked swift sdist>

``test.functional.in_process_setup`` (from the sdist) builds rings and a swift.conf in a
fresh ``mkdtemp`` directory, then serves on loopback, on free ports: a proxy with
tempauth, s3api and slo in its pipeline (memcache faked in-process), two account, two
container and three object servers (storage on disk, under ``$TMPDIR``). When ready this
prints one line ``STRONGBOX_SWIFT_READY <json>`` on stdout and serves until SIGTERM, or
until its parent process dies (so a killed pytest never leaves a server behind).

Only the standard library and Swift may be imported here: our own packages are not
installed in the Swift virtualenv. Swift's setup chatter goes to stderr.
"""

import json
import os
import signal
import sys

READY = "STRONGBOX_SWIFT_READY"


def main() -> None:
    source = sys.argv[1]
    parent = os.getppid()
    stdout = sys.stdout
    sys.stdout = sys.stderr  # the setup prints its progress; keep stdout for READY
    sys.path.insert(0, source)
    # Swift's sample configs are read relative to the source tree.
    os.chdir(source)

    # Importable only after the path insert; importing it monkeypatches sockets.
    from test import functional  # noqa: PLC0415

    functional.in_process_setup()
    auth_uri = functional.config["auth_uri"].rstrip("/")
    endpoint = auth_uri.rsplit("/auth/", 1)[0]
    ready = {
        "auth_url": auth_uri,
        "storage_url": f"{endpoint}/v1/AUTH_test",
        "s3_endpoint": endpoint,
        "user": "test:tester",
        "key": "testing",
        "pid": os.getpid(),
    }
    stdout.write(f"{READY} {json.dumps(ready)}\n")
    stdout.flush()
    # Nothing else goes to the pipe: the parent stops reading it after READY.
    os.dup2(sys.stderr.fileno(), stdout.fileno())

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    # Ctrl-C reaches the whole foreground group; the parent stops us by SIGTERM instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while os.getppid() == parent:
        functional.eventlet.sleep(1.0)
    os._exit(0)


if __name__ == "__main__":
    main()
