"""The Swift bank's options (its ``[swift]`` provider section); see docs/banks.md."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from banks.object_store.options import ObjectStoreOptions


class SwiftOptions(ObjectStoreOptions, frozen=True):
    """Every option may be left out: then ``$STRONGBOX_SWIFT_<OPTION>`` applies, else the
    default (tempauth, container ``strongbox``, 16 MiB segments). Keystone options are
    passed to openstacksdk, which also reads clouds.yaml and ``OS_*``."""

    auth: Literal["tempauth", "keystone"] | None = None
    container: Annotated[str, msgspec.Meta(pattern="^[^/]*$")] | None = None
    segment_size: Annotated[int, msgspec.Meta(ge=1 << 20)] | None = None
    storage_url: str | None = None
    # tempauth
    auth_url: str | None = None
    user: str | None = None
    key: str | None = None
    # keystone (auth_url above too)
    cloud: str | None = None
    username: str | None = None
    password: str | None = None
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str | None = None
    project_domain_name: str | None = None
    region_name: str | None = None
    interface: str | None = None
    cacert: str | None = None
    auth_type: str | None = None
    application_credential_id: str | None = None
    application_credential_secret: str | None = None


__all__ = ["SwiftOptions"]
