"""Review decisions and consolidation: nothing lost, links kept, holds and licences obeyed."""

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from archive.errors import ArchiveError
from archive.holds import legal_hold_place
from archive.licensing import licence_conflict_sign_off, licence_terms_compare
from archive.models import Asset, AuditEvent, CatalogueEntry, Licence
from archive.services import record_save
from archive.storage import bytes_open
from dedup.consolidation import consolidation_undo
from dedup.models import DuplicateCandidate
from dedup.review import Decision, candidate_decide, candidates_bulk_confirm, canonical_suggest
from retention.models import QuarantineRecord
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


def user_with(username, *codenames):
    user = get_user_model().objects.create_user(username)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def curator(db):
    return user_with("curator", "review_duplicates")


@pytest.fixture
def pair(collection):
    """A large original with EXIF and its small recompressed copy, each with an entry."""
    from PIL import Image

    scene = make_scene(71)
    exif = Image.Exif()
    exif[0x0110] = "Survey camera"
    big = ingest_bytes(
        image_bytes(scene, quality=95, exif=exif),
        collection=collection,
        path="survey/a.jpg",
        published=True,
    )
    small_exif = Image.Exif()
    small_exif[0x0110] = "Phone"
    small_exif[0x0131] = "Editor 2.0"
    small = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=60, exif=small_exif),
        collection=collection,
        path="web/a-small.jpg",
    )
    candidate = DuplicateCandidate.objects.get()
    # The camera names differ on purpose (an EXIF conflict for the merge to keep), which
    # the judgement reads as two captures (similar, confirmable only by an override);
    # these tests are about consolidation, so the pair stands as the derivative it is.
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(kind="derivative")
    candidate.refresh_from_db()
    return big.asset, small.asset, candidate


def sha_of(asset):
    with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as fp:
        return hashlib.sha256(fp.read()).hexdigest()


def test_the_suggested_canonical_is_the_larger_copy(pair):
    big, small, _ = pair

    suggestion = canonical_suggest(assets=[small, big])

    # The big copy holds the published bytes, which come before the configured rules.
    assert (suggestion.asset, suggestion.reason) == (big, "its exact bytes were published")


def test_confirm_consolidates_without_losing_anything(pair, curator):
    big, small, candidate = pair
    small_entry = small.entries.get()
    record_save(
        obj=Licence(entry=small_entry, holder="Agency", licence_type="agency"), actor=curator
    )
    # Same terms on both sides, so no licence conflict blocks this consolidation.
    record_save(
        obj=Licence(entry=big.entries.get(), holder="Agency", licence_type="agency"), actor=curator
    )
    entry_before = CatalogueEntry.objects.values().get(pk=small_entry.pk)

    consolidation = candidate_decide(
        candidate=candidate, decision=Decision.CONFIRM, actor=curator, canonical=big
    )

    small.refresh_from_db()
    big.refresh_from_db()
    assert small.replaced_by == big and small.state == Asset.State.QUARANTINED
    moved = CatalogueEntry.objects.values().get(pk=small_entry.pk)
    assert moved["asset_id"] == big.pk
    assert {k: v for k, v in moved.items() if k != "asset_id"} == {
        k: v for k, v in entry_before.items() if k != "asset_id"
    }
    assert small_entry.licences.get().holder == "Agency"
    # Conflicting EXIF stays the canonical's, the other value is kept as an alternative;
    # EXIF only the copy had is merged in, with its provenance.
    assert big.exif["Model"] == "Survey camera"
    assert big.exif["Software"] == "Editor 2.0"
    provenance = consolidation.provenance
    assert provenance["exif"]["Model"]["alternatives"] == [{"value": "Phone", "asset": small.pk}]
    assert provenance["exif"]["Software"] == {"kept": "Editor 2.0", "from_asset": small.pk}
    assert provenance["replaced"][0]["original_path"] == "web/a-small.jpg"
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == ("confirmed", curator)
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {
        "candidate.confirmed",
        "entry.repointed",
        "asset.quarantined",
        "consolidation.executed",
    } <= verbs


