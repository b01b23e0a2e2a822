"""The intake gate through the API: an upload held at the gate answers 202 with the item;
curators list and decide; the decision's errors have the documented statuses."""

import io

import pytest

from archive.models import Asset, Collection, IntakeItem
from archive.services import collection_get_or_create
from tests.api.conftest import token_client
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


def _upload(client, data, name):
    fp = io.BytesIO(data)
    fp.name = name
    return client.post("/api/v1/assets/", {"file": fp, "collection": "Gated"}, format="multipart")


@pytest.fixture
def held(members):
    gated = collection_get_or_create(name="Gated")
    gated.intake_policy = Collection.IntakePolicy.HOLD
    gated.save()
    operator = token_client(members["Operator"])
    scene = make_scene(71)
    first = _upload(operator, image_bytes(scene, quality=92), "a.jpg")
    assert first.status_code == 201, first.json()
    second = _upload(operator, image_bytes(scene.resize((160, 120)), quality=60), "a-small.jpg")
    return first.json()["asset"]["id"], second


def test_a_held_upload_answers_202_with_the_item_and_what_it_looks_like(held):
    original, response = held

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "held"
    assert body["matches"][0]["asset"] == original
    assert body["matches"][0]["kind"] == "derivative"
    assert IntakeItem.objects.get(pk=body["intake_item"]).status == "waiting"


def test_curators_list_and_decide_and_operators_may_not_decide(held, members):
    original, response = held
    item = response.json()["intake_item"]
    archivist = token_client(members["Archivist"])

    listed = archivist.get("/api/v1/intake/?status=waiting")
    assert [row["id"] for row in listed.json()["results"]] == [item]

    refused = token_client(members["Operator"]).post(
        f"/api/v1/intake/{item}/decision/", {"choice": "store", "reason": "x"}, format="json"
    )
    assert refused.status_code == 403
    wrong = archivist.post(
        f"/api/v1/intake/{item}/decision/",
        {"choice": "add_record", "reason": "x", "target": original + 999},
        format="json",
    )
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] in {"invalid", "unknown_reference"}

    done = archivist.post(
        f"/api/v1/intake/{item}/decision/",
        {"choice": "add_record", "reason": "the same photograph"},
        format="json",
    )
    assert done.status_code == 200, done.json()
    assert done.json()["asset"] == original
    assert done.json()["item"]["status"] == "record_added"
    assert Asset.objects.count() == 1

    again = archivist.post(
        f"/api/v1/intake/{item}/decision/", {"choice": "store", "reason": "x"}, format="json"
    )
    assert again.status_code == 409
    assert "already decided" in again.json()["error"]["message"]
