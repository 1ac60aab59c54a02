"""Run Swift's in-process cluster; executed by the Swift virtualenv's python, not ours.

    [STRONGBOX_SWIFT_KEYSTONE=<keystone settings JSON>] \\
    <swift venv>/bin/python launcher.py <unpacked swift sdist>

``test.functional.in_process_setup`` (from the sdist) builds rings and a swift.conf in a
fresh ``mkdtemp`` directory, then serves on loopback, on free ports: a proxy with
tempauth, s3api and slo in its pipeline (memcache faked in-process), two account, two
container and three object servers (storage on disk, under ``$TMPDIR``). When ready this
prints one line ``STRONGBOX_SWIFT_READY <json>`` on stdout and serves until SIGTERM, or
until its parent process dies (so a killed pytest never leaves a server behind).

With keystone settings (the ``[filter:authtoken]`` options of a service user: auth_url,
username, password, ...) the proxy authenticates tokens through that Keystone as a
production Swift does: keystonemiddleware's ``authtoken`` then Swift's ``keystoneauth`` own
the ``AUTH_`` accounts (``AUTH_<project id>``), where a project's ``admin`` and ``member``
are operators; tempauth stays in the pipeline (the in-process setup requires it) under a
prefix nobody uses.

Only the standard library and Swift may be imported here: our own packages are not
installed in the Swift virtualenv. Swift's setup chatter goes to stderr.
"""

import configparser
import json
import os
import signal
import sys
import tempfile

READY = "STRONGBOX_SWIFT_READY"


def keystone_conf_dir(source: str, authtoken: dict) -> str:
    """A config directory whose proxy-server.conf authenticates through Keystone."""
    conf = configparser.RawConfigParser()
    conf.optionxform = str  # keep the options' case
    conf.read(os.path.join(source, "etc", "proxy-server.conf-sample"))
    # Before tempauth: the in-process setup puts staticweb right after tempauth, and
    # staticweb must come after the auth that decides (a listing was refused otherwise).
    pipeline = f" {conf.get('pipeline:main', 'pipeline')} "
    conf.set("pipeline:main", "pipeline",
             pipeline.replace(" tempauth ", " authtoken keystoneauth tempauth ").strip())
    # The in-process setup hands its own settings (username, password, reseller_prefix,
    # auth_uri: the tempauth test accounts') to every filter as paste's global conf, and a
    # global value wins over a filter's own unless the filter says `set`.
    settings = {
        "filter:tempauth": {"reseller_prefix": "TEMPAUTH"},
        "filter:authtoken": {
            # keystoneauth decides (an anonymous request may still read a public container)
            "delay_auth_decision": "True",
            **authtoken,
        },
        "filter:keystoneauth": {"reseller_prefix": "AUTH_", "operator_roles": "admin, member"},
    }
    conf["filter:authtoken"] = {
        "paste.filter_factory": "keystonemiddleware.auth_token:filter_factory"}
    conf["filter:keystoneauth"] = {"use": "egg:swift#keystoneauth"}
    for section, options in settings.items():
        for name, value in options.items():
            conf.set(section, f"set {name}", value)
    directory = tempfile.mkdtemp(prefix="keystone-conf-")
    with open(os.path.join(directory, "proxy-server.conf"), "w") as conf_file:
        conf.write(conf_file)
    return directory


def main() -> None:
    source = sys.argv[1]
    settings = os.environ.pop("STRONGBOX_SWIFT_KEYSTONE", None)
    keystone = json.loads(settings) if settings else None
    parent = os.getppid()
    stdout = sys.stdout
    sys.stdout = sys.stderr  # the setup prints its progress; keep stdout for READY
    sys.path.insert(0, source)
    # Swift's sample configs are read relative to the source tree.
    os.chdir(source)

    # Importable only after the path insert; importing it monkeypatches sockets.
    from test import functional  # noqa: PLC0415

    if keystone is not None:
        os.environ["SWIFT_TEST_IN_PROCESS_CONF_DIR"] = keystone_conf_dir(source, keystone)
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
        # the catalog's object-store URL when Keystone authenticates
        "keystone_storage_url": f"{endpoint}/v1/AUTH_%(project_id)s",
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
