"""Certificates of destruction: what a disposition's purges destroyed, and what survives.

Every purged disposition item is certified exactly once (`CertifiedItem` is one-to-one
with the item). The purge asks for its certificate inside its own audited block
(`certificate_after_purge`), which hands the work to `archive.audit.after_audited`: the
certificate is built once the purge committed and its bytes were deleted, never while
the purge's locks or the audit chain head are held. `disposition_execute` batches the
purges of one run into one certificate (`certificates_batched`); a purge run on its own
(the enforcement job) gets one of its own. A crash in between leaves a purged item
without a certificate; `certificates_issue_missing` (a daily task and
`destruction_certificate --issue-missing`) issues it later.

The certificate is a JSON document (canonical: sorted keys, two-space indent) and an HTML
rendering of it; both texts are stored byte for byte and their SHA-256 digests written
to the audit trail (`disposition.certificate_issued`), so any copy can be checked
against the hash-chained, checkpointed log.
"""

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone

from archive.actors import SYSTEM, actor_name, actor_user
from archive.audit import after_audited, audit_record, audited
from archive.errors import ArchiveError
from archive.models import Asset, AuditEvent, CatalogueEntry
from retention.models import (
    CertifiedItem,
    DestructionCertificate,
    DispositionItem,
    DispositionRequest,
    FixityCheck,
    PendingMove,
)
from retention.policies import policies_matching

logger = logging.getLogger(__name__)

FORMAT = "keepsake-destruction-certificate/1"
ISSUED_VERB = "disposition.certificate_issued"

# Requests whose purges wait for one certificate at the end of a disposition_execute run.
_batch: ContextVar[list | None] = ContextVar("keepsake_certificate_batch", default=None)


# --- When ------------------------------------------------------------------------------------


def certificate_after_purge(*, item: DispositionItem, actor) -> None:
    """Ask for the certificate of a purge, from inside the purge's audited block.

    Dropped with the block if the purge rolls back; run after it committed otherwise.
    """
    batch = _batch.get()
    if batch is not None:
        batch.append((item.request_id, actor))
        return
    request_id = item.request_id
    after_audited(lambda: certificate_issue_safely(request_id=request_id, actor=actor))


@contextmanager
def certificates_batched() -> Iterator[None]:
    """Purges inside the block share one certificate per request, issued as it ends."""
    if _batch.get() is not None:
        yield
        return
    token = _batch.set([])
    try:
        yield
    finally:
        asked = _batch.get()
        _batch.reset(token)
        for request_id, actor in dict(asked).items():
            certificate_issue_safely(request_id=request_id, actor=actor)


def certificate_issue_safely(*, request_id: int, actor) -> DestructionCertificate | None:
    """certificate_issue, logged instead of raised: the purge itself already happened."""
    try:
        request = DispositionRequest.objects.get(pk=request_id)
        return certificate_issue(request=request, actor=actor)
    except Exception:
        # The missing certificate is issued by the daily sweep; the purge stands.
        logger.exception("certificate of disposition request %s not issued yet", request_id)
        return None


# --- What ------------------------------------------------------------------------------------


def _uncertified(request: DispositionRequest):
    return (
        request.items.filter(executed_at__isnull=False, asset__state=Asset.State.PURGED)
        .exclude(outcome__startswith="voided")
        .exclude(Exists(CertifiedItem.objects.filter(item=OuterRef("pk"))))
        .select_related("asset", "asset__collection")
        .order_by("asset_id")
    )


def _event(verb: str, obj_type: str, obj_id) -> dict | None:
    event = (
        AuditEvent.objects.filter(verb=verb, object_type=obj_type, object_id=str(obj_id))
        .order_by("-sequence")
        .values("sequence", "hash", "created_at")
        .first()
    )
    return event


def _fixity(asset: Asset) -> dict | None:
    check = FixityCheck.objects.filter(asset=asset).order_by("-checked_at", "-pk").first()
    if check is None:
        return None
    return {"checked_at": check.checked_at, "ok": check.ok, "sha256": check.actual_sha256}


def _survivor(sha256: str) -> dict | None:
    asset = (
        Asset.objects.holding_bytes()
        .filter(sha256=sha256, storage_alias__in=[Asset.Tier.HOT, Asset.Tier.COLD])
        .order_by("pk")
        .first()
    )
    if asset is None:
        return None
    return {
        "asset": asset.pk,
        "tier": asset.storage_alias,
        "state": asset.state,
        "latest_fixity_check": _fixity(asset),
    }


def _entry(entry: CatalogueEntry) -> dict:
    return {
        "entry": entry.pk,
        "title": entry.title,
        "accession_number": entry.accession_number,
        "collection": entry.collection.name,
        "published": entry.published,
        "published_sha256": entry.published_sha256 or None,
        "now_on_asset": entry.asset_id,
    }


