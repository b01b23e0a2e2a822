"""The demo command: an admin user and the demo photos with their generated copies."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from archive.models import Asset, AssetSource, CatalogueEntry, IngestRejection

pytestmark = pytest.mark.django_db


def test_demo_setup_creates_admin_and_ingests_the_demo_set(tmp_path):
    out = io.StringIO()

    call_command("demo_setup", images=str(tmp_path / "demo"), stdout=out)

    output = out.getvalue()
    password = output.split("password: ")[1].split()[0]
    assert authenticate(username="admin", password=password).is_superuser
    # 9 originals + 4 new derivatives/look-alikes; 3 exact copies attach to held assets.
    assert Asset.objects.count() == 13
    assert AssetSource.objects.count() == 16
    assert IngestRejection.objects.count() == 0
    assert CatalogueEntry.objects.filter(published=True).count() == 9
    astronaut = Asset.objects.get(original_filename="astronaut.jpg")
    assert sorted(s.collection.name for s in astronaut.sources.all()) == [
        "CARE+ field photos",
        "Photo desk",
    ]