def test_undo_restores_bit_identical_state(pair, curator):
    big, small, candidate = pair
    before = {
        "entries": sorted(CatalogueEntry.objects.values_list("pk", "asset_id")),
        "big_exif": big.exif,
        "small_sha": sha_of(small),
    }
    consolidation = candidate_decide(
        candidate=candidate, decision=Decision.CONFIRM, actor=curator, canonical=big
    )

    consolidation_undo(consolidation=consolidation, actor=curator)

    small.refresh_from_db()
    big.refresh_from_db()
    assert sorted(CatalogueEntry.objects.values_list("pk", "asset_id")) == before["entries"]
    assert big.exif == before["big_exif"]
    assert (small.state, small.replaced_by) == (Asset.State.ACTIVE, None)
    assert sha_of(small) == before["small_sha"] == small.sha256
    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.PENDING
    with pytest.raises(ArchiveError, match="already undone"):
        consolidation_undo(consolidation=consolidation, actor=curator)


def test_undo_after_the_window_is_refused(pair, curator, settings):
    big, _, candidate = pair
    consolidation = candidate_decide(
        candidate=candidate, decision=Decision.CONFIRM, actor=curator, canonical=big
    )
    # The window is the replaced asset's quarantine deadline (the one retention enforces).
    now = timezone.now()
    QuarantineRecord.objects.filter(asset_id=candidate.other(big.pk), restored_at=None).update(
        quarantined_at=now - timezone.timedelta(days=31),
        restore_deadline=now - timezone.timedelta(days=1),
    )

    with pytest.raises(ArchiveError, match="restore window"):
        consolidation_undo(consolidation=consolidation, actor=curator)


def test_not_a_duplicate_and_defer_are_remembered(pair, curator):
    _, _, candidate = pair

    candidate_decide(candidate=candidate, decision=Decision.DEFER, actor=curator)
    candidate_decide(candidate=candidate, decision=Decision.NOT_DUPLICATE, actor=curator)

    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.REJECTED
    with pytest.raises(ArchiveError, match="already decided"):
        candidate_decide(candidate=candidate, decision=Decision.DEFER, actor=curator)


def test_deciding_needs_the_review_permission(pair):
    _, _, candidate = pair
    visitor = user_with("visitor")

    with pytest.raises(ArchiveError, match="review permission"):
        candidate_decide(candidate=candidate, decision=Decision.DEFER, actor=visitor)


def test_a_legal_hold_blocks_consolidation_and_is_audited(pair, curator):
    big, small, candidate = pair
    officer = user_with("officer", "place_legal_hold")
    legal_hold_place(matter_reference="CASE-42", reason="subpoena", assets=[small], actor=officer)

    with pytest.raises(ArchiveError, match="CASE-42"):
        candidate_decide(
            candidate=candidate, decision=Decision.CONFIRM, actor=curator, canonical=big
        )

    small.refresh_from_db()
    candidate.refresh_from_db()
    assert (small.state, small.replaced_by_id) == (Asset.State.ACTIVE, None)
    assert candidate.status == DuplicateCandidate.Status.PENDING
    assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1


def test_differing_licences_block_until_signed_off(pair, curator):
    big, small, candidate = pair
    record_save(
        obj=Licence(entry=big.entries.get(), holder="Staff", licence_type="staff"), actor=curator
    )
    record_save(
        obj=Licence(entry=small.entries.get(), holder="Agency X", licence_type="rights_managed"),
        actor=curator,
    )

    with pytest.raises(ArchiveError, match="licence"):
        candidate_decide(
            candidate=candidate, decision=Decision.CONFIRM, actor=curator, canonical=big
        )
    licence_conflict_sign_off(
        assets=[big, small],
        terms_fingerprint=licence_terms_compare(assets=[big, small]).terms_fingerprint,
        reason="agency agreed in writing",
        actor=user_with("licensing", "sign_off_licence"),
    )
    candidate_decide(candidate=candidate, decision=Decision.CONFIRM, actor=curator, canonical=big)

    small.refresh_from_db()
    assert small.replaced_by == big


def test_bulk_confirm_refuses_derivative_and_similar_pairs(pair, curator):
    _, _, candidate = pair
    assert candidate.kind not in ("exact", "pixel")

    ((_, message),) = candidates_bulk_confirm(candidates=[candidate], actor=curator)

    assert "one at a time" in message
    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.PENDING
