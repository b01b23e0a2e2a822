"""Every endpoint × every role (as `setup_roles` makes them) and anonymous: expected status.

Each request runs in a transaction rolled back afterwards, so every role meets the same
world and a write allowed to one role cannot hide a refusal of the next.
"""

import io
import re

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from archive.licensing import licence_terms_compare
from dedup.models import DatasetRelease, DuplicateCandidate
from tests.api.conftest import ROLES
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

ARC, LIC, COM, OPS = "Archivist", "Licensing", "Compliance", "Operator"
RECORD_READERS = {ARC, LIC, COM}


def upload_body(world):
    fp = io.BytesIO(image_bytes(make_scene(399)))
    fp.name = "new.jpg"
    return {"file": fp, "collection": "Field photos"}


# (method, path, body, roles allowed, status when allowed); body may be a function of world.
MATRIX = [
    ("get", "/api/v1/assets/", None, {ARC, LIC, COM, OPS}, 200),
    ("post", "/api/v1/assets/", upload_body, {OPS}, 201),
    ("get", "/api/v1/assets/{w.pending.asset_a_id}/", None, {ARC, LIC, COM, OPS}, 200),
    ("get", "/api/v1/assets/{w.replaced.pk}/", None, {ARC, LIC, COM, OPS}, 302),
    ("get", "/api/v1/entries/", None, RECORD_READERS, 200),
    (
        "post",
        "/api/v1/entries/",
        lambda w: {"asset": w.replaced.replaced_by_id, "collection": "Field photos", "title": "T"},
        {ARC},
        201,
    ),
    ("get", "/api/v1/entries/{w.entry.pk}/", None, RECORD_READERS, 200),
    ("patch", "/api/v1/entries/{w.entry.pk}/", {"title": "Renamed"}, {ARC}, 200),
    ("get", "/api/v1/licences/", None, RECORD_READERS, 200),
    ("post", "/api/v1/licences/", lambda w: {"entry": w.entry.pk, "holder": "AP"}, {LIC}, 201),
    ("get", "/api/v1/licences/{w.licence.pk}/", None, RECORD_READERS, 200),
    ("patch", "/api/v1/licences/{w.licence.pk}/", {"territory": "EU"}, {LIC}, 200),
    (
        "get",
        "/api/v1/licences/compare/?assets={w.conflict[0].pk}&assets={w.conflict[1].pk}",
        None,
        RECORD_READERS,
        200,
    ),
    (
        "post",
        "/api/v1/licences/sign-off/",
        lambda w: {
            "assets": [a.pk for a in w.conflict],
            # The terms as the comparison shows them (a sign-off names what was shown).
            "terms_fingerprint": licence_terms_compare(assets=w.conflict).terms_fingerprint,
            "reason": "same agreement",
        },
        {LIC},
        201,
    ),
    ("get", "/api/v1/holds/", None, RECORD_READERS, 200),
    (
        "post",
        "/api/v1/holds/",
        lambda w: {"matter_reference": "M-8", "reason": "r", "assets": [w.loose.pk]},
        {COM},
        201,
    ),
    ("get", "/api/v1/holds/{w.hold.pk}/", None, RECORD_READERS, 200),
    ("post", "/api/v1/holds/{w.hold.pk}/release/", {"reason": "settled"}, {COM}, 200),
    ("get", "/api/v1/intake/", None, {ARC, OPS}, 200),
    ("get", "/api/v1/intake/{w.intake.pk}/", None, {ARC, OPS}, 200),
    (
        "post",
        "/api/v1/intake/{w.intake.pk}/decision/",
        {"choice": "store", "reason": "a different print"},
        {ARC},
        200,
    ),
    ("get", "/api/v1/audit/events/", None, {COM}, 200),
    ("get", "/api/v1/audit/export/?format=jsonl", None, {COM}, 200),
    ("get", "/api/v1/audit/export/manifest/", None, {COM}, 200),
    ("get", "/api/v1/audit/verify/", None, {COM}, 200),
    ("get", "/api/v1/candidates/", None, RECORD_READERS, 200),
    ("get", "/api/v1/candidates/{w.pending.pk}/", None, RECORD_READERS, 200),
    (
        "post",
        "/api/v1/candidates/{w.pending.pk}/decision/",
        {"decision": "not_duplicate"},
        {ARC},
        200,
    ),
    (
        "post",
        "/api/v1/candidates/bulk-confirm/",
        lambda w: {"candidates": [w.pixel.pk]},
        {ARC},
        200,
    ),
    ("get", "/api/v1/candidates/groups/", None, RECORD_READERS, 200),
    (
        "post",
        "/api/v1/candidates/groups/confirm/",
        lambda w: {
            "candidates": list(
                DuplicateCandidate.objects.filter(asset_a__in=w.group).values_list("pk", flat=True)
            ),
            "canonical": w.group[0].pk,
        },
        {ARC},
        200,
    ),
    ("get", "/api/v1/consolidations/", None, {ARC, COM}, 200),
    ("get", "/api/v1/consolidations/{w.consolidation.pk}/", None, {ARC, COM}, 200),
    ("post", "/api/v1/consolidations/{w.consolidation.pk}/undo/", {}, {ARC}, 200),
    ("get", "/api/v1/quarantine/", None, {ARC, COM, OPS}, 200),
    ("post", "/api/v1/quarantine/{w.quarantine.pk}/restore/", {}, {ARC}, 200),
    ("get", "/api/v1/dispositions/", None, {ARC, COM, OPS}, 200),
    (
        "post",
        "/api/v1/dispositions/",
        lambda w: {"assets": [w.loose.pk], "reason": "superseded"},
        {ARC},
        201,
    ),
    ("get", "/api/v1/dispositions/{w.to_approve.pk}/", None, {ARC, COM, OPS}, 200),
    ("post", "/api/v1/dispositions/{w.to_approve.pk}/approve/", {}, {COM}, 200),
    ("post", "/api/v1/dispositions/{w.to_execute.pk}/execute/", {}, {COM}, 200),
    ("get", "/api/v1/reports/duplication/", None, RECORD_READERS, 200),
    ("get", "/api/v1/reports/storage/", None, {COM, OPS}, 200),
    ("get", "/api/v1/releases/", None, {ARC, COM}, 200),
    ("post", "/api/v1/releases/", {"collections": ["Field photos"]}, {ARC}, 201),
    ("get", "/api/v1/releases/{w.release.pk}/", None, {ARC, COM}, 200),
]
PUBLIC = [("get", "/api/v1/schema/"), ("get", "/api/v1/docs/")]


