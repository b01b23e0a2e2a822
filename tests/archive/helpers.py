"""Ingest helpers for archive tests: build records through the services."""

import io

from archive.ingest import asset_ingest
from tests.conftest import image_bytes, make_image


def ingest_bytes(data: bytes, *, collection, path="photo.jpg", actor=None, **kwargs):
    return asset_ingest(
        fp=io.BytesIO(data), path=path, collection=collection, actor=actor, **kwargs
    )


def ingest_picture(*, collection, colour="teal", path=None, **kwargs):
    data = image_bytes(make_image(colour))
    return ingest_bytes(data, collection=collection, path=path or f"{colour}.jpg", **kwargs)
