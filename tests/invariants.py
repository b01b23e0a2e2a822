"""The invariants of shared/DESIGN.md (1–8) checked over the database, the audit trail and
the stored bytes, so any test (stateful, torture, crash) can ask after any step:

    from tests.invariants import invariants_check
    assert invariants_check() == []

Each check reads what is there, never what a test believes happened: the audit trail is
replayed to learn what was true at the time of a hold or a consolidation, and every file
in every storage tier is hashed. `invariants_check` returns a list of `Violation`s (empty
when all hold); it never raises for a broken invariant, so callers can report them all.
"""

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import storages
from django.core.serializers.json import DjangoJSONEncoder

# Verbs that change where an asset's bytes are or whether they exist (invariant 1).
DESTRUCTIVE_VERBS = ("asset.moved", "asset.quarantined", "asset.purged")
ASSET_TYPE = "archive.asset"
ENTRY_TYPE = "archive.catalogueentry"
LICENCE_TYPE = "archive.licence"

# sha256 -> digest of the decoded, orientation-applied pixels (bytes never change per sha).
_pixel_digests: dict[str, str | None] = {}


@dataclass(frozen=True)
class Violation:
    invariant: int
    message: str

    def __str__(self):
        return f"invariant {self.invariant}: {self.message}"


def _canonical(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(alias: str, key: str) -> bytes | None:
    if not key:
        return None
    try:
        with storages[alias].open(key, "rb") as fp:
            return fp.read()
    except (FileNotFoundError, OSError):
        return None


def _walk(alias: str, prefix: str = "") -> Iterable[str]:
    storage = storages[alias]
    try:
        dirs, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield f"{prefix}{name}"
    for name in dirs:
        yield from _walk(alias, f"{prefix}{name}/")


def pixel_digest(sha256: str, data: bytes | None) -> str | None:
    """Digest of decoded pixels (orientation applied), cached by content; None if unknown."""
    if sha256 in _pixel_digests:
        return _pixel_digests[sha256]
    if data is None:
        return None
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image).convert("RGBA")
            digest = _sha(f"{image.size}".encode() + image.tobytes())
    except Exception:  # noqa: BLE001 - an undecodable file simply has no pixel twin
        digest = None
    _pixel_digests[sha256] = digest
    return digest


class _Snapshot:
    """Everything the checks read, loaded once per call."""

    def __init__(self):
        from archive.models import Asset, AuditEvent

        self.assets = {a.pk: a for a in Asset.objects.order_by("pk")}
        self.events = list(
            AuditEvent.objects.order_by("sequence").values(
                "sequence", "created_at", "verb", "object_type", "object_id", "before", "after"
            )
        )
        self.bytes: dict[int, bytes | None] = {}
        for asset in self.assets.values():
            if asset.state != Asset.State.PURGED:
                self.bytes[asset.pk] = _read(asset.storage_alias, asset.storage_key)
        self.stored_sha = {pk: (_sha(b) if b is not None else None) for pk, b in self.bytes.items()}
        self.by_object: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for event in self.events:
            self.by_object[(event["object_type"], event["object_id"])].append(event)

    def object_events(self, object_type: str, pk) -> list[dict]:
        return self.by_object.get((object_type, str(pk)), [])


# --- 1. holds ---------------------------------------------------------------------------


def _joined_held_collections(snap: _Snapshot, hold) -> dict[int, object]:
    """When each asset first came into one of the hold's collections (ingest, source, entry)."""
    from archive.models import AssetSource, CatalogueEntry

    collections = set(hold.collections.values_list("pk", flat=True))
    joined: dict[int, object] = {}

    def join(asset_id, when):
        if asset_id not in joined or when < joined[asset_id]:
            joined[asset_id] = when

    for asset in snap.assets.values():
        if asset.collection_id in collections:
            join(asset.pk, asset.ingested_at)
    for source in AssetSource.objects.filter(collection__in=collections):
        join(source.asset_id, source.ingested_at)
    for entry in CatalogueEntry.objects.filter(collection__in=collections):
        join(entry.asset_id, entry.created_at)
    return joined


