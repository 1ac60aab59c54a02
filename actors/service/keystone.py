"""Keystone tokens: what a request's token says of who sent it, checked with Keystone.

A request to an OpenStack provider carries the user's token in the AMQP header
``x-strongbox-auth-token`` (never in the body: the body is kept in dead letters and its
parts in audit records). The worker asks Keystone (``GET /v3/auth/tokens`` with
``X-Subject-Token``, as keystonemiddleware does) using its own service user's session from
``clouds.yaml``; the answer's user, project and roles become the request's identity.
Valid answers are cached by the token's SHA-256 for a minute at most (never past the
token's expiry), so a burst of requests costs Keystone one call.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, Final

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.transport.topology import AUTH_TOKEN_HEADER
from plugins.errors import Forbidden

log = structlog.get_logger(__name__)

TOKEN_HEADER: Final = AUTH_TOKEN_HEADER
MAX_TOKEN_BYTES: Final = 8192  # Fernet tokens are ~200 bytes; JWS a little more
CACHE_SECONDS: Final = 60.0
CACHE_SIZE: Final = 1024


class KeystoneUnavailable(StrongboxError):
    """Keystone could not be asked now: the request is delivered again later."""

    retryable: bool = True


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What Keystone says of a valid token."""

    user_id: str
    user_name: str = ""
    project_id: str
    project_name: str = ""
    roles: frozenset[str]
    expires_at: float

    @property
    def identity(self) -> str:
        """The identity as audit records name it."""
        return f"keystone:{self.user_name or self.user_id}@{self.project_name or self.project_id}"


class KeystoneValidator:
    """Checks tokens against Keystone with the worker's own service session."""

    def __init__(self, session: Any, *, interface: str = "public") -> None:
        self._session = session  # a keystoneauth1 Session of Strongbox's service user
        self._interface = interface
        self._cache: OrderedDict[str, TokenInfo] = OrderedDict()
        self._cached_at: dict[str, float] = {}

    @classmethod
    def from_cloud(cls, cloud: str) -> KeystoneValidator:
        """A validator for the service user of ``cloud`` in clouds.yaml.

        Raises:
            KeystoneUnavailable: if clouds.yaml has no such cloud.
        """
        import openstack.config  # noqa: PLC0415 -- an OpenStack-only dependency, loaded lazily

        try:
            region = openstack.config.OpenStackConfig().get_one(cloud=cloud)
        except Exception as error:  # the SDK's config errors have no common base
            raise KeystoneUnavailable(f"cannot load cloud {cloud!r} from clouds.yaml: "
                                      f"{type(error).__name__}") from None
        interface = region.get_interface() or "public"
        if isinstance(interface, list):  # the SDK allows a list of preferences
            interface = interface[0]
        return cls(region.get_session(), interface=interface)

    async def validate(self, token: str) -> TokenInfo:
        """Keystone's word on ``token``.

        Raises:
            Forbidden: the token is malformed, invalid, revoked or expired.
            KeystoneUnavailable: Keystone did not answer (retry later).
        """
        if not token or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise Forbidden("the Keystone token is malformed")
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.time()
        cached = self._cache.get(digest)
        if cached is not None and now - self._cached_at[digest] < CACHE_SECONDS \
                and now < cached.expires_at:
            return cached
        info = await asyncio.to_thread(self._ask, token)
        if info.expires_at <= now:
            raise Forbidden("the Keystone token has expired")
        self._cache[digest] = info
        self._cached_at[digest] = now
        while len(self._cache) > CACHE_SIZE:
            old, _ = self._cache.popitem(last=False)
            self._cached_at.pop(old, None)
        return info

    def _ask(self, token: str) -> TokenInfo:
        from keystoneauth1 import exceptions  # noqa: PLC0415 -- see from_cloud

        try:
            response = self._session.get(
                "/auth/tokens", headers={"X-Subject-Token": token},
                endpoint_filter={"service_type": "identity", "interface": self._interface,
                                 "version": (3, 0)},
                raise_exc=True)
        except (exceptions.NotFound, exceptions.Unauthorized):
            # 404: Keystone knows no such valid token (invalid, revoked or expired)
            raise Forbidden("the Keystone token is invalid or expired") from None
        except exceptions.ClientException as error:
            raise KeystoneUnavailable(f"Keystone did not answer: {type(error).__name__}") \
                from None
        return _token_info(response.json()["token"])


def _token_info(body: dict[str, Any]) -> TokenInfo:
    project = body.get("project")
    if not project:
        raise Forbidden("the Keystone token is not scoped to a project")
    user = body.get("user", {})
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp()
    return TokenInfo(user_id=user.get("id", ""), user_name=user.get("name", ""),
                     project_id=project["id"], project_name=project.get("name", ""),
                     roles=frozenset(r["name"] for r in body.get("roles", [])),
                     expires_at=expires)
