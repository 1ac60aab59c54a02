"""A real Swift server for tests: the pinned PyPI ``swift`` in its in-process test mode.

- :mod:`tests.swift_server.install`: the virtualenv and sdist, once, in the user cache.
- :mod:`tests.swift_server.launcher`: runs inside that virtualenv and serves.
- :mod:`tests.swift_server.server`: :class:`SwiftServer` starts and stops it.
- :mod:`tests.swift_server.fixture`: the session-scoped ``swift_server`` fixture.
- ``python -m tests.swift_server``: serve until Ctrl-C, printing the endpoint.

See docs/banks.md for why this mode was chosen.
"""