def _hold_scope(snap: _Snapshot, hold, placed: dict, *, collections_too: bool = True) -> set[int]:
    from archive.models import AssetSource, CatalogueEntry

    # The scope as placed (the event) and as it is now, computed here from the rows, so a
    # record edited out of a held collection stays frozen for this check.
    scope = set((placed.get("after") or {}).get("assets_with_twins") or [])
    scope |= set(hold.assets.values_list("pk", flat=True))
    scope |= set(hold.entries.values_list("asset_id", flat=True))
    collections = set(hold.collections.values_list("pk", flat=True)) if collections_too else set()
    if collections:
        scope |= {a.pk for a in snap.assets.values() if a.collection_id in collections}
        for model in (AssetSource, CatalogueEntry):
            rows = model.objects.filter(collection__in=collections)
            scope |= set(rows.values_list("asset_id", flat=True))
    # Twins by content and by decoded pixels, computed here rather than asked of the code.
    shas = {snap.assets[pk].sha256 for pk in scope if pk in snap.assets}
    pixels = {pixel_digest(snap.assets[pk].sha256, snap.bytes.get(pk)) for pk in scope}
    pixels.discard(None)
    for asset in snap.assets.values():
        digest = pixel_digest(asset.sha256, snap.bytes.get(asset.pk))
        if asset.sha256 in shas or (digest is not None and digest in pixels):
            scope.add(asset.pk)
    # A hold on a canonical also protects what was consolidated into it.
    grew = True
    while grew:
        grew = False
        for asset in snap.assets.values():
            if asset.replaced_by_id in scope and asset.pk not in scope:
                scope.add(asset.pk)
                grew = True
    return scope


def _held_then(asset_id: int, when, scope: set, direct: set, joined: dict) -> bool:
    if asset_id not in scope:
        return False
    if asset_id in direct or asset_id not in joined:
        return True
    return joined[asset_id] <= when


def check_holds(snap: _Snapshot) -> list[Violation]:
    """1. An asset under an active legal hold is never moved, quarantined or purged."""
    from archive.models import LegalHold

    found = []
    for hold in LegalHold.objects.filter(released_at__isnull=True).order_by("pk"):
        placed = [
            e
            for e in snap.object_events("archive.legalhold", hold.pk)
            if e["verb"] == "legalhold.placed"
        ]
        if not placed:
            continue  # reported by invariant 6
        since = placed[0]["sequence"]
        scope = _hold_scope(snap, hold, placed[0])
        # An asset that came into a held collection only after the event (its bytes
        # ingested again there) was not under the hold when the event happened.
        direct = _hold_scope(snap, hold, placed[0], collections_too=False)
        joined = _joined_held_collections(snap, hold)

        for event in snap.events:
            if (
                event["sequence"] > since
                and event["verb"] in DESTRUCTIVE_VERBS
                and event["object_type"] == ASSET_TYPE
                and _held_then(int(event["object_id"]), event["created_at"], scope, direct, joined)
            ):
                found.append(
                    Violation(
                        1,
                        f"asset {event['object_id']} {event['verb']} (event "
                        f"#{event['sequence']}) while hold {hold.matter_reference} "
                        f"(placed at #{since}) was active",
                    )
                )
    return found


# --- 2. published bytes -----------------------------------------------------------------


def check_published(snap: _Snapshot) -> list[Violation]:
    """2. The exact bytes ever published stay retrievable from a non-purged asset."""
    from archive.models import Asset, CatalogueEntry

    archival = {Asset.Tier.HOT, Asset.Tier.COLD, Asset.Tier.QUARANTINE}
    found = []
    published = (
        CatalogueEntry.objects.exclude(published_sha256="")
        .values_list("published_sha256", flat=True)
        .distinct()
    )
    for sha in sorted(published):
        holders = [
            a.pk
            for a in snap.assets.values()
            if a.sha256 == sha
            and a.state != Asset.State.PURGED
            and a.storage_alias in archival
            and snap.stored_sha.get(a.pk) == sha
        ]
        if not holders:
            found.append(Violation(2, f"published bytes {sha[:12]} retrievable from no asset"))
    return found


# --- 3. restore window ------------------------------------------------------------------


