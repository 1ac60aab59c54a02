"""Errors of the dev cloud launcher.

DevCloudError
├── InstallFailed     pip could not build a service virtualenv (names the venv and the log)
├── ServiceFailed     a service or setup step failed (names the service and its log file)
└── InfraUnavailable  MariaDB or RabbitMQ cannot be reached or prepared
"""

from __future__ import annotations


class DevCloudError(Exception):
    """Base of every dev cloud error."""


class InstallFailed(DevCloudError):
    def __init__(self, venv: str, reason: str, log: str) -> None:
        super().__init__(f"installing the service venv {venv} failed: {reason} (see {log})")
        self.venv = venv
        self.log = log


class ServiceFailed(DevCloudError):
    def __init__(self, service: str, reason: str, log: str) -> None:
        super().__init__(f"dev cloud service {service}: {reason} (see {log})")
        self.service = service
        self.log = log


class InfraUnavailable(DevCloudError):
    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"dev cloud needs {what}: {reason}")
        self.what = what
