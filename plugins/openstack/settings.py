"""How a plugin reaches its cloud: options of its provider-file section, else clouds.yaml/env.

Precedence, as openstacksdk users expect: the options given in the section override the
named cloud (``cloud``, else ``$OS_CLOUD``) of ``clouds.yaml``, which overrides the
``OS_*`` environment variables. With no option at all the plugin behaves like the
``openstack`` command line in the same shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec

from banks.option_schema import OptionSchema
from plugins.base import Positive, _positive_float
from plugins.errors import InvalidPluginOption

# Options passed to openstacksdk as they are (auth and region settings).
AUTH_OPTIONS: Final = (
    "auth_type",
    "auth_url",
    "username",
    "user_id",
    "password",
    "project_name",
    "project_id",
    "user_domain_name",
    "user_domain_id",
    "project_domain_name",
    "project_domain_id",
    "domain_name",
    "application_credential_id",
    "application_credential_secret",
    "region_name",
    "interface",
    "cacert",
)
# Of those, the ones openstacksdk takes outside the ``auth`` dict.
TOP_LEVEL_OPTIONS: Final = frozenset({"auth_type", "region_name", "interface", "cacert"})
SECRET_OPTIONS: Final = frozenset({"password", "application_credential_secret"})
DEFAULT_SDK_THREADS: Final = 8
SDK_THREAD_BOUNDS: Final = (1, 64)
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


class CloudOptions(OptionSchema, frozen=True):
    """The schema of the connection options, in every OpenStack plugin's section.

    Left out, each comes from the named cloud of clouds.yaml, else ``OS_*``.
    """

    cloud: str | None = None
    auth_type: str | None = None
    auth_url: str | None = None
    username: str | None = None
    user_id: str | None = None
    password: str | None = None
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    domain_name: str | None = None
    application_credential_id: str | None = None
    application_credential_secret: str | None = None
    region_name: str | None = None
    region: str | None = None  # an alias of region_name
    interface: str | None = None
    cacert: str | None = None
    insecure: bool | None = None
    sdk_threads: Annotated[int, msgspec.Meta(ge=SDK_THREAD_BOUNDS[0],
                                             le=SDK_THREAD_BOUNDS[1])] | None = None
    api_timeout: Positive | None = None


class CloudSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The connection settings of one plugin; ``repr`` never shows a secret."""

    cloud: str | None = None
    options: dict[str, str] = msgspec.field(default_factory=dict)
    insecure: bool = False
    sdk_threads: int = DEFAULT_SDK_THREADS
    api_timeout: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> CloudSettings:
        """Read the settings from a provider-file section.

        Raises:
            InvalidPluginOption: for an ``insecure`` or ``sdk_threads`` value it cannot use.
        """
        options = {k: config[k] for k in AUTH_OPTIONS if config.get(k, "").strip()}
        if "region" in config and "region_name" not in options:
            options["region_name"] = config["region"]
        return cls(
            cloud=(config.get("cloud") or "").strip() or None,
            options=options,
            insecure=_boolean(config, "insecure"),
            sdk_threads=_threads(config),
            # seconds one HTTP request may take: a hung API fails the call that hung, named
            api_timeout=positive_seconds(config, "api_timeout"),
        )

    @property
    def project_id(self) -> str | None:
        """The project the credentials are scoped to, when given as an id."""
        return self.options.get("project_id")

    def secrets(self) -> list[str]:
        """The secret values, for scrubbing messages."""
        return [v for k, v in self.options.items() if k in SECRET_OPTIONS and v]

    def connect_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``openstack.connect``."""
        # auth values must go in ``auth`` to override those of a clouds.yaml entry
        arguments: dict[str, Any] = {
            k: v for k, v in self.options.items() if k in TOP_LEVEL_OPTIONS
        }
        auth = {k: v for k, v in self.options.items() if k not in TOP_LEVEL_OPTIONS}
        if auth:
            arguments["auth"] = auth
        if self.cloud is not None:
            arguments["cloud"] = self.cloud
        if self.insecure:
            arguments["verify"] = False
        if self.api_timeout is not None:
            arguments["api_timeout"] = self.api_timeout
        return arguments

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_OPTIONS else v) for k, v in self.options.items()}
        return f"CloudSettings(cloud={self.cloud!r}, options={shown!r})"


def _boolean(config: Mapping[str, str], key: str) -> bool:
    raw = config.get(key, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidPluginOption(key, f"{raw!r} is not a boolean (true/false)")


def _threads(config: Mapping[str, str]) -> int:
    raw = config.get("sdk_threads", "").strip()
    if not raw:
        return DEFAULT_SDK_THREADS
    try:
        value = int(raw)
    except ValueError:
        raise InvalidPluginOption("sdk_threads", f"{raw!r} is not an integer") from None
    low, high = SDK_THREAD_BOUNDS
    if not low <= value <= high:
        raise InvalidPluginOption("sdk_threads", f"{value} is not in [{low}, {high}]")
    return value


def positive_seconds(config: Mapping[str, str], key: str) -> float | None:
    """The option ``key`` as a positive number of seconds, or None when unset.

    Raises:
        InvalidPluginOption: naming ``key``, for a value that is not a positive number.
    """
    # the rule every plugin's ``timeout`` and ``poll_interval`` follow
    return _positive_float(config, key, None)


__all__ = ["AUTH_OPTIONS", "CloudOptions", "CloudSettings", "positive_seconds"]