def check_restore_window(snap: _Snapshot) -> list[Violation]:
    """3. Nothing purged before its window ends; until then a restore gives the same bytes."""
    from archive.models import Asset
    from retention.models import DispositionItem, QuarantineRecord

    found = []
    for record in QuarantineRecord.objects.order_by("pk"):
        asset = snap.assets[record.asset_id]
        if record.purged_at is not None:
            if record.purged_at < record.restore_deadline:
                found.append(Violation(3, f"asset {asset.pk} purged before its deadline"))
            # The approval must be for this stay in quarantine, not one a restore voided.
            items = DispositionItem.objects.filter(asset=asset, outcome="purged").select_related(
                "request"
            )
            for item in items:
                if item.request.requested_at < record.quarantined_at:
                    found.append(
                        Violation(
                            3,
                            f"asset {asset.pk} purged under disposition request "
                            f"{item.request_id}, filed before its last quarantine began",
                        )
                    )
        elif record.restored_at is None:
            if asset.state != Asset.State.QUARANTINED:
                found.append(
                    Violation(3, f"asset {asset.pk} has an open quarantine but is {asset.state}")
                )
            elif snap.stored_sha.get(asset.pk) != asset.sha256:
                found.append(
                    Violation(3, f"quarantined asset {asset.pk} could not be restored bit-exact")
                )
    for event in snap.events:
        if event["verb"] != "asset.purged" or event["object_type"] != ASSET_TYPE:
            continue
        pk = int(event["object_id"])
        ended = QuarantineRecord.objects.filter(asset_id=pk, purged_at__isnull=False)
        if not ended.exists():
            found.append(Violation(3, f"asset {pk} purged without a quarantine record"))
        elif not ended.filter(restore_deadline__lte=event["created_at"]).exists():
            found.append(Violation(3, f"asset {pk} purge event precedes its deadline"))
    return found


# --- 4 and 5. consolidation -------------------------------------------------------------


def _value_kept(value, key: str, canonical_exif: dict, provenance: dict) -> bool:
    if key in canonical_exif and canonical_exif[key] == value:
        return True
    recorded = provenance.get(key) or {}
    if recorded.get("kept") == value:
        return True
    return any(alt.get("value") == value for alt in recorded.get("alternatives", []))


def check_consolidations(snap: _Snapshot) -> list[Violation]:
    """4. Consolidation loses nothing: records, licences and replaced EXIF survive."""
    from archive.models import CatalogueEntry, Licence

    found = []
    for event in snap.events:
        if event["verb"] == "entry.created" or event["verb"].endswith("catalogueentry.created"):
            if not CatalogueEntry.objects.filter(pk=event["object_id"]).exists():
                found.append(Violation(4, f"entry {event['object_id']} has vanished"))
        elif event["verb"] == "licence.created":
            if not Licence.objects.filter(pk=event["object_id"]).exists():
                found.append(Violation(4, f"licence {event['object_id']} has vanished"))
    try:
        from dedup.models import Consolidation
    except ImportError:  # pragma: no cover - dedup is always installed here
        return found
    for consolidation in Consolidation.objects.filter(undone_at__isnull=True).order_by("pk"):
        canonical = snap.assets[consolidation.canonical_id]
        exif_provenance = (consolidation.provenance or {}).get("exif") or {}
        for moved in (consolidation.provenance or {}).get("entries", []):
            if not CatalogueEntry.objects.filter(pk=moved["entry"]).exists():
                found.append(Violation(4, f"entry {moved['entry']} lost by {consolidation}"))
        for replaced in consolidation.replaced.order_by("pk"):
            for key, value in sorted((replaced.exif or {}).items()):
                if not _value_kept(value, key, canonical.exif or {}, exif_provenance):
                    found.append(
                        Violation(
                            4,
                            f"EXIF {key}={value!r} of asset {replaced.pk} neither on canonical "
                            f"{canonical.pk} nor in the provenance of {consolidation}",
                        )
                    )
    return found


