"""Errors of the OpenStack plugins, and the one place SDK exceptions are translated.

    PluginError                         (plugins.errors)
    └── OpenStackError                  names the service, the call and the resource id
        ├── CloudConfigError            connection settings that cannot be used
        │   └── CloudServiceMissing     the service is not in the catalog (no Manila here)
        ├── CloudAuthError              Keystone refused the credentials or the project scope
        ├── CloudUnavailable            the service could not be reached (retryable)
        ├── CloudCallFailed             the service answered with an error (HTTP status kept)
        │   └── CloudNotFound           the resource does not exist (404)
        ├── CloudResourceFailed         a resource went to an error state while we waited
        ├── CloudWaitTimeout            a resource did not reach the wanted state in time
        └── ChecksumMismatch            restored bytes differ from the protected ones
    └── StoredBytesError                an image's or volume's chunk list in the bank is unusable
        └── StoredChunkError            a chunk of those bytes is missing or corrupt (named)

``StoredBytesError`` is a ``ChunkListError`` and ``StoredChunkError`` a
``ChunkListChunkError`` too (``plugins.errors``), so verify and garbage collection report
them as they report a directory's.

``translate`` maps keystoneauth and openstacksdk exceptions into this tree. Messages are
built from the service, the call and the resource id plus the server's own error text,
which never carries our credentials; ``scrub`` removes configured secrets anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from plugins.errors import ChunkListChunkError, ChunkListError, PluginError
from plugins.redaction import scrub


class OpenStackError(PluginError):
    """Base of the OpenStack plugins' errors."""

    retryable: bool = False

    def __init__(self, service: str, call: str, resource_id: str | None, reason: str) -> None:
        self.service = service
        self.call = call
        self.resource_id = resource_id
        self.reason = reason
        target = f" of {resource_id}" if resource_id else ""
        super().__init__(f"{service} {call}{target}: {reason}")


class CloudConfigError(OpenStackError):
    """The connection settings (provider section, clouds.yaml, OS_* variables) are unusable."""


class CloudServiceMissing(CloudConfigError):
    """The cloud has no such service (not in the catalog, or disabled in clouds.yaml)."""


class CloudAuthError(OpenStackError):
    """Keystone refused the credentials, or the user has no role in the project."""


class CloudUnavailable(OpenStackError):
    """The endpoint could not be reached (connection refused, DNS, TLS, timeout)."""

    retryable = True


class CloudCallFailed(OpenStackError):
    """The service answered with an HTTP error."""

    def __init__(
        self,
        service: str,
        call: str,
        resource_id: str | None,
        reason: str,
        status_code: int | None = None,
    ) -> None:
        self.status_code = status_code
        super().__init__(service, call, resource_id, reason)
        # a 5xx or a 409 (resource busy) is worth another try
        self.retryable = status_code is not None and (status_code >= 500 or status_code == 409)


class CloudNotFound(CloudCallFailed):
    """The resource is not there (HTTP 404)."""


class CloudResourceFailed(OpenStackError):
    """A resource reached an error state (a backup in ``error``, a server in ``ERROR``)."""


class CloudWaitTimeout(OpenStackError):
    """A resource stayed in a transitional state past the wait's deadline."""

    retryable = True


class ChecksumMismatch(OpenStackError):
    """The bytes uploaded on restore do not have the checksum saved at protect time."""


class StoredBytesError(ChunkListError):
    """The chunk list of an image's (or a volume's) bytes in a checkpoint is missing,
    malformed, not the one the protect recorded, or of a layout the store refuses."""

    def __init__(self, resource_key: str, checkpoint_id: str, reason: str) -> None:
        self.resource_key = resource_key
        self.checkpoint_id = checkpoint_id
        self.reason = reason
        super().__init__(f"stored bytes of {resource_key} in checkpoint {checkpoint_id}: {reason}")


class StoredChunkError(StoredBytesError, ChunkListChunkError):
    """A chunk of an image's (or a volume's) bytes is missing or fails its checks."""

    def __init__(self, resource_key: str, checkpoint_id: str, chunk_id: str, offset: int,
                 reason: str) -> None:
        self.chunk_id = chunk_id
        self.offset = offset
        super().__init__(resource_key, checkpoint_id,
                         f"chunk {chunk_id} (at byte {offset}): {reason}")
        self.reason = reason  # the chunk's own verdict, as verify reports it


def translate(
    error: BaseException,
    service: str,
    call: str,
    resource_id: str | None,
    secrets: Iterable[str] = (),
) -> OpenStackError:
    """Our error for a keystoneauth or openstacksdk exception raised by one SDK call."""
    if isinstance(error, OpenStackError):
        return error
    reason = scrub(_describe(error), list(secrets))
    status = _status_code(error)
    kind = _kind(error, status)
    if issubclass(kind, CloudCallFailed):
        return kind(service, call, resource_id, reason, status)
    if kind is _Unknown:
        reason = f"{type(error).__name__}: {reason}"
        return CloudCallFailed(service, call, resource_id, reason, status)
    return kind(service, call, resource_id, reason)


class _Unknown(OpenStackError):
    """Marker: an exception that is none of the SDK's known kinds."""


def _kind(error: BaseException, status: int | None) -> type[OpenStackError]:
    # imported here: the plugins load without the SDK until a cloud is actually used
    from keystoneauth1 import exceptions as ksa  # noqa: PLC0415
    from openstack import exceptions as sdk  # noqa: PLC0415

    table: list[tuple[tuple[type[BaseException], ...], type[OpenStackError]]] = [
        ((sdk.ServiceDisabledException, sdk.EndpointNotFound, ksa.EndpointNotFound),
         CloudServiceMissing),
        ((ksa.Unauthorized, ksa.AuthorizationFailure, ksa.MissingAuthPlugin), CloudAuthError),
        ((ksa.ConnectFailure, ksa.ConnectionError, ksa.RequestTimeout, ksa.DiscoveryFailure),
         CloudUnavailable),
        ((sdk.NotFoundException, ksa.NotFound), CloudNotFound),
        ((sdk.ResourceTimeout,), CloudWaitTimeout),
        ((sdk.ResourceFailure,), CloudResourceFailed),
        ((sdk.ConfigException, ksa.OptionError), CloudConfigError),
        ((sdk.HttpException, ksa.HttpError), CloudCallFailed),
    ]
    for classes, kind in table:
        if isinstance(error, classes):
            if kind is CloudCallFailed and status in (401, 403):
                return CloudAuthError
            return kind
    return _Unknown


def _status_code(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None) or getattr(error, "http_status", None)
    return status if isinstance(status, int) else None


def _describe(error: BaseException) -> str:
    details = getattr(error, "details", None)
    text = str(error).strip() or type(error).__name__
    if details and str(details) not in text:
        text = f"{text} ({details})"
    return text


__all__ = [
    "ChecksumMismatch",
    "CloudAuthError",
    "CloudCallFailed",
    "CloudConfigError",
    "CloudNotFound",
    "CloudResourceFailed",
    "CloudServiceMissing",
    "CloudUnavailable",
    "CloudWaitTimeout",
    "OpenStackError",
    "StoredBytesError",
    "StoredChunkError",
    "translate",
]
