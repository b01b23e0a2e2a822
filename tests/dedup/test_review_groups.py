"""Groups: transitive matches through exact/pixel/derivative pairs, one decision each."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from archive.errors import ArchiveError
from archive.models import Asset
from dedup.consolidation import consolidation_undo
from dedup.models import DuplicateCandidate
from dedup.review import group_confirm
from dedup.selectors import review_groups
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def copies(collection):
    scene = make_scene(501)
    sizes = [(320, 240), (240, 180), (160, 120)]
    assets = [
        ingest_bytes(
            image_bytes(scene.resize(size), quality=90),
            collection=collection,
            path=f"copy-{size[0]}.jpg",
        ).asset
        for size in sizes
    ]
    DuplicateCandidate.objects.update(kind="derivative")
    return assets


@pytest.fixture
def curator(django_user_model):
    user = django_user_model.objects.create_user("curator", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["review_duplicates", "view_duplicatecandidate"])
    )
    return django_user_model.objects.get(pk=user.pk)


def test_derivative_pairs_form_one_group(copies):
    assert DuplicateCandidate.objects.count() == 3

    (group,) = review_groups()

    assert group["assets"] == sorted(a.pk for a in copies)
    assert len(group["candidates"]) == 3


def test_look_alike_edges_never_join_a_group(copies):
    a, b, c = copies
    DuplicateCandidate.objects.exclude(asset_a=a, asset_b=b).update(kind="similar")

    assert review_groups() == []
    assert review_groups(min_size=2)[0]["assets"] == [a.pk, b.pk]


def test_confirming_a_group_keeps_one_copy_and_undo_restores_all(copies, curator):
    big, mid, small = copies

    consolidation = group_confirm(
        candidates=DuplicateCandidate.objects.all(), canonical=big, actor=curator
    )

    states = dict(Asset.objects.values_list("pk", "state"))
    assert states == {big.pk: "active", mid.pk: "quarantined", small.pk: "quarantined"}
    assert set(DuplicateCandidate.objects.values_list("status", flat=True)) == {"confirmed"}
    assert big.entries.count() == 3

    consolidation_undo(consolidation=consolidation, actor=curator)

    assert set(Asset.objects.values_list("state", flat=True)) == {"active"}
    assert set(DuplicateCandidate.objects.values_list("status", flat=True)) == {"pending"}


def test_a_group_with_a_look_alike_pair_is_refused(copies, curator):
    DuplicateCandidate.objects.filter(pk=DuplicateCandidate.objects.first().pk).update(
        kind="similar"
    )

    with pytest.raises(ArchiveError, match="never join a group"):
        group_confirm(
            candidates=DuplicateCandidate.objects.all(), canonical=copies[0], actor=curator
        )


def test_groups_page_confirms_with_the_chosen_canonical(client, copies, curator):
    client.force_login(curator)
    url = reverse("admin:dedup_duplicatecandidate_groups")

    page = client.get(url).content.decode()
    response = client.post(
        url,
        {
            "candidates": list(DuplicateCandidate.objects.values_list("pk", flat=True)),
            "canonical": copies[0].pk,
        },
    )

    assert "1 group of three or more copies" in page
    assert f'value="{copies[0].pk}" checked' in page
    assert response.status_code == 302
    assert Asset.objects.filter(replaced_by=copies[0]).count() == 2