def _replay_until(snap: _Snapshot, sequence: int):
    from archive.licensing import TERM_FIELDS

    """Entry -> asset and licence -> (entry, terms) as the audit trail says before sequence."""
    entry_asset: dict[int, int] = {}
    licences: dict[int, dict] = {}
    for event in snap.events:
        if event["sequence"] >= sequence:
            break
        after = event["after"] or {}
        if event["object_type"] == ENTRY_TYPE:
            asset = after.get("asset", after.get("asset_id"))
            if asset is not None:
                entry_asset[int(event["object_id"])] = int(asset)
        elif event["object_type"] == LICENCE_TYPE:
            row = licences.setdefault(int(event["object_id"]), {"terms": {}})
            if "entry_id" in after or "entry" in after:
                row["entry"] = int(after.get("entry_id", after.get("entry")))
            for name in TERM_FIELDS:
                if name in after:
                    row["terms"][name] = after[name]
    return entry_asset, licences


def _terms_at(snap: _Snapshot, group: tuple[int, ...], sequence: int, moved: dict[int, int]):
    from archive.licensing import TERM_FIELDS

    entry_asset, licences = _replay_until(snap, sequence)
    entry_asset.update(moved)
    entries = sorted(e for e, a in entry_asset.items() if a in group)
    columns = []
    for entry in entries:
        mine = sorted(pk for pk, row in licences.items() if row.get("entry") == entry)
        if not mine:
            columns.append([entry, None, None])
        for pk in mine:
            terms = {name: licences[pk]["terms"].get(name) for name in TERM_FIELDS}
            columns.append([entry, pk, terms])
    return columns


def check_licence_sign_off(snap: _Snapshot) -> list[Violation]:
    """5. Records with differing licences are consolidated only after a sign-off on them."""
    from archive.licensing import licence_group_key
    from archive.models import LicenceSignOff

    try:
        from dedup.models import Consolidation
    except ImportError:  # pragma: no cover
        return []
    found = []
    for consolidation in Consolidation.objects.order_by("pk"):
        executed = [
            e
            for e in snap.object_events("dedup.consolidation", consolidation.pk)
            if e["verb"] == "consolidation.executed"
        ]
        if not executed:
            continue  # reported by invariant 6
        group = tuple(
            sorted(
                {consolidation.canonical_id, *consolidation.replaced.values_list("pk", flat=True)}
            )
        )
        moved = {
            m["entry"]: m["from_asset"] for m in (consolidation.snapshot or {}).get("entries", [])
        }
        columns = _terms_at(snap, group, executed[0]["sequence"], moved)
        per_entry: dict[int, set[str]] = defaultdict(set)
        for entry, _licence, terms in columns:
            per_entry[entry].add(_canonical(terms))
        if len({frozenset(v) for v in per_entry.values()}) <= 1:
            continue
        fingerprint = hashlib.sha256(
            _canonical(
                {"assets": group, "licences": sorted(columns, key=lambda c: (c[0], c[1] or 0))}
            ).encode("utf-8")
        ).hexdigest()
        sign_offs = LicenceSignOff.objects.filter(
            group_key=licence_group_key(asset_ids=group),
            terms_fingerprint=fingerprint,
            signed_at__lte=consolidation.created_at,
        ).select_related("signed_by")
        if not any(s.signed_by.has_perm("archive.sign_off_licence") for s in sign_offs):
            found.append(
                Violation(
                    5,
                    f"{consolidation} merged records with differing licences "
                    f"(assets {list(group)}) without a sign-off on those terms",
                )
            )
    return found


# --- 6. audit ---------------------------------------------------------------------------


def _replayed_state(events: list[dict]) -> tuple[str | None, str | None]:
    state = storage = None
    for event in events:
        after = event["after"] or {}
        if isinstance(after.get("state"), str):
            state = after["state"]
        if isinstance(after.get("storage"), str):
            storage = after["storage"]
    return state, storage


def _check_assets_audited(snap: _Snapshot) -> list[Violation]:
    from archive.models import Asset

    found = []
    for asset in snap.assets.values():
        events = snap.object_events(ASSET_TYPE, asset.pk)
        if not any(e["verb"] == "asset.ingested" for e in events):
            found.append(Violation(6, f"asset {asset.pk} has no ingest event"))
            continue
        state, storage = _replayed_state(events)
        if state is not None and state != asset.state:
            found.append(Violation(6, f"asset {asset.pk} is {asset.state}; its events say {state}"))
        here = f"{asset.storage_alias}:{asset.storage_key}"
        if asset.state != Asset.State.PURGED and storage is not None and storage != here:
            found.append(Violation(6, f"asset {asset.pk} is at {here}; its events say {storage}"))
    return found


