"""Content-addressed storage through Django's STORAGES aliases (local folders or S3).

A write counts as done only once it is durable: `file_save` fsyncs a local file and every
directory from it up to the storage root, so a power cut after a database commit that
points at the file cannot leave it truncated or unlinked. S3 acknowledges a PUT only once
the object is stored, so nothing more is needed there.
"""

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

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


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_sync(storage: Storage, name: str) -> None:
    """Flush a locally stored file and the directories naming it to disk; else nothing."""
    if not isinstance(storage, FileSystemStorage):
        return
    path = Path(storage.path(name)).resolve()
    root = Path(storage.location).resolve()
    _fsync_path(path)
    # A new file (or directory) is only durable once its directory entry is: sync each
    # directory up to the root, since saving may have created several of them.
    directory = path.parent
    while True:
        _fsync_path(directory)
        if directory == root or root not in directory.parents:
            return
        directory = directory.parent


def file_save(*, storage: Storage, key: str, fp: BinaryIO) -> str:
    """Store fp under key durably; return the name the storage chose (key unless taken)."""
    fp.seek(0)
    stored_as = storage.save(key, File(fp, name=key))
    storage_sync(storage, stored_as)
    return stored_as


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
    stored_as = file_save(storage=storage, key=key, fp=fp)
    with storage.open(stored_as, "rb") as written:
        if digest_file(written)[0] != sha256:
            raise ArchiveError(f"{alias}:{stored_as} did not verify after writing.")
    return stored_as


def bytes_open(*, alias: str, key: str):
    return storages[alias].open(key, "rb")
