"""A group is only what its pairs connect: unrelated pictures never share a canonical."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import ArchiveError
from archive.models import Asset
from dedup.models import Consolidation, DuplicateCandidate
from dedup.review import group_confirm
from tests.archive.helpers import ingest_bytes
from tests.archive.people import person
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db
SIZE = 5


@pytest.fixture(autouse=True)
def default_policies(db):
    from retention.policies import policies_seed_defaults

    policies_seed_defaults()


@pytest.fixture
def curator(db):
    return person("curator", "dedup.review_duplicates")


@pytest.fixture
def pictures(collection):
    made = [
        ingest_bytes(
            image_bytes(make_scene(700 + i, size=(64, 48))), collection=collection, path=f"{i}.jpg"
        ).asset.pk
        for i in range(SIZE)
    ]
    DuplicateCandidate.objects.all().delete()
    return made


def pair(a, b, kind="derivative"):
    low, high = sorted([a, b])
    return DuplicateCandidate.objects.create(
        asset_a_id=low, asset_b_id=high, kind=kind, phash_distance=2, dhash_distance=2
    )


def test_two_unrelated_pictures_each_with_a_derivative_are_two_groups(pictures, curator):
    one, one_small, two, two_small = pictures[:4]
    pairs = [pair(one, one_small), pair(two, two_small)]

    with pytest.raises(ArchiveError, match="not connected"):
        group_confirm(candidates=pairs, canonical=Asset.objects.get(pk=one), actor=curator)

    assert Consolidation.objects.count() == 0
    assert set(DuplicateCandidate.objects.values_list("status", flat=True)) == {"pending"}


def _connected(nodes: set[int], edges: list[tuple[int, int]]) -> bool:
    seen, todo = set(), [next(iter(nodes))]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo += [b for a, b in edges if a == node] + [a for a, b in edges if b == node]
    return seen == nodes


edges = st.lists(
    st.tuples(st.integers(0, SIZE - 1), st.integers(0, SIZE - 1)).filter(lambda e: e[0] != e[1]),
    min_size=1,
    max_size=6,
    unique_by=lambda e: frozenset(e),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    graph=edges,
    kinds=st.lists(st.sampled_from(["exact", "pixel", "derivative"]), min_size=6, max_size=6),
    pick=st.integers(0, 100),
)
def test_random_graphs_group_only_when_connected(pictures, curator, graph, kinds, pick):
    with transaction.atomic():
        index_edges = [(pictures[a], pictures[b]) for a, b in graph]
        pairs = [pair(a, b, kind) for (a, b), kind in zip(index_edges, kinds, strict=False)]
        members = {x for e in index_edges for x in e}
        canonical = sorted(members)[pick % len(members)]
        if _connected(members, index_edges):
            consolidation = group_confirm(
                candidates=pairs, canonical=Asset.objects.get(pk=canonical), actor=curator
            )
            assert set(consolidation.replaced.values_list("pk", flat=True)) == members - {canonical}
        else:
            with pytest.raises(ArchiveError, match="not connected"):
                group_confirm(
                    candidates=pairs, canonical=Asset.objects.get(pk=canonical), actor=curator
                )
            assert Consolidation.objects.count() == 0
        transaction.set_rollback(True)
