"""The S3 bank's options (its ``[s3]`` provider section); see docs/banks.md."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from banks.object_store.options import ObjectStoreOptions
from banks.s3.put_stream import MIN_PART_SIZE


class S3Options(ObjectStoreOptions, frozen=True):
    """Every option may be left out: then ``$STRONGBOX_S3_<OPTION>`` or the ``AWS_*``
    variables apply, else the default (bucket ``strongbox``, region ``us-east-1``, path
    addressing, 16 MiB parts)."""

    endpoint_url: str | None = None
    region: str | None = None
    bucket: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    addressing_style: Literal["path", "virtual", "auto"] | None = None
    part_size: Annotated[int, msgspec.Meta(ge=MIN_PART_SIZE)] | None = None


__all__ = ["S3Options"]
