"""An OCFL 1.1 object whose versions v1 … vN are a dataset's successive releases.

Each version's state maps SHA-256 digests (Keepsake's own, for the stored files) to
logical paths; a digest is stored once, under the first version that held it, so files
unchanged between releases are never copied again. The inventory of version k is built
from the release rows v1 … vk alone, so writing again gives the same bytes. Writing is
ordered so a crash never leaves a root inventory naming content that is not there: each
version's content, then its inventory, then the root inventory and its sidecar.
"""

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

from archive.errors import ArchiveError
from dedup.releases.files import Part, file_sha256, json_bytes, part_write, release_parts
from dedup.releases.rocrate import release_created

NAMASTE = "0=ocfl_object_1.1"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"


def object_id(dataset: str) -> str:
    return f"urn:keepsake:dataset:{quote(dataset, safe='')}"


def _user(release) -> dict:
    # OCFL asks for an address (a URI): the person's e-mail, else their name in Keepsake.
    email = getattr(release.released_by, "email", "") if release.released_by_id else ""
    address = f"mailto:{email}" if email else f"urn:keepsake:actor:{quote(release.actor_name)}"
    return {"name": release.actor_name, "address": address}


def inventory_build(releases: list) -> tuple[dict, dict[str, Part]]:
    """The inventory of the last of releases (v1 … vk in order), and the part of each
    content path it stores."""
    manifest: dict[str, list[str]] = {}
    stored: dict[str, Part] = {}
    versions = {}
    for release in releases:
        state: dict[str, list[str]] = {}
        for part in release_parts(release):
            state.setdefault(part.sha256, []).append(part.path)
            if part.sha256 not in manifest:
                content_path = f"v{release.version}/content/{part.path}"
                manifest[part.sha256] = [content_path]
                stored[content_path] = part
        versions[f"v{release.version}"] = {
            "created": release_created(release),
            "message": f"Release v{release.version} of {release.dataset}: "
            f"{len(release.items)} files",
            "state": {digest: sorted(paths) for digest, paths in sorted(state.items())},
            "user": _user(release),
        }
    head = releases[-1]
    inventory = {
        "id": object_id(head.dataset),
        "type": INVENTORY_TYPE,
        "digestAlgorithm": "sha256",
        "head": f"v{head.version}",
        "contentDirectory": "content",
        "manifest": manifest,
        "versions": versions,
    }
    return inventory, stored


def manifest_digest(releases: list) -> str:
    return hashlib.sha256(json_bytes(inventory_build(releases)[0])).hexdigest()


def _atomic_write(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.partial")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)


def _root_check(root: Path, releases: list) -> None:
    if not root.exists():
        return
    if not root.is_dir():
        raise ArchiveError(f"{root} is not a folder.", code="invalid")
    if not (root / NAMASTE).exists():
        if any(root.iterdir()):
            raise ArchiveError(f"{root} is not empty and holds no OCFL object.", code="invalid")
        return
    written = root / "inventory.json"
    if written.exists():
        current = json.loads(written.read_text("utf-8"))
        if current.get("id") != object_id(releases[-1].dataset):
            raise ArchiveError(
                f"{root} holds another OCFL object ({current.get('id')}).", code="invalid"
            )
        if int(str(current.get("head", "v0"))[1:] or 0) > releases[-1].version:
            raise ArchiveError(f"{root} holds versions newer than the releases recorded.")


def _version_present(root: Path, release) -> bool:
    """Whether release's version is on disk, checked against its recorded manifest."""
    written = root / f"v{release.version}" / "inventory.json"
    if not written.exists():
        return False
    if file_sha256(written) != release.manifest_sha256:
        raise ArchiveError(
            f"{written.parent} differs from the recorded release v{release.version}; "
            "refusing to overwrite a published version."
        )
    return True


def _version_write(root: Path, releases: list) -> None:
    inventory, stored = inventory_build(releases)
    data = json_bytes(inventory)
    digest = hashlib.sha256(data).hexdigest()
    if digest != releases[-1].manifest_sha256:
        raise ArchiveError(
            f"Version v{releases[-1].version} would not be the one recorded (manifest "
            f"{digest[:12]}, recorded {releases[-1].manifest_sha256[:12]}); nothing written."
        )
    version = root / f"v{releases[-1].version}"
    prefix = f"v{releases[-1].version}/content/"
    for content_path, part in stored.items():
        if content_path.startswith(prefix):
            part_write(part, root / content_path)
    _atomic_write(version / "inventory.json", data)
    _atomic_write(version / "inventory.json.sha256", f"{digest} inventory.json\n".encode())


def ocfl_write(*, root: Path, releases: list) -> None:
    """Write (or complete) the object at root up to the last of releases (v1 … vN).

    Versions already on disk are checked against their recorded manifests, not built
    again, so publishing version N costs one inventory, not N.
    """
    _root_check(root, releases)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / NAMASTE).exists():
        _atomic_write(root / NAMASTE, b"ocfl_object_1.1\n")
    for k, release in enumerate(releases, start=1):
        if not _version_present(root, release):
            _version_write(root, releases[:k])
    head = releases[-1]
    data = (root / f"v{head.version}" / "inventory.json").read_bytes()
    # A crash between these two leaves a sidecar that does not match; writing the same
    # release again (`release_dataset --finish`) repairs it.
    _atomic_write(root / "inventory.json", data)
    _atomic_write(
        root / "inventory.json.sha256", f"{head.manifest_sha256} inventory.json\n".encode()
    )
