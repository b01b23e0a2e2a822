"""Deciding candidate pairs through the API: the admin's rules, conflicts, bulk, undo."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from archive.audit import audit_verify
from archive.models import Asset, AuditEvent
from archive.services import collection_get_or_create
from dedup.models import Consolidation, DuplicateCandidate
from tests.api.conftest import (
    candidate_of,
    run_together,
    token_client,
    upload_group,
    upload_pair,
)
from tests.conftest import image_bytes, make_scene


def decide(client, candidate, decision, **fields):
    body = {"decision": decision, **fields}
    return client.post(f"/api/v1/candidates/{candidate.pk}/decision/", body, format="json")


@pytest.fixture
def pair(db):
    collection = collection_get_or_create(name="Field photos")
    a, b = upload_pair(collection, 601)
    return candidate_of(a, b)


@pytest.mark.django_db
class TestDecision:
    def test_confirming_consolidates_into_the_chosen_canonical(self, clients, pair):
        response = decide(
            clients["Archivist"], pair, "confirm", canonical=pair.asset_a_id, reason="same"
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["candidate"]["status"] == "confirmed"
        consolidation = Consolidation.objects.get(pk=body["consolidation"])
        assert consolidation.canonical_id == pair.asset_a_id
        replaced = Asset.objects.get(pk=pair.asset_b_id)
        assert (replaced.replaced_by_id, replaced.state) == (pair.asset_a_id, "quarantined")

    def test_the_replaced_asset_answers_with_its_canonical(self, clients, pair):
        decide(clients["Archivist"], pair, "confirm", canonical=pair.asset_a_id)
        client = clients["Operator"]

        redirect = client.get(f"/api/v1/assets/{pair.asset_b_id}/")
        itself = client.get(f"/api/v1/assets/{pair.asset_b_id}/?replaced=true")
        canonical = client.get(f"/api/v1/assets/{pair.asset_a_id}/")

        assert redirect.status_code == 302
        assert redirect["Location"].endswith(f"/api/v1/assets/{pair.asset_a_id}/")
        assert redirect.json()["replaced_by"] == pair.asset_a_id
        assert (itself.status_code, itself.json()["id"]) == (200, pair.asset_b_id)
        assert canonical.json()["replaced_by"] is None

    def test_a_pair_decided_by_someone_else_is_a_conflict(self, clients, members, pair):
        other = get_user_model().objects.create_user("second")
        other.groups.add(Group.objects.get(name="Archivist"))
        decide(clients["Archivist"], pair, "not_duplicate")

        late = decide(token_client(other), pair, "defer")

        assert late.status_code == 409
        assert late.json()["error"]["code"] == "conflict"
        assert "already decided" in late.json()["error"]["message"]
        assert "archivist" in late.json()["error"]["message"]

    @pytest.mark.parametrize(
        ("fields", "status", "code"),
        [
            # Outside the schema (not one of the decisions): 400.
            ({"decision": "maybe"}, 400, "invalid"),
            ({"decision": "confirm", "canonical": "7"}, 400, "invalid"),
            # Well formed, but no such asset: the schema cannot say which ids exist.
            ({"decision": "confirm", "canonical": 10**9}, 409, "unknown_reference"),
        ],
    )
    def test_bad_decisions_are_refused(self, clients, pair, fields, status, code):
        response = clients["Archivist"].post(
            f"/api/v1/candidates/{pair.pk}/decision/", fields, format="json"
        )

        assert response.status_code == status
        assert response.json()["error"]["code"] == code
        assert DuplicateCandidate.objects.get(pk=pair.pk).status == "pending"

    def test_confirming_without_a_canonical_of_the_pair_is_refused(self, clients, pair):
        response = decide(clients["Archivist"], pair, "confirm")

        # Schema-valid (the schema cannot tie `canonical` to `confirm`): a rule's 409.
        assert response.status_code == 409
        assert "canonical" in response.json()["error"]["message"]

    def test_undo_puts_the_pair_back(self, clients, pair):
        consolidation = decide(
            clients["Archivist"], pair, "confirm", canonical=pair.asset_a_id
        ).json()["consolidation"]

        undone = clients["Archivist"].post(
            f"/api/v1/consolidations/{consolidation}/undo/", {"reason": "wrong"}, format="json"
        )
        again = clients["Archivist"].post(f"/api/v1/consolidations/{consolidation}/undo/")

        assert undone.status_code == 200 and undone.json()["undone_by"] == "archivist"
        assert again.status_code == 409
        assert DuplicateCandidate.objects.get(pk=pair.pk).status == "pending"
        assert Asset.objects.get(pk=pair.asset_b_id).replaced_by_id is None


@pytest.mark.django_db
def test_bulk_confirm_takes_exact_and_pixel_pairs_and_reports_each(clients):
    collection = collection_get_or_create(name="Field photos")
    scene = make_scene(602)
    png, bmp = upload_pair(
        collection, 602, first=image_bytes(scene, "PNG"), second=image_bytes(scene, "BMP")
    )
    big, small = upload_pair(collection, 603)
    pixel, derivative = candidate_of(png, bmp), candidate_of(big, small)

    response = clients["Archivist"].post(
        "/api/v1/candidates/bulk-confirm/",
        {"candidates": [pixel.pk, derivative.pk]},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["confirmed"], body["refused"]) == (1, 1)
    results = {r["candidate"]: r for r in body["results"]}
    assert results[pixel.pk]["confirmed"] is True
    assert results[derivative.pk]["confirmed"] is False
    assert "never in bulk" in results[derivative.pk]["message"]
    assert DuplicateCandidate.objects.get(pk=derivative.pk).status == "pending"


@pytest.mark.django_db
def test_list_filters_by_kind_status_and_asset(clients, pair):
    client = clients["Licensing"]

    by_asset = client.get(f"/api/v1/candidates/?asset={pair.asset_b_id}").json()
    by_kind = client.get("/api/v1/candidates/?kind=similar").json()
    wrong = client.get("/api/v1/candidates/?status=maybe")

    assert [c["id"] for c in by_asset["results"]] == [pair.pk]
    assert by_kind["count"] == 0
    assert wrong.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_curators_deciding_one_pair_at_once_get_one_decision_and_a_conflict(
    sqlite_waits_for_locks, members, clients
):
    collection = collection_get_or_create(name="Field photos")
    a, b = upload_pair(collection, 604)
    candidate = candidate_of(a, b)
    second = get_user_model().objects.create_user("second")
    second.groups.add(Group.objects.get(name="Archivist"))
    first_client, second_client = clients["Archivist"], token_client(second)

    answers = run_together(
        lambda: decide(first_client, candidate, "confirm", canonical=a.pk),
        lambda: decide(second_client, candidate, "not_duplicate"),
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 409], [answer.json() for answer in answers]
    winner = next(answer for answer in answers if answer.status_code == 200)
    loser = next(answer for answer in answers if answer.status_code == 409)
    candidate.refresh_from_db()
    assert candidate.status == winner.json()["candidate"]["status"]
    assert "already decided" in loser.json()["error"]["message"]
    decisions = AuditEvent.objects.filter(
        verb__startswith="candidate.", object_id=str(candidate.pk)
    ).exclude(verb="candidate.flagged")
    assert decisions.count() == 1
    assert Consolidation.objects.count() == (1 if candidate.status == "confirmed" else 0)
    assert audit_verify().ok is True


@pytest.mark.django_db
def test_a_group_of_copies_is_listed_with_a_suggestion_and_confirmed_at_once(clients):
    collection = collection_get_or_create(name="Field photos")
    big, mid, small = upload_group(collection, 605)
    client = clients["Archivist"]

    listed = client.get("/api/v1/candidates/groups/").json()
    group = listed["results"][0]
    confirmed = client.post(
        "/api/v1/candidates/groups/confirm/",
        {"candidates": group["candidates"], "canonical": group["suggested_canonical"]},
        format="json",
    )
    after = client.get("/api/v1/candidates/groups/").json()

    assert listed["count"] == 1
    assert group["assets"] == [big.pk, mid.pk, small.pk]
    assert group["suggested_canonical"] == big.pk
    assert confirmed.status_code == 200, confirmed.json()
    assert sorted(confirmed.json()["replaced"]) == [mid.pk, small.pk]
    assert after["count"] == 0
    assert client.get("/api/v1/candidates/groups/?min_size=1").status_code == 400
