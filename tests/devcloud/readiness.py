"""Waiting for a service to be ready beyond "its port answers" (services up, hosts mapped)."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from tests.devcloud.errors import DevCloudError, ServiceFailed

log = structlog.get_logger(__name__)


def wait_until(
    check: Callable[[], bool], *, timeout: float, service: str, what: str, log_file: str
) -> None:
    """Poll `check` every second until it holds.

    Raises:
        ServiceFailed: it did not hold within `timeout`; names the service and what was awaited.
    """
    started = time.monotonic()
    last_error = ""
    while time.monotonic() - started < timeout:
        try:
            if check():
                log.info(
                    "service_condition_met",
                    service=service,
                    condition=what,
                    seconds=round(time.monotonic() - started, 1),
                )
                return
        except DevCloudError as error:  # not ready yet: the API may still answer 503
            last_error = str(error)
        time.sleep(1.0)
    detail = f" (last error: {last_error})" if last_error else ""
    raise ServiceFailed(service, f"{what} not reached in {timeout:.0f} s{detail}", log_file)
