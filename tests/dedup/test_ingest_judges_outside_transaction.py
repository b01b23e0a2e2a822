"""The pre-ingest pair judgement decodes files only after the asset's transaction committed,
with no transaction (and so no lock of the audit chain head) open."""

import pytest
from django.db import connection

from archive import hooks
from dedup import services
from dedup.models import DuplicateCandidate
from dedup.signals import asset_analysed_fingerprint, asset_stored_check_near
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene


def test_dedup_plugs_into_the_archive_through_its_hooks():
    assert asset_analysed_fingerprint in list(hooks.asset_analysers)
    assert asset_stored_check_near in list(hooks.asset_stored)


@pytest.mark.django_db(transaction=True)
def test_the_judgement_runs_with_no_transaction_open(collection, monkeypatch):
    judge, seen = services.pair_judge, []

    def judge_watched(**kwargs):
        seen.append(connection.in_atomic_block)
        return judge(**kwargs)

    monkeypatch.setattr(services, "pair_judge", judge_watched)
    scene = make_scene(41)
    first = ingest_bytes(image_bytes(scene), collection=collection, path="a.jpg")

    second = ingest_bytes(
        image_bytes(scene.resize((160, 120))), collection=collection, path="b.jpg"
    )

    assert seen == [False]
    assert second.findings["possible_duplicates"] == [first.asset.pk]
    assert DuplicateCandidate.objects.get().found_by == "ingest"
