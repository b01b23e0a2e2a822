"""The files of a release, computed from its row alone, and the streaming copy of each."""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder

from archive.errors import ArchiveError
from archive.models import Asset
from archive.storage import CHUNK_SIZE, bytes_open

# The storage's own fsync of a file or folder: a release is as durable as an ingest.
from archive.storage import _fsync_path as fsync_path
from dedup.releases.notice import notice_html
from dedup.releases.rocrate import METADATA_FILE, crate_build

NOTICE_JSON = "release-notice.json"
NOTICE_HTML = "release-notice.html"
GENERATED = [
    (NOTICE_JSON, "Release notice (what changed since the previous release)", "application/json"),
    (NOTICE_HTML, "Release notice, for reading", "text/html"),
]


@dataclass(frozen=True)
class Part:
    """One file of a release: its logical path, digest and size; bytes unless an asset's."""

    path: str
    sha256: str
    size: int
    data: bytes | None = None


def json_bytes(value) -> bytes:
    text = json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _made(path: str, data: bytes) -> Part:
    return Part(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data)


def release_parts(release) -> list[Part]:
    """Every file of release, sorted by path: the same row always gives the same parts."""
    parts = [Part(path=i["path"], sha256=i["sha256"], size=i["size"]) for i in release.items]
    parts += [
        _made(f"metadata/{i['asset']}.json", json_bytes(i["metadata"])) for i in release.items
    ]
    parts.append(_made(NOTICE_JSON, json_bytes(release.notice)))
    parts.append(_made(NOTICE_HTML, notice_html(release.notice).encode("utf-8")))
    parts.append(
        _made(METADATA_FILE, json_bytes(crate_build(release=release, generated=GENERATED)))
    )
    return sorted(parts, key=lambda part: part.path)


def part_write(part: Part, target: Path) -> None:
    """Write one part at target (through a temporary name), verifying its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        if part.data is not None:
            out.write(part.data)
            digest.update(part.data)
        else:
            # Streamed in chunks from whichever live asset holds these bytes: a release
            # never holds a whole file in memory.
            asset = Asset.objects.holding_bytes().filter(sha256=part.sha256).first()
            if asset is None:
                raise ArchiveError(f"No stored file holds the bytes of {part.path} any more.")
            with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as source:
                while chunk := source.read(CHUNK_SIZE):
                    out.write(chunk)
                    digest.update(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != part.sha256:
        partial.unlink()
        raise ArchiveError(
            f"The stored bytes of {part.path} do not match their SHA-256 (a fixity failure); "
            "nothing was published for it."
        )
    os.replace(partial, target)
    fsync_path(target.parent)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
