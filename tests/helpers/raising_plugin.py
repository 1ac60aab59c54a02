"""A third-party plugin module that raises on import, as one with a missing SDK does.

Tests name it from a fake entry point (``tests.helpers.raising_plugin:Widget``).
"""

raise RuntimeError("widget SDK is not installed")
