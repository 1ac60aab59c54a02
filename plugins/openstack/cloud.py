"""One plugin's way to its cloud: scoped connections, a bounded SDK thread pool, errors.

openstacksdk is synchronous, so every call runs in this object's own thread pool (size
``sdk_threads``): the event loop never blocks and a burst of slow calls cannot take every
thread of the runtime. The connection for a project is built once and cached; the
operation's ``RequestContext.project_id`` selects it (``connect_as(project_id=...)``
re-scopes the same credentials, so the user needs a role in that project).

A request a Keystone token authorized carries a trust from its user to the plugin's
service user (``RequestContext.trust_id``, found through ``CURRENT_REQUEST``): its calls
then use a trust-scoped connection, so they act with the requester's authority in the
requester's project, never with the service's own rights over every project.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog

from plugins.context import CURRENT_REQUEST
from plugins.openstack.errors import translate
from plugins.openstack.settings import CloudSettings

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
# openstacksdk types its proxies as unions over API versions (identity v2 | v3 ...), which
# strict mypy cannot narrow; the SDK checks its arguments at run time, so we hold it as Any.
Connection = Any
APP_NAME = "strongbox"
# a trust scopes the token itself: these would ask Keystone for a second scope
_SCOPE_KEYS = frozenset({"project_id", "project_name", "project_domain_id", "project_domain_name",
                         "domain_id", "domain_name", "tenant_id", "tenant_name",
                         "system_scope"})


class OpenStackCloud:
    """Connections per project plus the thread pool every SDK call runs in."""

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings
        self._pool: ThreadPoolExecutor | None = None
        self._connections: dict[str | None, Connection] = {}
        self._trusted: dict[str, Connection] = {}  # by trust id
        self._lock = threading.Lock()  # connections are built in pool threads

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.settings.sdk_threads, thread_name_prefix="openstack-sdk"
            )
        return self._pool

    async def run(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking ``function(*args)`` in the SDK pool (no error translation)."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # keeps structlog's bound fields in the thread
        call = functools.partial(context.run, function, *args)
        return await loop.run_in_executor(self._executor(), call)

    async def call(
        self,
        project_id: str | None,
        service: str,
        call: str,
        resource_id: str | None,
        function: Callable[[Connection], _T],
    ) -> _T:
        """``function(connection)`` in the pool, for ``project_id``.

        Raises:
            OpenStackError: the SDK's exception translated, naming service, call and id.
        """

        def invoke() -> _T:
            return function(self.connection(project_id))

        try:
            return await self.run(invoke)
        except Exception as error:
            raise translate(error, service, call, resource_id, self.settings.secrets()) from error

    def connection(self, project_id: str | None) -> Connection:
        """The connection acting for ``project_id`` (blocking: call it in the pool).

        None, or the project of the configured credentials, gives the base connection.
        A request acting under a Keystone trust gets the trust's connection instead.
        """
        request = CURRENT_REQUEST.get()
        if request is not None and request.trust_id is not None:
            return self._trust_connection(request.trust_id)
        with self._lock:
            if project_id == self.settings.project_id:
                project_id = None
            found = self._connections.get(project_id)
            if found is not None:
                return found
            base = self._connections.get(None)
            if base is None:
                base = self._connections[None] = self._connect()
            if project_id is None:
                return base
            scoped = self._connections[project_id] = base.connect_as(project_id=project_id)
            log.info("openstack_project_connection", project_id=project_id)
            return scoped

    def _trust_connection(self, trust_id: str) -> Connection:
        with self._lock:
            found = self._trusted.get(trust_id)
            if found is None:
                found = self._trusted[trust_id] = self._connect_trust(trust_id)
                log.info("openstack_trust_connection", trust_id=trust_id)
            return found

    def _connect_trust(self, trust_id: str) -> Connection:
        """The service user's credentials, scoped by the trust instead of a project."""
        import openstack  # noqa: PLC0415 -- heavy, imported once in a pool thread
        import openstack.config  # noqa: PLC0415

        region = openstack.config.get_cloud_region(**self.settings.connect_arguments())
        auth = {k: v for k, v in region.config["auth"].items() if k not in _SCOPE_KEYS}
        auth["trust_id"] = trust_id
        return openstack.connect(
            app_name=APP_NAME, load_yaml_config=False, load_envvars=False,
            auth_type="v3password", auth=auth, region_name=region.region_name,
            interface=region.config.get("interface"), verify=region.config.get("verify", True),
            api_timeout=region.config.get("api_timeout"))

    def _connect(self) -> Connection:
        import openstack  # noqa: PLC0415 -- heavy, imported once in a pool thread

        return openstack.connect(app_name=APP_NAME, **self.settings.connect_arguments())

    def close(self) -> None:
        """Close the sessions and stop the pool's threads."""
        with self._lock:
            connections = [*self._connections.values(), *self._trusted.values()]
            self._connections, self._trusted = {}, {}
        for connection in connections:
            try:
                connection.close()
            except Exception as error:  # closing is best effort; never fail a shutdown
                log.warning("openstack_connection_close_failed", error=type(error).__name__)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


__all__ = ["APP_NAME", "OpenStackCloud"]
