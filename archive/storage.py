"""Content-addressed storage through Django's STORAGES aliases (local folders or S3)."""

import hashlib
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import storages

from archive.errors import ArchiveError

CHUNK_SIZE = 1024 * 1024
EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "TIFF": ".tif"}


def digest_file(fp: BinaryIO) -> tuple[str, int]:
    """Return (sha256 hex, size) of fp, read in chunks, and rewind it."""
    fp.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := fp.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    fp.seek(0)
    return digest.hexdigest(), size


def content_key(*, sha256: str, image_format: str) -> str:
    extension = EXTENSIONS.get(image_format, f".{image_format.lower() or 'bin'}")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{extension}"


def bytes_store(*, fp: BinaryIO, alias: str, key: str, sha256: str) -> str:
    """Write fp under key in the tier alias unless verified bytes are already there."""
    storage = storages[alias]
    if storage.exists(key):
        # A crashed earlier ingest may have left the file; reuse it only if it is intact.
        with storage.open(key, "rb") as existing:
            if digest_file(existing)[0] == sha256:
                return key
        raise ArchiveError(f"{alias}:{key} holds different bytes; refusing to overwrite it.")
    fp.seek(0)
    stored_as = storage.save(key, File(fp, name=key))
    with storage.open(stored_as, "rb") as written:
        if digest_file(written)[0] != sha256:
            raise ArchiveError(f"{alias}:{stored_as} did not verify after writing.")
    return stored_as


def bytes_open(*, alias: str, key: str):
    return storages[alias].open(key, "rb")