def _check_records_audited(snap: _Snapshot) -> list[Violation]:
    from archive.models import CatalogueEntry, IngestRejection, LegalHold, Licence

    found = []
    for entry in CatalogueEntry.objects.order_by("pk"):
        values = {}
        for event in snap.object_events(ENTRY_TYPE, entry.pk):
            after = event["after"] or {}
            for name in ("asset", "collection", "published_sha256"):
                for key in (name, f"{name}_id"):
                    if key in after:
                        values[name] = after[key]
        if not values:
            found.append(Violation(6, f"entry {entry.pk} has no creation event"))
            continue
        for name, value in values.items():
            current = getattr(entry, name + ("_id" if name != "published_sha256" else ""))
            if value != current:
                found.append(
                    Violation(6, f"entry {entry.pk} {name} is {current!r}; events say {value!r}")
                )
    _, replayed = _replay_until(snap, float("inf"))
    for licence in Licence.objects.order_by("pk"):
        row = replayed.get(licence.pk)
        if row is None:
            found.append(Violation(6, f"licence {licence.pk} has no creation event"))
            continue
        for name, value in row["terms"].items():
            if _canonical(value) != _canonical(getattr(licence, name)):
                found.append(Violation(6, f"licence {licence.pk} {name} changed unaudited"))
    for hold in LegalHold.objects.order_by("pk"):
        verbs = {e["verb"]: e for e in snap.object_events("archive.legalhold", hold.pk)}
        placed = verbs.get("legalhold.placed")
        if placed is None:
            found.append(Violation(6, f"hold {hold.pk} has no placement event"))
            continue
        if hold.released_at is not None and "legalhold.released" not in verbs:
            found.append(Violation(6, f"hold {hold.pk} released without an event"))
        for name, rows in (
            ("assets", hold.assets),
            ("entries", hold.entries),
            ("collections", hold.collections),
        ):
            recorded = (placed["after"] or {}).get(name)
            current = sorted(rows.values_list("pk", flat=True))
            if recorded is not None and sorted(recorded) != current:
                found.append(Violation(6, f"hold {hold.pk} {name} changed unaudited"))
    for rejection in IngestRejection.objects.order_by("pk"):
        if not snap.object_events("archive.ingestrejection", rejection.pk):
            found.append(Violation(6, f"rejection {rejection.pk} has no event"))
    return found


def _check_dedup_audited(snap: _Snapshot) -> list[Violation]:
    from dedup.models import Consolidation, DuplicateCandidate

    found = []
    for candidate in DuplicateCandidate.objects.order_by("pk"):
        events = snap.object_events("dedup.duplicatecandidate", candidate.pk)
        if not any(e["verb"] == "candidate.flagged" for e in events):
            found.append(
                Violation(6, f"candidate {candidate.pk} has no flagged event naming its key")
            )
    for consolidation in Consolidation.objects.order_by("pk"):
        verbs = {e["verb"] for e in snap.object_events("dedup.consolidation", consolidation.pk)}
        if "consolidation.executed" not in verbs:
            found.append(Violation(6, f"{consolidation} has no event"))
        if consolidation.undone_at is not None and "consolidation.undone" not in verbs:
            found.append(Violation(6, f"{consolidation} undone without an event"))
    return found


def check_audit(snap: _Snapshot) -> list[Violation]:
    """6. The chain verifies, and every state change on record has its event."""
    from archive.audit import audit_verify

    report = audit_verify()
    found = [] if report.ok else [Violation(6, f"audit chain broken: {report.problem.message}")]
    return (
        found
        + _check_assets_audited(snap)
        + _check_records_audited(snap)
        + _check_dedup_audited(snap)
    )


# --- 7. storage -------------------------------------------------------------------------


