"""The review rules the service enforces: look-alike overrides, reference collections,
the canonical suggestion's order and groups resolved with copies kept separately."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from hypothesis import given
from hypothesis import strategies as st

from archive.errors import ArchiveError
from archive.models import Asset, AuditEvent, Collection
from archive.services import collection_get_or_create
from dedup.models import DuplicateCandidate
from dedup.review import (
    CanonicalFacts,
    Decision,
    candidate_decide,
    candidates_bulk_confirm,
    canonical_rank,
    canonical_suggest,
    group_resolve,
)
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

RULES = ["pixels", "quality", "size", "lossless", "original", "metadata", "earliest"]

facts_strategy = st.lists(
    st.builds(
        CanonicalFacts,
        pk=st.integers(1, 10_000),
        pixels=st.sampled_from([100, 400, 1600]),
        size=st.integers(1, 5),
        format=st.sampled_from(["JPEG", "PNG", "WEBP"]),
        jpeg_quality=st.one_of(st.none(), st.integers(40, 100)),
        original=st.booleans(),
        metadata=st.integers(0, 3),
        ingested=st.floats(0, 1e6, allow_nan=False),
        reference=st.booleans(),
        published=st.booleans(),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda f: f.pk,
)


@given(facts=facts_strategy, data=st.data())
def test_the_suggestion_order_reference_published_pixels_quality_size(facts, data):
    pk, _reason = canonical_rank(facts=facts, rules=RULES)
    chosen = next(f for f in facts if f.pk == pk)
    # The order of the input never matters.
    shuffled = data.draw(st.permutations(facts))
    assert canonical_rank(facts=shuffled, rules=RULES)[0] == pk
    pool = facts
    if any(f.reference for f in pool):
        assert chosen.reference
        pool = [f for f in pool if f.reference]
    if any(f.published for f in pool):
        assert chosen.published
        pool = [f for f in pool if f.published]
    assert chosen.pixels == max(f.pixels for f in pool)
    pool = [f for f in pool if f.pixels == chosen.pixels]
    if all(f.quality is not None for f in pool):
        assert chosen.quality == max(f.quality for f in pool)
        pool = [f for f in pool if f.quality == chosen.quality]
    assert chosen.size == max(f.size for f in pool)


def test_quality_then_size_break_a_pixel_tie():
    low = CanonicalFacts(pk=1, pixels=100, size=9, format="JPEG", jpeg_quality=55)
    high = CanonicalFacts(pk=2, pixels=100, size=3, format="JPEG", jpeg_quality=92)
    unknown = CanonicalFacts(pk=3, pixels=100, size=4, format="JPEG")

    assert canonical_rank(facts=[low, high], rules=RULES) == (2, "higher JPEG quality")
    # One copy without an estimate: quality cannot rank them, the file size does.
    assert canonical_rank(facts=[low, high, unknown], rules=RULES) == (1, "larger file")


@pytest.fixture
def curator(db):
    user = get_user_model().objects.create_user("curator", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="review_duplicates"))
    return user


def _pair(collection, seed=7, other_collection=None):
    scene = make_scene(seed)
    big = ingest_bytes(image_bytes(scene, quality=95), collection=collection, path=f"{seed}.jpg")
    small = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=60),
        collection=other_collection or collection,
        path=f"{seed}-small.jpg",
    )
    candidate = DuplicateCandidate.objects.get(asset_a=big.asset, asset_b=small.asset)
    return big.asset, small.asset, candidate


def _as_similar(candidate):
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(kind="similar")
    candidate.refresh_from_db()
    return candidate


def test_a_look_alike_is_confirmed_only_by_an_override_with_a_reason(collection, curator):
    big, small, candidate = _pair(collection)
    candidate = _as_similar(candidate)

    with pytest.raises(ArchiveError) as plain:
        candidate_decide(
            candidate=candidate, decision=Decision.CONFIRM, canonical=big, actor=curator
        )
    with pytest.raises(ArchiveError) as terse:
        candidate_decide(
            candidate=candidate,
            decision=Decision.CONFIRM,
            canonical=big,
            actor=curator,
            override=True,
            reason="same",
        )
    assert plain.value.code == "override_required" and terse.value.code == "invalid"
    candidate.refresh_from_db()
    assert candidate.status == "pending"

    candidate_decide(
        candidate=candidate,
        decision=Decision.CONFIRM,
        canonical=big,
        actor=curator,
        override=True,
        reason="the same print scanned twice; the camera tags are the scanner's",
    )

    small.refresh_from_db()
    assert small.state == Asset.State.QUARANTINED
    event = AuditEvent.objects.get(verb="candidate.override_confirmed")
    assert event.after["override"] is True and event.after["quarantined"] == [small.pk]
    assert "scanned twice" in event.reason


def test_look_alikes_are_never_confirmed_in_bulk(collection, curator):
    _big, _small, candidate = _pair(collection)
    candidate = _as_similar(candidate)

    ((_, problem),) = candidates_bulk_confirm(candidates=[candidate], actor=curator)

    assert "never in bulk" in problem
    candidate.refresh_from_db()
    assert candidate.status == "pending"


def test_a_reference_collection_copy_is_suggested_and_never_replaced(collection, curator):
    reference = collection_get_or_create(name="Masters")
    Collection.objects.filter(pk=reference.pk).update(reference=True)
    big, small, candidate = _pair(collection, other_collection=reference)

    suggestion = canonical_suggest(assets=[big, small])
    with pytest.raises(ArchiveError) as refused:
        candidate_decide(
            candidate=candidate, decision=Decision.CONFIRM, canonical=big, actor=curator
        )

    assert (suggestion.asset, suggestion.reason) == (small, "it belongs to a reference collection")
    assert refused.value.code == "reference_collection" and "Masters" in refused.value.message
    small.refresh_from_db()
    assert small.state == Asset.State.ACTIVE


def test_a_group_keeps_one_trashes_others_and_keeps_one_separately(collection, curator):
    scene = make_scene(11)
    copies = [
        ingest_bytes(image_bytes(scene.resize(size), quality=q), collection=collection, path=p)
        for size, q, p in [
            ((320, 240), 95, "g.jpg"),
            ((240, 180), 80, "g1.jpg"),
            ((160, 120), 60, "g2.jpg"),
        ]
    ]
    keep, trash, apart = (c.asset for c in copies)
    pairs = list(DuplicateCandidate.objects.all())
    assert len(pairs) == 3

    group_resolve(candidates=pairs, canonical=keep, separate=[apart.pk], actor=curator)

    trash.refresh_from_db()
    apart.refresh_from_db()
    assert trash.replaced_by_id == keep.pk and apart.state == Asset.State.ACTIVE
    statuses = {
        frozenset((c.asset_a_id, c.asset_b_id)): c.status for c in DuplicateCandidate.objects.all()
    }
    assert statuses[frozenset((keep.pk, trash.pk))] == "confirmed"
    assert statuses[frozenset((keep.pk, apart.pk))] == "rejected"
    assert statuses[frozenset((trash.pk, apart.pk))] == "rejected"
