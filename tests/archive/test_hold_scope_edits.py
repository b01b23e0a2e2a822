"""Records under an active hold cannot change: not their scope, not their evidence.

Every column of a catalogue entry or licence is either scope (which asset, collection or
entry it belongs to: moving it out of a held collection would lift the hold) or evidence
(what the record said when the matter opened). While a hold covers the asset a record
describes (directly, through the record, its collection or a twin), `record_save` refuses
every change, and the refusal is audited even though the change's transaction rolls back.
The same holds for every caller: the service, the API (409 with the error body) and the
admin (a message, never a 500).
"""

import datetime as dt
import io

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from archive.errors import ArchiveError
from archive.holds import legal_hold_place, legal_hold_release
from archive.models import AuditEvent, CatalogueEntry, Licence
from archive.selectors import asset_is_frozen
from archive.services import collection_get_or_create, record_save
from dedup.consolidation import consolidation_execute
from tests.api.conftest import token_client
from tests.archive.helpers import ingest_bytes
from tests.archive.people import compliance_officer, role_member
from tests.conftest import make_scene

pytestmark = pytest.mark.django_db


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


class Archive:
    """Two held-collection candidates, a picture and its pixel twin (PNG and BMP)."""

    def __init__(self):
        self.officer = compliance_officer()
        self.archivist = role_member("Archivist")
        self.licensing = role_member("Licensing")
        self.photos = collection_get_or_create(name="Field photos")
        self.permits = collection_get_or_create(name="Permits")
        scene = make_scene(11, size=(64, 48))
        self.asset = ingest_bytes(png(scene), collection=self.photos, path="a.png").asset
        self.twin = ingest_bytes(png(scene, "BMP"), collection=self.permits, path="a.bmp").asset
        self.other = ingest_bytes(
            png(make_scene(12, size=(64, 48))), collection=self.permits, path="b.png"
        ).asset
        self.entry = self.asset.entries.get()
        self.other_entry = self.other.entries.get()
        self.licence = record_save(
            obj=Licence(entry=self.entry, holder="Staff", licence_type="staff"), actor=None
        )

    def hold(self, how: str):
        scope = {
            "asset": {"assets": [self.asset]},
            "entry": {"entries": [self.entry]},
            "collection": {"collections": [self.photos]},
            "twin": {"assets": [self.twin]},
        }[how]
        return legal_hold_place(matter_reference="M-1", reason="r", actor=self.officer, **scope)


@pytest.fixture
def archive(db) -> Archive:
    return Archive()


ENTRY_EDITS = st.one_of(
    st.tuples(st.just("title"), st.text("abc xyz", min_size=1, max_size=20)),
    st.tuples(st.just("description"), st.text("abc", max_size=20)),
    st.tuples(st.just("accession_number"), st.text("0123456789", min_size=1, max_size=8)),
    st.tuples(st.just("creator"), st.text("abc", min_size=1, max_size=10)),
    st.tuples(st.just("date_start"), st.dates(dt.date(1850, 1, 1), dt.date(1999, 1, 1))),
    st.tuples(st.just("subjects"), st.lists(st.text("abc", min_size=1, max_size=5), max_size=3)),
    st.tuples(st.just("collection"), st.just("permits")),
)
LICENCE_EDITS = st.one_of(
    st.tuples(st.just("holder"), st.text("abc", min_size=1, max_size=10)),
    st.tuples(st.just("licence_type"), st.sampled_from(["agency", "cc_by", "cc0"])),
    st.tuples(st.just("territory"), st.text("abc", min_size=1, max_size=10)),
    st.tuples(st.just("restrictions"), st.text("abc", min_size=1, max_size=10)),
    st.tuples(st.just("valid_until"), st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1))),
    st.tuples(st.just("entry"), st.just("other_entry")),
)
HOLDS = st.sampled_from(["asset", "entry", "collection", "twin"])


def resolve(archive: Archive, value):
    if value == "permits":
        return archive.permits
    return archive.other_entry if value == "other_entry" else value


def row(record) -> dict:
    return type(record).objects.values().get(pk=record.pk)