def _records(asset: Asset) -> list[dict]:
    """Every catalogue entry the asset carried: those on it now, and those moved off it."""
    moved = AuditEvent.objects.filter(verb="entry.repointed", before__asset=asset.pk)
    ids = {int(i) for i in moved.values_list("object_id", flat=True)}
    entries = CatalogueEntry.objects.filter(pk__in=ids) | CatalogueEntry.objects.filter(asset=asset)
    return [_entry(e) for e in entries.select_related("collection").distinct().order_by("pk")]


def _policy(asset: Asset) -> dict | None:
    purging = [p for p in policies_matching(asset=asset) if p.purge_after_window]
    if not purging:
        return None
    policy = purging[0]
    return {"key": policy.key, "version": policy.version, "name": policy.name}


def _destroyed(item: DispositionItem) -> dict:
    asset = item.asset
    deletion = (
        PendingMove.objects.filter(asset=asset, kind=PendingMove.Kind.PURGE).order_by("-pk").first()
    )
    return {
        "asset": asset.pk,
        "sha256": asset.sha256,
        "size": asset.size,
        "size_text": filesizeformat(asset.size),
        "format": asset.format,
        "width": asset.width,
        "height": asset.height,
        "original_filename": asset.original_filename,
        "original_path": asset.original_path,
        "collection": asset.collection.name,
        "ingested_at": asset.ingested_at,
        "purged_at": item.executed_at,
        "bytes_deleted": bool(deletion and deletion.step == PendingMove.Step.DONE),
        "deleted_from": f"{deletion.from_alias}:{deletion.from_key}" if deletion else None,
        "policy": _policy(asset),
        "purge_event": _event("asset.purged", "archive.asset", asset.pk),
        "sources": [
            {"collection": s.collection.name, "path": s.path, "ingested_at": s.ingested_at}
            for s in asset.sources.select_related("collection").order_by("pk")
        ],
        "records": _records(asset),
    }


def _published(destroyed: list[dict]) -> list[dict]:
    """Every published byte sequence among the destroyed assets and their records, with
    the surviving asset that holds it (None: no copy survives, which the guard forbids)."""
    wanted: dict[str, set[int]] = {}
    for row in destroyed:
        own = CatalogueEntry.objects.filter(published_sha256=row["sha256"])
        for entry_id in own.values_list("pk", flat=True):
            wanted.setdefault(row["sha256"], set()).add(entry_id)
        for record in row["records"]:
            if record["published_sha256"]:
                wanted.setdefault(record["published_sha256"], set()).add(record["entry"])
    destroyed_shas = {row["sha256"] for row in destroyed}
    return [
        {
            "sha256": sha,
            "entries": sorted(entries),
            "bytes_of_a_destroyed_asset": sha in destroyed_shas,
            "survivor": _survivor(sha),
        }
        for sha, entries in sorted(wanted.items())
    ]


def _person(user) -> str | None:
    return user.get_username() if user is not None else None


def _checkpoint(destroyed: list[dict]) -> dict:
    from archive.checkpoints import checkpoint_covering

    sequences = [r["purge_event"]["sequence"] for r in destroyed if r["purge_event"]]
    covering = checkpoint_covering(max(sequences)) if sequences else None
    if covering is None:
        return {
            "covering": None,
            "note": "No signed checkpoint covers these purge events yet; the next seal of "
            "the audit log will (`manage.py seal_audit`, or the scheduled seal), and "
            "`manage.py destruction_certificate ID` names it from then on.",
        }
    return {
        "covering": {
            "size": covering.size,
            "root_hash": covering.root_hash,
            "created_at": covering.created_at,
        },
        "note": "Every purge event listed is in this signed checkpoint's Merkle tree.",
    }


def certificate_document(*, request: DispositionRequest, items, actor, issued_at) -> dict:
    """The certificate's content for the given purged items of the request (a read)."""
    destroyed = [_destroyed(item) for item in items]
    return {
        "format": FORMAT,
        "issued_at": issued_at,
        "issued_by": actor_name(actor),
        "disposition_request": {
            "id": request.pk,
            "reason": request.reason,
            "requested_by": _person(request.requested_by) or "system",
            "requested_at": request.requested_at,
            "approved_by": _person(request.approved_by),
            "approved_at": request.approved_at,
            "approval_event": _event(
                "disposition.approved", "retention.dispositionrequest", request.pk
            ),
        },
        "destroyed": destroyed,
        "totals": {"assets": len(destroyed), "bytes": sum(r["size"] for r in destroyed)},
        "published_bytes": _published(destroyed),
        "checkpoint": _checkpoint(destroyed),
    }


