"""Opening a streamed Glance download: one place for both image layouts (chunks, segments)."""

from __future__ import annotations

from typing import Any

from plugins.context import ActivityContext
from plugins.openstack.cloud import OpenStackCloud


async def open_download(cloud: OpenStackCloud, context: ActivityContext, image_id: str, *,
                        chunk_size: int) -> Any:
    """The streamed response of image ``image_id``'s data (read with ``iter_content``).

    Raises:
        OpenStackError: the download could not start (naming the image).
    """

    def fetch(connection: Any) -> Any:
        from openstack import exceptions  # noqa: PLC0415 -- SDK imported only when used

        response = connection.image.download_image(image_id, stream=True,
                                                   chunk_size=chunk_size)
        # the SDK's streaming download returns an error response as it is: without this
        # check a 500's body would be stored as the image
        exceptions.raise_from_response(response)
        return response

    return await cloud.call(context.project_id, "glance", "download image", image_id, fetch)
