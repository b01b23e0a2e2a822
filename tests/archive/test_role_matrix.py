"""Each role against each sensitive admin page and action: allowed exactly where its job is."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from archive.holds import legal_hold_place
from archive.licensing import licence_terms_compare
from archive.models import CatalogueEntry, LegalHold, Licence, LicenceSignOff
from archive.services import record_save
from tests.archive.helpers import ingest_picture
from tests.archive.people import role_member

pytestmark = pytest.mark.django_db

# Action or page -> the roles that may use it; every other role must be refused.
MATRIX = {
    "see legal holds": {"Archivist", "Licensing", "Compliance"},
    "place a legal hold": {"Compliance"},
    "release a legal hold": {"Compliance"},
    "release holds in bulk": {"Compliance"},
    "read the audit trail": {"Compliance"},
    "export the audit trail": {"Compliance"},
    "compare licences": {"Archivist", "Licensing", "Compliance"},
    "sign off a licence conflict": {"Licensing"},
    "add a licence": {"Licensing"},
    "edit a catalogue entry": {"Archivist"},
    "add a collection": {"Operator"},
    # Schedules come only from setup_schedules: nobody writes one in the admin.
    "schedule background work": set(),
    "manage users": set(),
    "manage groups": set(),
    "delete an asset": set(),
}
ROLES = ["Archivist", "Licensing", "Compliance", "Operator"]


@pytest.fixture
def world(collection):
    """Two assets with differing licences, a plain entry, and an active hold."""
    a = ingest_picture(collection=collection, colour="teal").asset
    b = ingest_picture(collection=collection, colour="navy").asset
    plain = ingest_picture(collection=collection, colour="olive").entry
    record_save(obj=Licence(entry=a.entries.get(), holder="Staff"), actor=None)
    record_save(obj=Licence(entry=b.entries.get(), holder="AP"), actor=None)
    compliance = role_member("Compliance", "placer")
    hold = legal_hold_place(matter_reference="M-1", reason="r", assets=[a], actor=compliance)
    return {"assets": [a, b], "entry": plain, "hold": hold}


def _ok(response, *, expect=200) -> bool:
    return response.status_code == expect


def attempts(client, world) -> dict[str, bool]:
    """Try everything; True where the role got through (and, for writes, the write happened)."""
    hold, entry = world["hold"], world["entry"]
    ids = ",".join(str(a.pk) for a in world["assets"])
    compare = f"{reverse('admin:archive_asset_licences')}?ids={ids}"
    holds = reverse("admin:archive_legalhold_changelist")
    bulk = client.post(holds, {"action": "release_holds", ACTION_CHECKBOX_NAME: [hold.pk]})
    entry_form = {
        "collection": entry.collection_id,
        "title": "Renamed",
        "subjects": "[]",
        "licences-TOTAL_FORMS": 0,
        "licences-INITIAL_FORMS": 0,
    }
    client.post(reverse("admin:archive_catalogueentry_change", args=[entry.pk]), entry_form)
    # The sign-off names the terms it was shown (ignored where the form does not ask).
    shown = getattr(licence_terms_compare(assets=world["assets"]), "terms_fingerprint", "")
    client.post(compare, {"reason": "agreed", "terms_fingerprint": shown})
    return {
        "see legal holds": _ok(client.get(holds)),
        "place a legal hold": _ok(client.get(reverse("admin:archive_legalhold_add"))),
        "release a legal hold": _ok(
            client.get(reverse("admin:archive_legalhold_release", args=[hold.pk]))
        ),
        "release holds in bulk": _ok(bulk) and "Release legal holds" in bulk.content.decode(),
        "read the audit trail": _ok(client.get(reverse("admin:archive_auditevent_changelist"))),
        "export the audit trail": _ok(client.get(reverse("admin:archive_auditevent_export"))),
        "compare licences": _ok(client.get(compare)),
        "sign off a licence conflict": LicenceSignOff.objects.exists(),
        "add a licence": _ok(client.get(reverse("admin:archive_licence_add"))),
        "edit a catalogue entry": CatalogueEntry.objects.get(pk=entry.pk).title == "Renamed",
        "add a collection": _ok(client.get(reverse("admin:archive_collection_add"))),
        "schedule background work": _ok(client.get(reverse("admin:django_q_schedule_add"))),
        "manage users": _ok(client.get(reverse("admin:auth_user_changelist"))),
        "manage groups": _ok(client.get(reverse("admin:auth_group_changelist"))),
        "delete an asset": _ok(
            client.get(reverse("admin:archive_asset_delete", args=[world["assets"][1].pk]))
        ),
    }


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, world, role):
    client.force_login(role_member(role))

    allowed = attempts(client, world)

    assert allowed == {action: role in roles for action, roles in MATRIX.items()}
    assert LegalHold.objects.get(pk=world["hold"].pk).is_active is True


def test_superusers_pass_everywhere_but_the_forbidden_writes(client, world, staff):
    client.force_login(staff)

    allowed = attempts(client, world)

    assert {action for action, ok in allowed.items() if not ok} == {
        "delete an asset",
        "schedule background work",
    }
