"""Configure structlog once, in an entry point (the CLI, a worker).

Logs go to stderr: a console renderer when stderr is a terminal, one JSON object per
line otherwise. The level comes from the caller (``--log-level``, ``-v``), else from
``$STRONGBOX_LOG_LEVEL``, else the entry's default (``warning`` for the CLI, so logs do
not fight its progress bars). Below ``debug``, ``traceback`` fields are dropped: a
failure reaches the user as one line, its traceback only with ``-vv``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Collection, MutableMapping
from typing import Any, Final, TextIO

import structlog

LOG_LEVEL_ENV: Final = "STRONGBOX_LOG_LEVEL"
LEVELS: Final = ("debug", "info", "warning", "error", "critical")
_VERBOSE_LEVELS: Final = ("warning", "info", "debug")


def resolve_level(level: str | None = None, verbosity: int = 0,
                  default: str = "warning") -> str:
    """The level name to use: ``level``, else one per ``-v``, else the environment, else
    ``default``.

    Raises:
        ValueError: if the chosen name is not a level.
    """
    if level:
        chosen = level
    elif verbosity > 0:
        chosen = _VERBOSE_LEVELS[min(verbosity, len(_VERBOSE_LEVELS) - 1)]
    else:
        chosen = os.environ.get(LOG_LEVEL_ENV) or default
    chosen = chosen.strip().lower()
    if chosen not in LEVELS:
        raise ValueError(f"log level {chosen!r} is not one of {', '.join(LEVELS)}")
    return chosen


def _drop_traceback(_logger: Any, _method: str,
                    event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("traceback", None)
    event.pop("exc_info", None)
    return event


class _Mute:
    def __init__(self, events: frozenset[str]) -> None:
        self._events = events

    def __call__(self, _logger: Any, _method: str,
                 event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if event.get("event") in self._events:
            raise structlog.DropEvent
        return event


def configure_logging(level: str = "warning", *, stream: TextIO | None = None,
                      json: bool | None = None, mute: Collection[str] = ()) -> None:
    """Route every structlog logger to ``stream`` (default stderr) at ``level``.

    ``json`` forces the renderer; by default it is JSON unless ``stream`` is a terminal.
    ``mute`` names events the entry reports to the user another way (the CLI's one error
    line): they are dropped unless ``level`` is ``info`` or ``debug``.
    """
    fixed = stream
    stream = stream if stream is not None else sys.stderr
    numeric = logging.getLevelNamesMapping()[level.upper()]
    if json is None:
        json = not stream.isatty()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    if mute and numeric > logging.INFO:
        processors.append(_Mute(frozenset(mute)))
    if numeric > logging.DEBUG:
        processors.append(_drop_traceback)
    elif json:  # the console renderer formats exc_info itself
        processors.append(structlog.processors.format_exc_info)
    renderer: Any = (structlog.processors.JSONRenderer() if json
                     else structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # without a fixed stream, whatever sys.stderr is at each call: while rich draws
        # progress bars it proxies sys.stderr so that log lines print above them
        logger_factory=(structlog.PrintLoggerFactory(fixed) if fixed is not None
                        else lambda *_: structlog.PrintLogger(sys.stderr)),
        cache_logger_on_first_use=False,
    )


__all__ = ["LEVELS", "LOG_LEVEL_ENV", "configure_logging", "resolve_level"]
