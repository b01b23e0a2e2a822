"""Fixity: rolling re-verification; failures recorded and shown, never repaired."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from archive.models import AuditEvent
from retention.fixity import fixity_batch_run, fixity_failing_assets
from retention.models import FixityCheck
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(collection):
    return [ingest_picture(collection=collection, colour=c).asset for c in ("red", "lime", "navy")]


class TestFixityBatch:
    def test_batches_roll_through_the_least_recently_checked(self, three):
        first = fixity_batch_run(batch_size=2)
        second = fixity_batch_run(batch_size=2)

        assert first == {"ok": 2, "failed": 0, "skipped": 0}
        assert second["ok"] == 2
        checked = FixityCheck.objects.values_list("asset", flat=True)
        assert {a.pk for a in three} == set(checked)

    def test_damaged_bytes_are_recorded_audited_and_left_alone(self, three, isolated_storage):
        damaged = three[0]
        path = isolated_storage / "hot" / damaged.storage_key
        path.write_bytes(b"bit rot")

        counts = fixity_batch_run(batch_size=10)

        assert counts == {"ok": 2, "failed": 1, "skipped": 0}
        check = FixityCheck.objects.get(ok=False)
        assert (check.asset, check.error) == (damaged, "SHA-256 mismatch")
        assert AuditEvent.objects.get(verb="asset.fixity_failed").object_id == str(damaged.pk)
        assert path.read_bytes() == b"bit rot"  # nothing "repaired"
        assert list(fixity_failing_assets()) == [damaged]

    def test_a_missing_file_is_a_failure(self, three, isolated_storage):
        (isolated_storage / "hot" / three[1].storage_key).unlink()

        fixity_batch_run(batch_size=10)

        assert FixityCheck.objects.get(ok=False).error == "file missing"

    def test_the_alert_shows_in_the_admin(self, three, isolated_storage, staff, client):
        (isolated_storage / "hot" / three[0].storage_key).write_bytes(b"x")
        call_command("check_fixity", "--batch-size", "10")
        client.force_login(staff)

        listing = client.get(reverse("admin:retention_fixitycheck_changelist"))
        index = client.get(reverse("admin:app_list", args=["retention"]))
        home = client.get(reverse("admin:index"))
        failing = client.get(reverse("admin:retention_fixitycheck_changelist") + "?alert=failing")

        assert "1 asset(s) failed their latest fixity check" in listing.content.decode()
        assert "failed its latest fixity check" in index.content.decode()
        assert "failed its latest fixity check" in home.content.decode()
        assert failing.context["cl"].result_count == 1

    def test_a_later_good_check_clears_the_alert(self, three, isolated_storage):
        path = isolated_storage / "hot" / three[0].storage_key
        original = path.read_bytes()
        path.write_bytes(b"x")
        fixity_batch_run(batch_size=10)
        path.write_bytes(original)  # a person put the right bytes back

        fixity_batch_run(batch_size=10)

        assert not fixity_failing_assets().exists()
        assert FixityCheck.objects.filter(ok=False).count() == 1  # the record stays
