"""A look-alike pair is confirmed through the API only with an explicit override and a
reason, audited as such; without it the answer says what is needed."""

import pytest
from PIL import Image

from archive.models import AuditEvent
from dedup.models import DuplicateCandidate
from tests.api.conftest import token_client
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


def _camera(make: str, model: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    return exif


def test_a_look_alike_needs_an_override_with_a_reason(members, collection):
    scene = make_scene(930)
    ingest_bytes(
        image_bytes(scene, quality=92, exif=_camera("Maker", "Survey camera")),
        collection=collection,
        path="a.jpg",
    )
    ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=70, exif=_camera("Phone", "X")),
        collection=collection,
        path="b.jpg",
    )
    pair = DuplicateCandidate.objects.get()
    assert pair.kind == "similar"
    client = token_client(members["Archivist"])
    url = f"/api/v1/candidates/{pair.pk}/decision/"

    plain = client.post(url, {"decision": "confirm", "canonical": pair.asset_a_id}, format="json")
    assert plain.status_code == 409, plain.json()
    assert plain.json()["error"]["code"] == "override_required"

    done = client.post(
        url,
        {
            "decision": "confirm",
            "canonical": pair.asset_a_id,
            "override": True,
            "reason": "the same survey photograph, re-shot for the permit file",
        },
        format="json",
    )
    assert done.status_code == 200, done.json()
    assert done.json()["consolidation"] is not None
    assert AuditEvent.objects.filter(verb="candidate.override_confirmed").count() == 1
