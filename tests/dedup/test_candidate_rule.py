"""One candidate rule: the read-only report lists exactly the pairs the queue takes.

The report (an in-memory join), the ingest-time check and the rolling scan (index lookups)
must find the same pairs and keep the same ones: within KEEPSAKE_NEAR_DISTANCE always,
up to KEEPSAKE_VERIFY_DISTANCE or through a variant hash only when judged one picture.
"""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup import report as report_module
from dedup import services
from dedup.imaging import signed64
from dedup.index import phash_bands
from dedup.judge import Verdict
from dedup.models import DuplicateCandidate, Fingerprint, FingerprintVariant, ScanRun
from dedup.report import report_build
from tests.dedup.helpers import flip_bits, synthetic_fingerprints

pytestmark = pytest.mark.django_db


def fake_judge(*, asset_a, asset_b, phash_distance, dhash_distance):
    """A deterministic stand-in for the pixel judgement: the rule is what is under test."""
    kind = "derivative" if (asset_a.pk * 7 + asset_b.pk) % 3 == 0 else "similar"
    return Verdict(kind, {"reason": "fake", "distances": {"phash": phash_distance}})


@pytest.fixture
def judged_fake(monkeypatch):
    monkeypatch.setattr(services, "pair_judge", fake_judge)
    monkeypatch.setattr(report_module, "pair_judge", fake_judge)
    monkeypatch.setattr(report_module, "pair_judge_records", fake_judge)


def _variants(owner_ids: list[int], codes: list[list[int]]) -> None:
    fingerprints = {f.asset_id: f for f in Fingerprint.objects.filter(asset__in=owner_ids)}
    FingerprintVariant.objects.bulk_create(
        FingerprintVariant(
            fingerprint=fingerprints[owner],
            asset_id=owner,
            variant=f"v{i}",
            phash=signed64(code),
            **{f"phash_b{b}": v for b, v in enumerate(phash_bands(phash=code))},
        )
        for owner, owned in zip(owner_ids, codes, strict=True)
        for i, code in enumerate(owned)
    )


planted = st.tuples(
    st.integers(0, 2**64 - 1),  # a base picture's code
    st.lists(st.integers(0, 20), min_size=1, max_size=3),  # copies: bits flipped
    st.lists(st.tuples(st.integers(0, 8), st.integers(0, 16)), max_size=3),  # variants
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pictures=st.lists(planted, min_size=1, max_size=4), seed=st.integers(0, 1000))
def test_the_report_lists_exactly_what_the_queue_takes(collection, judged_fake, pictures, seed):
    # Each example starts from an empty index (assets themselves cannot be deleted).
    DuplicateCandidate.objects.all().delete()
    ScanRun.objects.all().delete()
    FingerprintVariant.objects.all().delete()
    Fingerprint.objects.all().delete()
    rng = random.Random(seed)
    codes = []
    for base, flips, _ in pictures:
        codes += [base] + [flip_bits(base, n, rng) for n in flips]
    # Variant hashes near some asset's main hash, at 0-16 bits, owned by random assets.
    planted_variants = [
        (rng.randrange(len(codes)), flip_bits(codes[target % len(codes)], bits, rng))
        for _, _, variants in pictures
        for target, bits in variants
    ]
    # Two ingests with a rolling scan after each: the second half meets the first half
    # only through lookups from the new side, in both directions.
    half = rng.randrange(len(codes) + 1)
    ids = []
    for part in (range(half), range(half, len(codes))):
        ids += synthetic_fingerprints(collection=collection, codes=[codes[i] for i in part])
        merged = {}
        for owner, code in planted_variants:
            if owner in part:
                merged.setdefault(ids[owner], []).append(code)
        _variants(list(merged), list(merged.values()))
        services.scan_incremental()

    found_by_lookup = set()
    for fingerprint in Fingerprint.objects.all():
        found_by_lookup |= set(services._near_pairs(fingerprint))
    listed = report_build()

    report_pairs = {(row["a"]["id"], row["b"]["id"]) for row in listed["pairs"]}
    queue = set(DuplicateCandidate.objects.values_list("asset_a", "asset_b"))
    assert report_pairs == queue
    assert queue <= found_by_lookup
    for a, b in found_by_lookup - queue:
        # Left out only when past the near distance and not proven one picture.
        distance = (codes[ids.index(a)] ^ codes[ids.index(b)]).bit_count()
        assert distance > services.near_distance()


def test_a_pair_only_a_variant_sees_is_found_in_both_directions(collection, judged_fake):
    rng = random.Random(5)
    base = rng.getrandbits(64)
    far = flip_bits(base, 30, rng)
    a, b = synthetic_fingerprints(collection=collection, codes=[base, far])
    _variants([a], [[flip_bits(far, 3, rng)]])

    fingerprint_a = Fingerprint.objects.get(asset_id=a)
    fingerprint_b = Fingerprint.objects.get(asset_id=b)

    assert set(services._near_pairs(fingerprint_a)) == {(a, b)}
    assert set(services._near_pairs(fingerprint_b)) == {(a, b)}
