"""One BagIt (RFC 8493) bag per release: the payload is the release's RO-Crate.

Tag files carry nothing the release row does not: Bagging-Date is the release's day,
so writing the same release again gives byte-identical manifests.
"""

import hashlib
import os
import shutil
from pathlib import Path

from archive.errors import ArchiveError
from dedup.releases.files import file_sha256, fsync_path, part_write, release_parts

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def bag_name(release) -> str:
    return f"v{release.version}"


def _tag_files(release) -> dict[str, bytes]:
    parts = release_parts(release)
    manifest = "".join(f"{p.sha256}  data/{p.path}\n" for p in parts).encode("utf-8")
    info = (
        f"Bag-Software-Agent: Keepsake\n"
        f"Bagging-Date: {release.released_at.date().isoformat()}\n"
        f"External-Identifier: {release.dataset} v{release.version}\n"
        f"Payload-Oxum: {sum(p.size for p in parts)}.{len(parts)}\n"
    ).encode("utf-8")
    tags = {"bagit.txt": BAGIT_TXT, "bag-info.txt": info, "manifest-sha256.txt": manifest}
    tagmanifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(tags.items())
    )
    tags["tagmanifest-sha256.txt"] = tagmanifest.encode("utf-8")
    return tags


def manifest_digest(release) -> str:
    return hashlib.sha256(_tag_files(release)["manifest-sha256.txt"]).hexdigest()


def bag_write(*, root: Path, release) -> Path:
    """Write release's bag under root (root/vN), through a temporary folder renamed last."""
    tags = _tag_files(release)
    bag = root / bag_name(release)
    if bag.exists():
        for name in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
            if (
                not (bag / name).exists()
                or file_sha256(bag / name) != hashlib.sha256(tags[name]).hexdigest()
            ):
                raise ArchiveError(
                    f"{bag} differs from the recorded release v{release.version}; "
                    "refusing to overwrite a published bag."
                )
        return bag
    partial = root / f".{bag_name(release)}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    for part in release_parts(release):
        part_write(part, partial / "data" / part.path)
    for name, data in tags.items():
        (partial / name).write_bytes(data)
    fsync_path(partial)
    os.replace(partial, bag)
    return bag
