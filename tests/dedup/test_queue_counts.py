"""The review queue's per-kind counts are cached under a key read from three indexes; any
sequence of decisions and undos must leave them equal to a fresh count."""

import pytest
from django.db import transaction
from django.db.models import Count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import ArchiveError
from archive.services import collection_get_or_create
from dedup.consolidation import consolidation_undo
from dedup.models import Consolidation, DuplicateCandidate
from dedup.review import Decision, candidate_decide
from dedup.selectors import KIND_ORDER, OPEN_STATUSES, open_kind_counts
from tests.api.conftest import upload_pair
from tests.archive.people import role_member

pytestmark = pytest.mark.django_db

PAIRS = 4


@pytest.fixture
def queue(db):
    collection = collection_get_or_create(name="Field photos")
    for seed in range(PAIRS):
        upload_pair(collection, 70 + seed)
    candidates = list(DuplicateCandidate.objects.order_by("pk"))
    assert len(candidates) >= PAIRS
    return candidates, role_member("Archivist", "queue-archivist")


def fresh_counts() -> dict:
    rows = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES).values_list("kind")
    counted = dict(rows.annotate(n=Count("pk")))
    return {kind: counted.get(kind, 0) for kind in KIND_ORDER}


steps = st.lists(
    st.one_of(
        st.tuples(st.just("decide"), st.integers(0, PAIRS - 1), st.sampled_from(Decision.ALL)),
        st.tuples(st.just("undo"), st.integers(0, PAIRS - 1), st.none()),
    ),
    min_size=1,
    max_size=8,
)


@given(steps=steps)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_cached_counts_follow_every_decision_and_undo(queue, admin_client, steps):
    from django.core.cache import cache

    candidates, archivist = queue
    cache.clear()

    def shown_as_fresh():
        fresh = fresh_counts()
        assert open_kind_counts() == fresh
        for query, expected in [
            ({}, sum(fresh.values())),
            ({"kind__exact": "derivative"}, fresh["derivative"]),
        ]:
            page = admin_client.get("/admin/dedup/duplicatecandidate/", query)
            assert page.context["cl"].result_count == expected, query
        return True

    with transaction.atomic():
        assert shown_as_fresh()
        for action, index, decision in steps:
            try:
                with transaction.atomic():
                    if action == "decide":
                        candidate = DuplicateCandidate.objects.get(pk=candidates[index].pk)
                        candidate_decide(
                            candidate=candidate,
                            decision=decision,
                            canonical=candidate.asset_a if decision == Decision.CONFIRM else None,
                            actor=archivist,
                            reason="probe",
                            override=True,
                        )
                    else:
                        made = list(
                            Consolidation.objects.filter(undone_at__isnull=True).order_by("pk")
                        )
                        if made:
                            consolidation_undo(
                                consolidation=made[index % len(made)],
                                actor=archivist,
                                reason="probe",
                            )
            except ArchiveError:
                pass  # refused (already decided, nothing to undo): the queue is unchanged
            assert shown_as_fresh(), (action, index, decision)
        transaction.set_rollback(True)