class TestRecordSaveUnderHold:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        edit=st.one_of(
            st.tuples(st.just("entry"), ENTRY_EDITS), st.tuples(st.just("licence"), LICENCE_EDITS)
        ),
        how=HOLDS,
    )
    def test_any_change_to_a_held_record_is_refused_and_audited(self, archive, edit, how):
        which, (field, value) = edit
        record = archive.entry if which == "entry" else archive.licence
        current = getattr(record, field)
        assume(value != current and resolve(archive, value) != current)
        with transaction.atomic():
            hold = archive.hold(how)
            before = row(record)

            with pytest.raises(ArchiveError) as refused:
                record_save(
                    obj=record,
                    changes={field: resolve(archive, value)},
                    actor=archive.archivist,
                    reason="tidy up",
                )

            assert refused.value.code == "legal_hold"
            assert "M-1" in refused.value.message
            assert row(record) == before
            event = AuditEvent.objects.filter(verb="legalhold.refused").latest("sequence")
            assert (event.object_type, event.object_id) == (
                type(record)._meta.label_lower,
                str(record.pk),
            )
            assert event.after["holds"] == [{"id": hold.pk, "matter_reference": "M-1"}]
            assert event.after["fields"] == [field]
            transaction.set_rollback(True)

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(edit=ENTRY_EDITS, how=HOLDS)
    def test_once_released_the_same_change_goes_through(self, archive, edit, how):
        field, value = edit
        assume(resolve(archive, value) != getattr(archive.entry, field))
        with transaction.atomic():
            hold = archive.hold(how)
            legal_hold_release(hold=hold, reason="matter closed", actor=archive.officer)

            saved = record_save(
                obj=archive.entry,
                changes={field: resolve(archive, value)},
                actor=archive.archivist,
            )

            assert getattr(saved, field) == resolve(archive, value)
            transaction.set_rollback(True)

    def test_records_of_other_assets_stay_editable(self, archive):
        archive.hold("asset")

        record_save(obj=archive.other_entry, changes={"title": "Kiosk"}, actor=archive.archivist)

        assert CatalogueEntry.objects.get(pk=archive.other_entry.pk).title == "Kiosk"

    def test_an_unchanged_value_is_no_change_and_no_refusal(self, archive):
        archive.hold("asset")

        record_save(obj=archive.entry, changes={"title": archive.entry.title}, actor=None)

        assert not AuditEvent.objects.filter(verb="legalhold.refused").exists()

    def test_new_records_may_join_a_held_asset(self, archive):
        """Adding a record widens what is preserved; nothing held is lost or altered."""
        archive.hold("collection")

        added = record_save(obj=Licence(entry=archive.entry, holder="AP"), actor=None)

        assert added.pk is not None


class TestLiftingAHoldThroughAnEdit:
    """The attack of issue 11: move the entry out of the held collection, then consolidate."""

    def test_the_api_refuses_with_409_and_the_hold_still_stands(self, archive, staff):
        archive.hold("collection")
        client = token_client(archive.archivist)

        response = client.patch(
            f"/api/v1/entries/{archive.entry.pk}/", {"collection": "Permits"}, format="json"
        )

        assert response.status_code == 409, response.content
        assert response.json()["error"]["code"] == "legal_hold"
        assert CatalogueEntry.objects.get(pk=archive.entry.pk).collection == archive.photos
        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1
        assert asset_is_frozen(asset=archive.asset) is True
        # Same terms on both sides: only the hold can stand in the way.
        record_save(
            obj=Licence(entry=archive.other_entry, holder="Staff", licence_type="staff"),
            actor=None,
        )
        with pytest.raises(ArchiveError, match="legal hold"):
            consolidation_execute(
                canonical=archive.other, replaced=[archive.asset], candidates=[], actor=staff
            )

    def test_a_licence_patch_is_refused_too(self, archive):
        archive.hold("twin")
        client = token_client(archive.licensing)

        response = client.patch(
            f"/api/v1/licences/{archive.licence.pk}/", {"holder": "Nobody"}, format="json"
        )

        assert response.status_code == 409, response.content
        assert Licence.objects.get(pk=archive.licence.pk).holder == "Staff"

    def test_the_admin_refuses_with_a_message_not_an_error_page(self, client, archive):
        archive.hold("collection")
        client.force_login(archive.archivist)
        url = reverse("admin:archive_catalogueentry_change", args=[archive.entry.pk])

        response = client.post(
            url,
            {
                "collection": archive.permits.pk,
                "title": archive.entry.title,
                "description": "",
                "accession_number": "",
                "creator": "",
                "date_start": "",
                "date_end": "",
                "subjects": "[]",
                "licences-TOTAL_FORMS": "1",
                "licences-INITIAL_FORMS": "1",
                "licences-MIN_NUM_FORMS": "0",
                "licences-MAX_NUM_FORMS": "1000",
                "licences-0-id": archive.licence.pk,
                "licences-0-entry": archive.entry.pk,
                "licences-0-holder": "Staff",
                "licences-0-licence_type": "staff",
                "_save": "Save",
            },
            follow=True,
        )

        assert response.status_code == 200
        assert "legal hold" in response.content.decode()
        assert CatalogueEntry.objects.get(pk=archive.entry.pk).collection == archive.photos
        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1
