"""The invariants a crash (or a crowd of concurrent writers) must never break.

Each check returns human-readable violations; an empty list means the archive is whole.
When the shared model-based checks (tests/invariants.py) exist they run as well.
"""

import hashlib
import os

from django.conf import settings
from django.core.files.storage import storages

from archive.audit import audit_verify
from archive.models import Asset, CatalogueEntry
from retention.models import PendingMove

CLOSED_STEPS = (PendingMove.Step.DONE, PendingMove.Step.CANCELLED)


def stored_sha(alias: str, key: str) -> str | None:
    """SHA-256 of the bytes under key in tier alias, or None when there is no such file."""
    if not key:
        return None
    try:
        with storages[alias].open(key, "rb") as fp:
            digest = hashlib.sha256()
            while chunk := fp.read(1 << 20):
                digest.update(chunk)
            return digest.hexdigest()
    except FileNotFoundError:
        return None


def live_bytes_violations() -> list[str]:
    """Every asset that is not a tombstone names a file holding exactly its SHA-256."""
    found = []
    for asset in Asset.objects.holding_bytes().order_by("pk"):
        sha = stored_sha(asset.storage_alias, asset.storage_key)
        if sha != asset.sha256:
            what = "missing" if sha is None else f"holds {sha[:12]}"
            found.append(
                f"asset {asset.pk} ({asset.state}) points at "
                f"{asset.storage_alias}:{asset.storage_key}, which is {what}"
            )
    return found


def published_violations() -> list[str]:
    """Every published digest is held by a non-purged asset whose bytes verify."""
    found = []
    digests = (
        CatalogueEntry.objects.exclude(published_sha256="")
        .values_list("published_sha256", flat=True)
        .distinct()
    )
    for sha in digests:
        holders = Asset.objects.holding_bytes().filter(sha256=sha)
        if not any(stored_sha(a.storage_alias, a.storage_key) == sha for a in holders):
            found.append(f"published bytes {sha[:12]} are held by no live asset")
    return found


def stored_files() -> set[tuple[str, str]]:
    """Every (tier, key) with a file in the local storage tiers."""
    files = set()
    for tier in settings.STORAGE_TIERS:
        root = str(storages[tier].location)
        for folder, _dirs, names in os.walk(root):
            for name in names:
                key = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                files.add((tier, key))
    return files


def orphan_violations() -> list[str]:
    """No file in a tier that neither a live asset nor an open move accounts for."""
    wanted = {
        (alias, key)
        for alias, key in Asset.objects.holding_bytes().values_list("storage_alias", "storage_key")
    }
    for move in PendingMove.objects.exclude(step__in=CLOSED_STEPS):
        wanted |= {(move.from_alias, move.from_key), (move.to_alias, move.to_key)}
    return [f"orphan file {tier}:{key}" for tier, key in sorted(stored_files() - wanted)]


def open_move_violations() -> list[str]:
    """After the resumers ran, no move is left half done."""
    return [
        f"move {m.pk} ({m.kind}) of asset {m.asset_id} left at {m.step}: {m.error or 'no error'}"
        for m in PendingMove.objects.exclude(step__in=CLOSED_STEPS).order_by("pk")
    ]


def chain_violations() -> list[str]:
    report = audit_verify()
    return [] if report.ok else [f"audit chain: {report.problem.message}"]


def shared_violations() -> list[str]:
    """The model-based suite's checks, when that module exists."""
    try:
        from tests.invariants import invariants_check
    except ImportError:
        return []
    return [str(v) for v in invariants_check()]


def violations(*, moves_settled: bool = True) -> list[str]:
    """Everything wrong with the archive now; moves_settled: open moves count as wrong."""
    found = live_bytes_violations() + published_violations() + orphan_violations()
    if moves_settled:
        found += open_move_violations()
    return found + chain_violations() + shared_violations()
