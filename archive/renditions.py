"""Small web renditions (thumbnails) of stored assets, generated once and cached."""

from io import BytesIO

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from PIL import Image, ImageOps

from archive.imaging import open_image
from archive.models import Asset
from archive.storage import bytes_open

RENDITION_SIZES = {"thumb": 160, "web": 1024}


def rendition_key(*, asset: Asset, size: str) -> str:
    return f"renditions/{asset.sha256[:2]}/{asset.sha256}-{size}.jpg"


def rendition_render(*, fp, edge: int) -> bytes:
    """A JPEG of the image in fp, oriented, at most edge pixels on its longer side."""
    image = open_image(fp)
    if image.format == "JPEG":
        image.draft("RGB", (edge, edge))  # decode at reduced scale: far less work
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # Scale 16-bit and float data into 8 bits instead of clipping everything to white.
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image)
    image = image.convert("RGB")
    image.thumbnail((edge, edge))
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _render(asset: Asset, edge: int) -> bytes:
    with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as fp:
        return rendition_render(fp=fp, edge=edge)


def rendition_get_or_create(*, asset: Asset, size: str) -> str:
    """Return the default-storage key of the asset's rendition, creating it if missing."""
    storage = storages["default"]
    key = rendition_key(asset=asset, size=size)
    if not storage.exists(key):
        storage.save(key, ContentFile(_render(asset, RENDITION_SIZES[size])))
    return key