def _texts(document: dict) -> tuple[str, str]:
    json_text = json.dumps(document, cls=DjangoJSONEncoder, sort_keys=True, indent=2) + "\n"
    # The HTML is rendered from the JSON as stored, so both say exactly the same thing.
    html_text = render_to_string(
        "admin/retention/certificate/document.html", {"doc": json.loads(json_text)}
    )
    return json_text, html_text


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- Issue -----------------------------------------------------------------------------------


def certificate_issue(
    *, request: DispositionRequest, actor=SYSTEM
) -> DestructionCertificate | None:
    """Certify the request's purged items that have no certificate yet (None: none left).

    Built outside any transaction (reads and rendering), then recorded in a short audited
    one that re-reads which items are still uncertified under the request's lock.
    """
    items = list(_uncertified(request))
    if not items:
        return None
    issued_at = timezone.now()
    document = certificate_document(request=request, items=items, actor=actor, issued_at=issued_at)
    json_text, html_text = _texts(document)
    return _certificate_record(
        request=request,
        item_ids=[item.pk for item in items],
        texts=(json_text, html_text),
        issued_at=issued_at,
        actor=actor,
    )


@audited
def _certificate_record(*, request, item_ids, texts, issued_at, actor):
    request = DispositionRequest.objects.select_for_update(no_key=True).get(pk=request.pk)
    still = set(_uncertified(request).values_list("pk", flat=True))
    if still != set(item_ids):
        # Another worker certified some of them meanwhile (or more were purged): the
        # next call builds the certificate afresh.
        raise ArchiveError(
            "The purged items changed while the certificate was built.", code="conflict"
        )
    json_text, html_text = texts
    certificate = DestructionCertificate(
        request=request,
        issued_at=issued_at,
        issued_by=actor_user(actor),
        asset_count=len(item_ids),
        json_text=json_text,
        html_text=html_text,
        json_sha256=sha256_text(json_text),
        html_sha256=sha256_text(html_text),
    )
    certificate.full_clean()
    certificate.save()
    CertifiedItem.objects.bulk_create(
        [CertifiedItem(certificate=certificate, item_id=pk) for pk in sorted(item_ids)]
    )
    audit_record(
        actor=actor,
        verb=ISSUED_VERB,
        obj=certificate,
        after={
            "disposition_request": request.pk,
            "assets": sorted(
                DispositionItem.objects.filter(pk__in=item_ids).values_list("asset_id", flat=True)
            ),
            "json_sha256": certificate.json_sha256,
            "html_sha256": certificate.html_sha256,
        },
    )
    return certificate


def certificates_issue_missing(*, actor=SYSTEM) -> int:
    """Issue the certificates a crash or an error left out; returns how many were issued."""
    pending = DispositionItem.objects.filter(
        executed_at__isnull=False, asset__state=Asset.State.PURGED
    ).exclude(outcome__startswith="voided")
    pending = pending.exclude(Exists(CertifiedItem.objects.filter(item=OuterRef("pk"))))
    issued = 0
    for request_id in sorted(set(pending.values_list("request_id", flat=True))):
        if certificate_issue_safely(request_id=request_id, actor=actor) is not None:
            issued += 1
    return issued


# --- Read and check --------------------------------------------------------------------------


def certificate_get(*, pk: int) -> DestructionCertificate:
    certificate = DestructionCertificate.objects.filter(pk=pk).select_related("request").first()
    if certificate is None:
        raise ArchiveError(f"No certificate of destruction number {pk}.", code="not_found")
    return certificate


def certificate_check(*, certificate: DestructionCertificate) -> dict:
    """Recompute both digests and compare them with the audit event that recorded them;
    name the signed checkpoint that covers that event now, if one does."""
    from archive.checkpoints import checkpoint_covering

    event = (
        AuditEvent.objects.filter(
            verb=ISSUED_VERB,
            object_type="retention.destructioncertificate",
            object_id=str(certificate.pk),
        )
        .order_by("sequence")
        .first()
    )
    json_ok = sha256_text(certificate.json_text) == certificate.json_sha256
    html_ok = sha256_text(certificate.html_text) == certificate.html_sha256
    recorded = event.after if event else {}
    matches = bool(
        event
        and recorded.get("json_sha256") == certificate.json_sha256
        and recorded.get("html_sha256") == certificate.html_sha256
    )
    covering = checkpoint_covering(event.sequence) if event else None
    return {
        "certificate": certificate.pk,
        "json_sha256": certificate.json_sha256,
        "html_sha256": certificate.html_sha256,
        "texts_match_digests": json_ok and html_ok,
        "audit_event": event.sequence if event else None,
        "digests_match_audit_event": matches,
        "checkpoint": covering.size if covering else None,
        "ok": json_ok and html_ok and matches,
    }
