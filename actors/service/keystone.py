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
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.transport.topology import AUTH_TOKEN_HEADER
from banks.extras import require_extra
from plugins.errors import Forbidden

log = structlog.get_logger(__name__)

TOKEN_HEADER: Final = AUTH_TOKEN_HEADER
MAX_TOKEN_BYTES: Final = 8192  # Fernet tokens are ~200 bytes; JWS a little more
CACHE_SECONDS: Final = 60.0
CACHE_SIZE: Final = 1024
# How long an operation may act with its requester's authority: a day covers any protect,
# restore or delete and a takeover's retries; the trust then expires on its own.
TRUST_LIFETIME: Final = 24 * 3600.0


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
        require_extra("openstack", "Keystone tokens ([keystone] in the policy)",
                      "openstack", "keystoneauth1")
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

    async def create_trust(self, token: str, info: TokenInfo, *,
                           lifetime: float | None) -> str:
        """A trust from the token's user to this worker's service user, on the token's
        project with the token's roles, impersonating, for ``lifetime`` seconds (None: until
        deleted, as a plan's, which its deletion deletes).

        Raises:
            Forbidden: Keystone refused (the user may not delegate these roles).
            KeystoneUnavailable: Keystone did not answer.
        """
        return await asyncio.to_thread(self._create_trust, token, info, lifetime)

    async def delete_trust(self, trust_id: str) -> None:
        """Delete a trust no operation will use (best effort: it expires anyway)."""
        try:
            await asyncio.to_thread(self._session.delete, f"/OS-TRUST/trusts/{trust_id}",
                                    endpoint_filter=self._identity)
        except Exception as error:  # expiring is the fallback
            log.warning("keystone_trust_delete_failed", trust_id=trust_id,
                        error=type(error).__name__)

    @property
    def _identity(self) -> dict[str, Any]:
        return {"service_type": "identity", "interface": self._interface, "version": (3, 0)}

    def _create_trust(self, token: str, info: TokenInfo, lifetime: float | None) -> str:
        from keystoneauth1 import exceptions  # noqa: PLC0415 -- see from_cloud

        expires = None if lifetime is None else \
            datetime.fromtimestamp(time.time() + lifetime, tz=UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ")
        body = {"trust": {
            "trustor_user_id": info.user_id, "trustee_user_id": self._session.get_user_id(),
            "project_id": info.project_id, "impersonation": True,
            "roles": [{"name": role} for role in sorted(info.roles)],
            "expires_at": expires}}
        try:
            # as the requester: only a trustor may create its trust
            response = self._session.post("/OS-TRUST/trusts", json=body,
                                          headers={"X-Auth-Token": token}, authenticated=False,
                                          endpoint_filter=self._identity, raise_exc=True)
        except (exceptions.Forbidden, exceptions.Unauthorized, exceptions.NotFound,
                exceptions.BadRequest) as error:
            raise Forbidden(f"Keystone refused a trust for {info.identity}: "
                            f"{type(error).__name__}") from None
        except exceptions.ClientException as error:
            raise KeystoneUnavailable(f"Keystone did not answer: {type(error).__name__}") \
                from None
        trust_id: str = response.json()["trust"]["id"]
        log.info("keystone_trust_created", trust_id=trust_id, trustor=info.identity,
                 project_id=info.project_id)
        return trust_id

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
