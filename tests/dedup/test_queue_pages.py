"""The review queue reads a page's ids first and then only those rows: every page, filtered or
not, must hold exactly the pairs a plain OFFSET over the whole ordered queue would, in order."""

import pytest
from django.core.paginator import Paginator
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.services import collection_get_or_create
from dedup.admin import DuplicateCandidateAdmin, QueuePaginator
from dedup.models import DuplicateCandidate
from dedup.selectors import QUEUE_ORDER
from tests.dedup.helpers import synthetic_fingerprints

pytestmark = pytest.mark.django_db

ASSETS = 12
QUEUE = "/admin/dedup/duplicatecandidate/"

pair = st.tuples(
    st.sampled_from(DuplicateCandidate.Kind.values),
    st.integers(0, 3),  # few distances, so ties fall through to the later order keys
    st.integers(0, 2),
    st.sampled_from(DuplicateCandidate.Status.values),
)


@pytest.fixture
def assets(db):
    collection = collection_get_or_create(name="Pages")
    return synthetic_fingerprints(collection=collection, codes=list(range(ASSETS)))


def queue_of(assets, rows) -> None:
    ends = [(a, b) for i, a in enumerate(assets) for b in assets[i + 1 :]]
    DuplicateCandidate.objects.bulk_create(
        DuplicateCandidate(
            asset_a_id=a,
            asset_b_id=b,
            kind=kind,
            phash_distance=p,
            dhash_distance=d,
            status=status,
        )
        for (a, b), (kind, p, d, status) in zip(ends, rows, strict=False)
    )


@given(rows=st.lists(pair, min_size=0, max_size=40), per_page=st.integers(1, 7))
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_page_holds_the_offset_pages_pairs_in_order(assets, rows, per_page):
    with transaction.atomic():
        queue_of(assets, rows)
        for queryset in [
            DuplicateCandidate.objects.order_by(*QUEUE_ORDER),
            DuplicateCandidate.objects.filter(status__in=["pending", "deferred"]).order_by(
                *QUEUE_ORDER
            ),
            DuplicateCandidate.objects.filter(kind="derivative").order_by(*QUEUE_ORDER),
        ]:
            plain = Paginator(queryset, per_page, orphans=1)
            ours = QueuePaginator(queryset, per_page, orphans=1)
            assert ours.num_pages == plain.num_pages
            for number in plain.page_range:
                got = [c.pk for c in ours.page(number).object_list]
                assert got == [c.pk for c in plain.page(number).object_list], number
        transaction.set_rollback(True)


@given(rows=st.lists(pair, min_size=5, max_size=40), kind=st.sampled_from(["", "similar"]))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_admin_queue_pages_through_every_open_pair_once(
    assets, admin_client, monkeypatch, rows, kind
):
    from django.core.cache import cache

    monkeypatch.setattr(DuplicateCandidateAdmin, "list_per_page", 4)
    with transaction.atomic():
        cache.clear()
        queue_of(assets, rows)
        expected = DuplicateCandidate.objects.filter(status__in=["pending", "deferred"])
        if kind:
            expected = expected.filter(kind=kind)
        expected = list(expected.order_by(*QUEUE_ORDER).values_list("pk", flat=True))
        shown, number = [], 0
        query = {"kind__exact": kind} if kind else {}
        while True:
            response = admin_client.get(QUEUE, {**query, "p": number + 1})
            if response.status_code != 200:
                break  # past the last page the admin redirects with an error flag
            cl = response.context["cl"]
            shown.extend(c.pk for c in cl.result_list)
            number += 1
            if number >= cl.paginator.num_pages:
                break
        assert shown == expected
        transaction.set_rollback(True)
