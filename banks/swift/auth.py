"""How the Swift bank authenticates: tempauth (v1) or Keystone, into one keystoneauth session.

Either way the result is a :class:`keystoneauth1.session.Session` that adds the token to
every request and fetches a new one on a 401, plus the account's storage URL.

- ``auth = tempauth``: ``GET auth_url`` with ``X-Auth-User``/``X-Auth-Key`` returns the
  token and ``X-Storage-Url`` (:class:`TempAuth`, a keystoneauth plugin, so that a
  token that expires is replaced like a Keystone one).
- ``auth = keystone``: openstacksdk builds the session from the options given here,
  then from ``OS_CLOUD``/clouds.yaml and the ``OS_*`` variables, and finds the
  object-store endpoint in the catalog (``storage_url`` overrides it).

Every function here blocks; the bank calls them in its thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openstack
import requests
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import plugin, session
from openstack import exceptions as os_exceptions

from banks.errors import BankError, BankUnavailable
from banks.object_store.options import option

AUTH_KINDS = ("tempauth", "keystone")
# Keystone options passed on to openstacksdk when the provider file sets them.
KEYSTONE_OPTIONS = (
    "auth_url",
    "username",
    "password",
    "project_name",
    "project_id",
    "user_domain_name",
    "project_domain_name",
    "region_name",
    "interface",
    "cacert",
    "auth_type",
    "application_credential_id",
    "application_credential_secret",
)


class TempAuth(plugin.BaseAuthPlugin):
    """Swift's tempauth v1.0 as a keystoneauth plugin: a token and the storage URL."""

    def __init__(self, auth_url: str, user: str, key: str, timeout: float) -> None:
        super().__init__()
        self.auth_url = auth_url
        self.user = user
        self._key = key
        self._timeout = timeout
        self._token: str | None = None
        self._storage_url: str | None = None

    def __repr__(self) -> str:
        return f"TempAuth(auth_url={self.auth_url!r}, user={self.user!r})"

    def _authenticate(self, sess: session.Session) -> None:
        # log=False: keystoneauth would log the X-Auth-Key header at debug level.
        response = sess.request(
            self.auth_url,
            "GET",
            headers={"X-Auth-User": self.user, "X-Auth-Key": self._key},
            authenticated=False,
            raise_exc=False,
            log=False,
            timeout=self._timeout,
        )
        where = f"tempauth at {self.auth_url} for user {self.user!r}"
        if response.status_code in (401, 403):
            raise BankError(f"{where}: refused (HTTP {response.status_code}): check option 'key'")
        if response.status_code >= 500:
            raise BankUnavailable(f"{where}: HTTP {response.status_code}")
        token = response.headers.get("X-Auth-Token")
        storage_url = response.headers.get("X-Storage-Url")
        if response.status_code != 200 or not token or not storage_url:
            raise BankError(f"{where}: no token in the answer (HTTP {response.status_code})")
        self._token, self._storage_url = token, storage_url

    def get_token(self, session: session.Session) -> str | None:
        if self._token is None:
            self._authenticate(session)
        return self._token

    def get_endpoint(self, session: session.Session, **kwargs: Any) -> str | None:
        if self._storage_url is None:
            self._authenticate(session)
        return self._storage_url

    def invalidate(self) -> bool:
        self._token = None
        return True


ENV_PREFIX = "STRONGBOX_SWIFT_"


def _option(config: Mapping[str, str], name: str) -> str | None:
    return option(config, name, ENV_PREFIX)


def connect(config: Mapping[str, str], timeout: float) -> tuple[session.Session, str]:
    """Authenticate; return the session and the storage URL of the account.

    Raises:
        BankError: naming the missing or wrong option; BankUnavailable if the auth
            service cannot be reached.
    """
    kind = _option(config, "auth") or "tempauth"
    if kind not in AUTH_KINDS:
        raise BankError(f"swift bank: option 'auth' is {kind!r}, expected one of {AUTH_KINDS}")
    override = _option(config, "storage_url")
    try:
        if kind == "tempauth":
            return _tempauth(config, timeout, override)
        return _keystone(config, timeout, override)
    except (ks_exceptions.ConnectFailure, requests.ConnectionError) as err:
        raise BankUnavailable(f"swift bank: cannot reach the auth service: {err}") from None
    except ks_exceptions.ClientException as err:
        # keystoneauth's messages name the URL and the status, never the password.
        raise BankError(f"swift bank: {kind} authentication failed: {err}") from None


def _tempauth(
    config: Mapping[str, str], timeout: float, override: str | None
) -> tuple[session.Session, str]:
    values = {name: _option(config, name) for name in ("auth_url", "user", "key")}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise BankError(f"swift bank (auth = tempauth): option {missing[0]!r} is not set")
    auth = TempAuth(str(values["auth_url"]), str(values["user"]), str(values["key"]), timeout)
    sess = session.Session(auth=auth)
    storage_url = override or auth.get_endpoint(sess)
    assert storage_url is not None  # _authenticate raises rather than leave it unset
    return sess, storage_url


def _keystone(
    config: Mapping[str, str], timeout: float, override: str | None
) -> tuple[session.Session, str]:
    given: dict[str, Any] = {
        name: value for name in KEYSTONE_OPTIONS if (value := _option(config, name))
    }
    cloud = _option(config, "cloud")
    try:
        conn = openstack.connect(cloud=cloud, api_timeout=timeout, **given)
    except os_exceptions.ConfigException as err:
        raise BankError(f"swift bank (auth = keystone): {err}") from None
    storage_url = override or conn.object_store.get_endpoint()
    if not storage_url:
        raise BankError(
            "swift bank (auth = keystone): no object-store endpoint in the catalog; "
            "set option 'storage_url'"
        )
    return conn.session, str(storage_url)