def check_storage(snap: _Snapshot) -> list[Violation]:
    """7. Every live pointer names verified bytes; no file is stored that nothing needs."""
    from archive.models import Asset
    from retention.models import PendingMove

    found = []
    needed = set()
    for asset in snap.assets.values():
        if asset.state == Asset.State.PURGED:
            continue
        needed.add((asset.storage_alias, asset.storage_key))
        got = snap.stored_sha.get(asset.pk)
        if got != asset.sha256:
            what = "nothing" if got is None else f"bytes hashing to {got[:12]}"
            found.append(
                Violation(
                    7,
                    f"asset {asset.pk} ({asset.state}) points at "
                    f"{asset.storage_alias}:{asset.storage_key}, which holds {what}",
                )
            )
    open_steps = [PendingMove.Step.STARTED, PendingMove.Step.COPIED, PendingMove.Step.SWITCHED]
    for move in PendingMove.objects.filter(step__in=open_steps):
        needed.add((move.from_alias, move.from_key))
        if move.to_alias:
            needed.add((move.to_alias, move.to_key))
    found += _check_intake_staging(needed)
    for alias in settings.STORAGE_TIERS:
        for key in _walk(alias):
            # A staged upload left by a crash between staging and queueing is not archive
            # bytes (its sender got no answer); anything else unreferenced is an orphan.
            if (alias, key) not in needed and not key.startswith("intake/"):
                found.append(Violation(7, f"orphan file {alias}:{key}"))
    return found


def _check_intake_staging(needed: set) -> list[Violation]:
    """Uploads waiting at the intake gate keep their staged bytes, intact; decided ones
    left the result their choice promised."""
    from archive.models import Asset, AssetSource, IntakeItem

    found = []
    open_statuses = [IntakeItem.Status.WAITING, IntakeItem.Status.DECIDING]
    for item in IntakeItem.objects.order_by("pk"):
        if item.status in open_statuses:
            needed.add((item.staged_alias, item.staged_key))
            data = _read(item.staged_alias, item.staged_key)
            if data is None or _sha(data) != item.sha256:
                found.append(Violation(7, f"intake item {item.pk} lost its staged upload"))
            continue
        if item.staged_key:
            found.append(Violation(7, f"decided intake item {item.pk} still names staged bytes"))
        asset = Asset.objects.filter(pk=item.asset_id).first()
        if item.status == IntakeItem.Status.STORED and (
            asset is None or asset.sha256 != item.sha256
        ):
            found.append(Violation(7, f"intake item {item.pk} was stored but no asset holds it"))
        if (
            item.status == IntakeItem.Status.RECORD_ADDED
            and not AssetSource.objects.filter(
                asset=item.asset_id, collection=item.collection_id, path=item.path
            ).exists()
        ):
            found.append(Violation(4, f"intake item {item.pk}: the record added is missing"))
    return found


# --- 8. bad input -----------------------------------------------------------------------


def check_rejections(expected: Iterable[tuple[int, str]]) -> list[Violation]:
    """8. Each bad file handed in has its recorded rejection (collection id, path)."""
    from archive.models import IngestRejection

    found = []
    for collection_id, path in expected:
        if not IngestRejection.objects.filter(collection_id=collection_id, path=path).exists():
            found.append(Violation(8, f"bad file {path} has no recorded rejection"))
    return found


CHECKS = (
    check_holds,
    check_published,
    check_restore_window,
    check_consolidations,
    check_licence_sign_off,
    check_audit,
    check_storage,
)


def check_queue_figures(snap: _Snapshot) -> list[Violation]:
    """The review queue's cached counts are never older than the last pair, decision or
    undo (not a DESIGN.md invariant: numbered 0). The reclaimable figure is kept under the
    same key; it is not compared here because holds placed since show within the minute."""
    from django.db.models import Count

    from dedup.models import DuplicateCandidate
    from dedup.selectors import KIND_ORDER, OPEN_STATUSES, open_kind_counts

    open_pairs = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES)
    counted = dict(open_pairs.values_list("kind").annotate(n=Count("pk")))
    fresh = {kind: counted.get(kind, 0) for kind in KIND_ORDER}
    if (shown := open_kind_counts()) != fresh:
        return [Violation(0, f"the queue shows open pairs per kind {shown}, not {fresh}")]
    return []


CHECKS = (*CHECKS, check_queue_figures)


def invariants_check(*, expected_rejections: Iterable[tuple[int, str]] = ()) -> list[Violation]:
    """Every violation of DESIGN.md invariants 1–8 in the current database and storage."""
    snap = _Snapshot()
    found = []
    for check in CHECKS:
        found += check(snap)
    return found + check_rejections(expected_rejections)
