"""The demo command: an admin user and the demo photos with their generated copies."""

import io
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from archive.models import Asset, AssetSource, CatalogueEntry, IngestRejection
from dedup.models import DuplicateCandidate

pytestmark = pytest.mark.django_db


def test_demo_setup_creates_admin_and_ingests_the_demo_set(tmp_path):
    out = io.StringIO()

    call_command("demo_setup", images=str(tmp_path / "demo"), stdout=out)

    output = out.getvalue()
    password = output.split("password: ")[1].split()[0]
    assert authenticate(username="admin", password=password).is_superuser
    # Every kind has something to show: 21 distinct byte sequences (originals, pixel
    # twins, derivatives, a rotated copy, look-alikes, a burst and a bracket); the exact
    # re-uploads attach to the assets holding those bytes (25 sources in all).
    assert Asset.objects.count() == 21
    assert AssetSource.objects.count() == 25
    kinds = Counter(DuplicateCandidate.objects.values_list("kind", flat=True))
    assert kinds == {"pixel": 3, "derivative": 3, "similar": 5}
    assert IngestRejection.objects.count() == 0
    assert CatalogueEntry.objects.filter(published=True).count() == 9
    astronaut = Asset.objects.get(original_filename="astronaut.jpg")
    assert sorted(s.collection.name for s in astronaut.sources.all()) == [
        "Building & Safety permits",
        "CARE+ field photos",
        "Photo desk",
    ]
