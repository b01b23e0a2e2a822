"""The intake gate: per collection, a new file judged a copy of an asset already held is
admitted, admitted and flagged, or held for a curator, whose choice is carried out."""

import io

import pytest
from django.core.files.storage import storages

from archive.errors import ArchiveError
from archive.ingest import EntryMetadata, IngestStatus
from archive.intake import intake_decide
from archive.models import Asset, AssetSource, AuditEvent, CatalogueEntry, Collection, IntakeItem
from tests.archive.helpers import ingest_bytes
from tests.archive.people import person, role_member
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

HOLD = Collection.IntakePolicy.HOLD


@pytest.fixture
def gate(collection):
    collection.intake_policy = HOLD
    collection.save()
    return collection


@pytest.fixture
def curator(db):
    return role_member("Archivist", "curator-gate")


def _original_and_copy(collection):
    scene = make_scene(7)
    original = ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    copy = image_bytes(scene.resize((160, 120)), quality=70)
    return original, copy


def _staged_exists(item):
    return storages[item.staged_alias].exists(item.staged_key)


def test_a_derivative_waits_at_a_hold_gate_and_nothing_enters_the_archive(gate):
    original, copy = _original_and_copy(gate)
    assets, entries = Asset.objects.count(), CatalogueEntry.objects.count()

    outcome = ingest_bytes(
        copy, collection=gate, path="a-small.jpg", metadata=EntryMetadata(title="Small")
    )

    assert outcome.status == IngestStatus.HELD
    assert f"looks like asset {original.asset.pk}" in outcome.reason
    assert (Asset.objects.count(), CatalogueEntry.objects.count()) == (assets, entries)
    item = IntakeItem.objects.get(pk=outcome.findings["intake_item"])
    assert item.status == IntakeItem.Status.WAITING
    assert item.matches[0]["asset"] == original.asset.pk
    assert item.matches[0]["kind"] == "derivative"
    assert item.entry_fields["metadata"]["title"] == "Small"
    assert _staged_exists(item)
    with storages[item.staged_alias].open(item.staged_key, "rb") as staged:
        assert staged.read() == copy
    assert AuditEvent.objects.filter(verb="intake.held", object_id=str(item.pk)).count() == 1


def test_unrelated_files_and_exact_copies_pass_a_hold_gate(gate):
    original, _ = _original_and_copy(gate)

    other = ingest_bytes(image_bytes(make_scene(8)), collection=gate, path="b.jpg")
    again = ingest_bytes(
        image_bytes(make_scene(7), quality=92), collection=gate, path="elsewhere/a.jpg"
    )

    assert other.status == IngestStatus.NEW
    # Exact bytes are never stored twice, whatever the policy: a new record of the asset.
    assert again.status == IngestStatus.ATTACHED
    assert again.asset == original.asset
    assert not IntakeItem.objects.exists()


def test_admit_policy_stores_the_copy_and_admit_flag_also_records_it(collection):
    _, copy = _original_and_copy(collection)
    admitted = ingest_bytes(copy, collection=collection, path="copy.jpg")
    assert admitted.status == IngestStatus.NEW
    assert not IntakeItem.objects.exists()

    collection.intake_policy = Collection.IntakePolicy.ADMIT_FLAG
    collection.save()
    scene = make_scene(9)
    ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="c.jpg")
    flagged = ingest_bytes(
        image_bytes(scene.resize((200, 150)), quality=60), collection=collection, path="c2.jpg"
    )

    assert flagged.status == IngestStatus.NEW
    item = IntakeItem.objects.get()
    assert item.status == IntakeItem.Status.FLAGGED
    assert item.asset == flagged.asset
    assert item.matches[0]["kind"] == "derivative"


def _held(gate):
    original, copy = _original_and_copy(gate)
    outcome = ingest_bytes(copy, collection=gate, path="a-small.jpg")
    return original.asset, IntakeItem.objects.get(pk=outcome.findings["intake_item"]), copy


def test_store_anyway_ingests_the_staged_bytes_and_removes_the_staged_copy(gate, curator):
    original, item, copy = _held(gate)

    decision = intake_decide(item=item, choice="store", reason="a different print", actor=curator)

    item.refresh_from_db()
    assert item.status == IntakeItem.Status.STORED
    assert decision.asset.pk != original.pk
    assert Asset.objects.get(pk=decision.asset.pk).sha256 == item.sha256
    assert not storages[item.staged_alias].exists(f"intake/{item.sha256[:2]}/{item.sha256}.jpg")
    event = AuditEvent.objects.get(verb="intake.stored", object_id=str(item.pk))
    assert event.reason == "a different print"


def test_add_record_gives_the_existing_asset_a_new_record_and_stores_no_bytes(gate, curator):
    original, item, _ = _held(gate)
    assets = Asset.objects.count()

    intake_decide(item=item, choice="add_record", reason="same photo", actor=curator)

    assert Asset.objects.count() == assets
    assert AssetSource.objects.filter(asset=original, path="a-small.jpg").exists()
    assert CatalogueEntry.objects.filter(asset=original).count() == 2
    item.refresh_from_db()
    assert (item.status, item.asset) == (IntakeItem.Status.RECORD_ADDED, original)