@pytest.fixture
def world(world):
    """The shared world and one recorded dataset release."""
    world.release = DatasetRelease.objects.create(
        dataset="d", version=1, released_at=timezone.now(), actor_name="system", output="/none"
    )
    return world


def send(client, method: str, path: str, body) -> int:
    """Make the request in a transaction that is rolled back; return the status."""
    with transaction.atomic():
        if method == "get":
            response = client.get(path)
        else:
            fmt = "multipart" if path == "/api/v1/assets/" else "json"
            response = getattr(client, method)(path, body, format=fmt)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    return response.status_code


def test_every_endpoint_answers_each_role_as_its_permissions_say(world, clients):
    """0 unauthorised successes: refused roles get 403, anonymous 401, allowed ones succeed."""
    everyone = {**clients, "anonymous": APIClient()}
    mismatches, unauthorised, checked = [], [], 0
    for method, template, body, allowed, success in MATRIX:
        path = template.format(w=world)
        for who, client in everyone.items():
            # Built per request: an upload's file can be read once only.
            payload = body(world) if callable(body) else body
            expected = 401 if who == "anonymous" else success if who in allowed else 403
            got = send(client, method, path, payload if method != "get" else None)
            checked += 1
            if got != expected:
                mismatches.append(f"{method.upper()} {path} as {who}: {got}, expected {expected}")
            if got < 400 and who not in allowed:
                unauthorised.append(f"{method.upper()} {path} as {who}: {got}")

    assert unauthorised == []
    assert mismatches == []
    assert checked == len(MATRIX) * (len(ROLES) + 1)


def test_the_schema_and_docs_are_public(clients):
    for method, path in PUBLIC:
        assert getattr(APIClient(), method)(path).status_code == 200


def test_every_api_route_is_in_the_matrix():
    """A new endpoint without a row here fails this test."""
    from config.api_urls import urlpatterns

    def flat(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):  # an include()
                yield from flat(pattern.url_patterns, prefix + str(pattern.pattern))
            elif pattern.name != "not-found":
                yield f"/api/v1/{prefix}{pattern.pattern}"

    routes = set(flat(urlpatterns))
    covered = {re.sub(r"\{w\.[^}]+\}", "<int:pk>", row[1].split("?")[0]) for row in MATRIX}
    covered |= {path for _, path in PUBLIC}
    # Campaigns, options reports and certificates need objects this world does not build;
    # their role table is tests/security/test_privileges.py's API table (every route,
    # every role) and tests/retention/test_campaign*.py exercise their answers.
    covered |= {
        "/api/v1/campaigns/",
        "/api/v1/campaigns/<int:pk>/progress/",
        "/api/v1/campaigns/<int:pk>/options/",
        "/api/v1/collections/<int:pk>/options/",
        "/api/v1/certificates/<int:pk>/",
    }

    assert routes - covered == set()
