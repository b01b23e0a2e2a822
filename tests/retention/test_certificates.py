"""Certificates of destruction: one per executed purge, digests in the audit trail."""

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from archive.audit import audited
from archive.errors import ArchiveError
from archive.models import AuditEvent, CatalogueEntry
from retention.certificates import (
    certificate_check,
    certificate_issue,
    certificates_issue_missing,
)
from retention.models import CertifiedItem, DestructionCertificate
from retention.purge import disposition_execute, disposition_item_execute

pytestmark = pytest.mark.django_db


def execute(request, actor, callbacks):
    with callbacks(execute=True):
        return disposition_execute(request=request, actor=actor)


def only_certificate() -> tuple[DestructionCertificate, dict]:
    certificate = DestructionCertificate.objects.get()
    return certificate, json.loads(certificate.json_text)


class TestCertificateIssued:
    def test_an_executed_purge_produces_one_certificate_recorded_in_the_audit_trail(
        self,
        approved,
        replaced,
        other_asset,
        approver,
        requester,
        django_capture_on_commit_callbacks,
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)

        certificate, doc = only_certificate()
        assert certificate.json_sha256 == hashlib.sha256(certificate.json_text.encode()).hexdigest()
        event = AuditEvent.objects.get(verb="disposition.certificate_issued")
        assert event.after["json_sha256"] == certificate.json_sha256
        assert event.after["html_sha256"] == certificate.html_sha256
        assert event.after["assets"] == [replaced.pk]
        [row] = doc["destroyed"]
        assert (row["asset"], row["sha256"], row["size"]) == (
            replaced.pk,
            replaced.sha256,
            replaced.size,
        )
        assert row["deleted_from"].startswith("quarantine:")
        assert row["policy"]["version"] >= 1
        purge = AuditEvent.objects.get(verb="asset.purged")
        assert row["purge_event"]["sequence"] == purge.sequence
        assert doc["disposition_request"]["requested_by"] == requester.username
        assert doc["disposition_request"]["approved_by"] == approver.username
        # The record the replaced asset carried was repointed to the canonical one.
        assert [r["now_on_asset"] for r in row["records"]] == [other_asset.pk]
        assert certificate_check(certificate=certificate)["ok"] is True

    def test_executing_again_issues_nothing_more(
        self, approved, approver, django_capture_on_commit_callbacks
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)
        execute(approved, approver, django_capture_on_commit_callbacks)

        assert DestructionCertificate.objects.count() == 1
        assert certificate_issue(request=approved) is None

    def test_a_refused_purge_produces_no_certificate(
        self, replaced, requester, approver, django_capture_on_commit_callbacks
    ):
        from retention.purge import disposition_request_approve, disposition_request_create

        request = disposition_request_create(assets=[replaced], reason="dup", actor=requester)
        disposition_request_approve(request=request, actor=approver)  # window still open

        execute(request, approver, django_capture_on_commit_callbacks)

        assert not DestructionCertificate.objects.exists()

    def test_a_purge_on_its_own_gets_its_certificate_after_its_transaction(
        self, approved, approver, django_capture_on_commit_callbacks
    ):
        item = approved.items.get()
        with django_capture_on_commit_callbacks(execute=True):
            disposition_item_execute(item=item, actor=approver)

        assert CertifiedItem.objects.get().item == item

    def test_a_purge_rolled_back_asks_for_no_certificate(self, approved, approver):
        item = approved.items.get()
        with pytest.raises(RuntimeError), audited():
            disposition_item_execute(item=item, actor=approver)
            raise RuntimeError("crash before commit")

        assert not DestructionCertificate.objects.exists()

    def test_a_certificate_missed_by_a_crash_is_issued_by_the_sweep(
        self, approved, approver, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr(
            "retention.certificates.certificate_document",
            lambda **kw: (_ for _ in ()).throw(RuntimeError("killed")),
        )
        execute(approved, approver, django_capture_on_commit_callbacks)
        assert not DestructionCertificate.objects.exists()
        monkeypatch.undo()

        assert certificates_issue_missing() == 1
        assert certificates_issue_missing() == 0
        assert CertifiedItem.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_certificate_follows_the_deletion_of_the_bytes(approved, replaced, approver):
    """Outside a test transaction the purge commits, deletes the bytes, then certifies."""
    key = replaced.storage_key
    disposition_execute(request=approved, actor=approver)

    _, doc = only_certificate()
    assert doc["destroyed"][0]["bytes_deleted"] is True
    assert doc["destroyed"][0]["deleted_from"] == f"quarantine:{key}"


class TestPublishedBytes:
    def test_a_published_record_it_carried_names_the_surviving_copy_and_its_fixity(
        self, approved, replaced, other_asset, approver, django_capture_on_commit_callbacks
    ):
        from retention.fixity import fixity_asset_check

        entry = CatalogueEntry.objects.get(asset=other_asset, source__asset=replaced)
        # Published after the consolidation, so these bytes are the canonical's.
        CatalogueEntry.objects.filter(pk=entry.pk).update(
            published=True, published_at=timezone.now(), published_sha256=other_asset.sha256
        )
        fixity_asset_check(asset=other_asset)

        execute(approved, approver, django_capture_on_commit_callbacks)

        _, doc = only_certificate()
        [published] = [p for p in doc["published_bytes"] if entry.pk in p["entries"]]
        assert published["sha256"] == other_asset.sha256
        assert published["bytes_of_a_destroyed_asset"] is False
        assert published["survivor"]["asset"] == other_asset.pk
        assert published["survivor"]["latest_fixity_check"]["ok"] is True


class TestCertificateRecord:
    def test_certificates_are_never_changed_or_deleted(
        self, approved, approver, django_capture_on_commit_callbacks
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)
        certificate = DestructionCertificate.objects.get()

        with pytest.raises(ArchiveError):
            certificate.save()
        with pytest.raises(ArchiveError):
            DestructionCertificate.objects.all().delete()
        with pytest.raises(ArchiveError):
            DestructionCertificate.objects.update(json_text="{}")

    def test_an_item_is_certified_once_by_the_database(
        self, approved, approver, django_capture_on_commit_callbacks
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)
        first = CertifiedItem.objects.get()

        with pytest.raises(IntegrityError), transaction.atomic():
            CertifiedItem.objects.create(certificate=first.certificate, item=first.item)

    def test_an_edited_text_no_longer_checks(
        self, approved, approver, django_capture_on_commit_callbacks
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)
        certificate = DestructionCertificate.objects.get()
        certificate.json_text = certificate.json_text.replace("purged", "kept", 1)

        assert certificate_check(certificate=certificate)["ok"] is False


class TestCommand:
    def test_the_command_prints_the_json_and_writes_the_html(
        self, approved, approver, tmp_path, capsys, django_capture_on_commit_callbacks
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)
        certificate = DestructionCertificate.objects.get()

        call_command("destruction_certificate", str(certificate.pk))
        out = capsys.readouterr().out
        assert json.loads(out) == json.loads(certificate.json_text)

        target = tmp_path / "c.html"
        call_command(
            "destruction_certificate", str(certificate.pk), "--format", "html", "--output", target
        )
        assert hashlib.sha256(target.read_bytes()).hexdigest() == certificate.html_sha256

    def test_an_unknown_certificate_is_a_clear_error(self, db):
        from django.core.management import CommandError

        with pytest.raises(CommandError, match="No certificate"):
            call_command("destruction_certificate", "999")