def test_use_existing_stores_nothing_and_keeps_the_decision(gate, curator):
    original, item, _ = _held(gate)
    counts = Asset.objects.count(), CatalogueEntry.objects.count(), AssetSource.objects.count()
    staged_key = item.staged_key

    intake_decide(item=item, choice="use_existing", reason="duplicate upload", actor=curator)

    assert (
        Asset.objects.count(),
        CatalogueEntry.objects.count(),
        AssetSource.objects.count(),
    ) == counts
    assert not storages[item.staged_alias].exists(staged_key)
    item.refresh_from_db()
    assert (item.status, item.target) == (IntakeItem.Status.USED_EXISTING, original)


def test_decisions_are_refused_without_permission_reason_or_twice(gate, curator):
    original, item, _ = _held(gate)
    stranger = person("stranger", "archive.view_intakeitem")

    with pytest.raises(ArchiveError, match="permission"):
        intake_decide(item=item, choice="store", reason="x", actor=stranger)
    with pytest.raises(ArchiveError, match="reason"):
        intake_decide(item=item, choice="store", reason="  ", actor=curator)
    with pytest.raises(ArchiveError, match="not one of"):
        intake_decide(item=item, choice="add_record", reason="x", actor=curator, target=10**6)
    with pytest.raises(ArchiveError, match="Unknown choice"):
        intake_decide(item=item, choice="delete", reason="x", actor=curator)
    assert _staged_exists(item)

    intake_decide(item=item, choice="use_existing", reason="dup", actor=curator)
    with pytest.raises(ArchiveError, match="already decided"):
        intake_decide(item=item, choice="store", reason="changed my mind", actor=curator)


def test_a_decision_cut_short_is_finished_by_deciding_again(gate, curator, monkeypatch):
    original, item, _ = _held(gate)
    import archive.intake as intake

    def crash(**kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(intake, "_finish", crash)
    with pytest.raises(RuntimeError):
        intake_decide(item=item, choice="add_record", reason="same", actor=curator)
    monkeypatch.undo()
    item.refresh_from_db()
    assert item.status == IntakeItem.Status.DECIDING
    assert _staged_exists(item)
    with pytest.raises(ArchiveError, match="already being handled"):
        intake_decide(item=item, choice="store", reason="other", actor=curator)

    intake_decide(item=item, choice="add_record", reason="same", actor=curator)

    item.refresh_from_db()
    assert item.status == IntakeItem.Status.RECORD_ADDED
    # The record was added once, not once per attempt.
    assert AssetSource.objects.filter(asset=original, path="a-small.jpg").count() == 1


def test_a_purged_target_cannot_receive_the_record(gate, curator):
    original, item, _ = _held(gate)
    from archive.lifecycle import lifecycle_writes

    # A purge committed between the upload and the decision (its rules are tested elsewhere).
    with lifecycle_writes():
        Asset.objects.filter(pk=original.pk).update(state=Asset.State.PURGED)

    with pytest.raises(ArchiveError, match="purged"):
        intake_decide(item=item, choice="add_record", reason="same", actor=curator)
    item.refresh_from_db()
    assert _staged_exists(item)


def test_identical_uploads_each_keep_their_own_staged_bytes_until_decided(gate, curator):
    original, item, copy = _held(gate)
    second = ingest_bytes(copy, collection=gate, path="again/a-small.jpg")
    other = IntakeItem.objects.get(pk=second.findings["intake_item"])
    first_key = item.staged_key
    assert other.staged_key != first_key, "identical uploads must not share staged bytes"

    intake_decide(item=item, choice="use_existing", reason="dup", actor=curator)
    assert not storages[item.staged_alias].exists(first_key)
    assert storages[other.staged_alias].exists(other.staged_key)

    intake_decide(item=other, choice="store", reason="keep this one", actor=curator)
    assert not storages[other.staged_alias].exists(other.staged_key)
    assert io.BytesIO(copy).getbuffer().nbytes == Asset.objects.get(sha256=other.sha256).size


def test_the_command_lists_the_queue_and_decides(gate, curator):
    from django.core.management import CommandError, call_command

    original, item, _ = _held(gate)
    out = io.StringIO()
    call_command("intake_queue", stdout=out)
    assert f"#{item.pk} {gate.name}: a-small.jpg" in out.getvalue()
    assert f"looks like asset {original.pk} (derivative" in out.getvalue()

    with pytest.raises(CommandError, match="--reason"):
        call_command("intake_queue", decide=item.pk, choice="store", user=curator.username)
    call_command(
        "intake_queue",
        decide=item.pk,
        choice="use_existing",
        reason="duplicate upload",
        user=curator.username,
        stdout=io.StringIO(),
    )

    item.refresh_from_db()
    assert item.status == IntakeItem.Status.USED_EXISTING
    out = io.StringIO()
    call_command("intake_queue", stdout=out)
    assert "No uploads waiting" in out.getvalue()
