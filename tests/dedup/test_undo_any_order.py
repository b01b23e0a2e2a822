"""Undo of overlapping consolidations is exact in any order, audited per record, and
bounded by the replaced assets' own quarantine deadline."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from archive.errors import ArchiveError
from archive.models import Asset, AuditEvent, CatalogueEntry
from dedup.consolidation import (
    consolidation_execute,
    consolidation_undo,
    consolidation_undo_deadline,
)
from dedup.models import Consolidation
from retention.models import QuarantineRecord
from tests.archive.helpers import ingest_bytes
from tests.archive.people import person
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

# EXIF tags: Make, Model, Software, Artist; values chosen so some keys conflict.
TAGS = {0x010F: "Make", 0x0110: "Model", 0x0131: "Software", 0x013B: "Artist"}
EXIF_OF = [
    {0x010F: "Acme", 0x0110: "Survey"},
    {0x0110: "Phone", 0x0131: "Editor"},
    {0x010F: "Other", 0x013B: "Ann"},
    {0x0131: "Viewer", 0x013B: "Bob"},
]


@pytest.fixture(autouse=True)
def default_policies(db):
    from retention.policies import policies_seed_defaults

    policies_seed_defaults()


@pytest.fixture
def curator(db):
    return person("curator", "dedup.review_duplicates", "retention.restore_asset")


@pytest.fixture
def assets(collection):
    """Four unrelated pictures, each with its own EXIF and two catalogue entries."""
    made = []
    for index, tags in enumerate(EXIF_OF):
        exif = Image.Exif()
        for tag, value in tags.items():
            exif[tag] = value
        data = image_bytes(make_scene(900 + index, size=(64, 48)), exif=exif)
        made.append(ingest_bytes(data, collection=collection, path=f"p{index}.jpg").asset)
        ingest_bytes(data, collection=collection, path=f"copy/p{index}.jpg")
    return [Asset.objects.get(pk=a.pk) for a in made]


def state() -> dict:
    return {
        "entries": dict(CatalogueEntry.objects.values_list("pk", "asset_id")),
        "exif": dict(Asset.objects.values_list("pk", "exif")),
        "assets": set(Asset.objects.values_list("pk", "state", "replaced_by_id")),
    }


def consolidate(canonical, *replaced, actor):
    return consolidation_execute(
        canonical=Asset.objects.get(pk=canonical.pk),
        replaced=[Asset.objects.get(pk=a.pk) for a in replaced],
        candidates=[],
        actor=actor,
    )


def undo(consolidation, actor):
    consolidation_undo(consolidation=Consolidation.objects.get(pk=consolidation.pk), actor=actor)


def test_chain_undone_oldest_first_puts_every_record_back(assets, curator):
    a, b, c, _ = assets
    initial = state()
    ab = consolidate(b, a, actor=curator)
    bc = consolidate(c, b, actor=curator)

    undo(ab, curator)
    after_first = state()
    undo(bc, curator)

    # After undoing A->B, A's records are A's again while B's stay on C.
    assert {e for e, asset in after_first["entries"].items() if asset == a.pk} == {
        e for e, asset in initial["entries"].items() if asset == a.pk
    }
    assert after_first["exif"][c.pk] == initial["exif"][c.pk] | {
        k: v for k, v in initial["exif"][b.pk].items() if k not in initial["exif"][c.pk]
    }
    assert state() == initial


def test_two_into_one_undone_oldest_first_keeps_the_later_merge(assets, curator):
    a, b, c, _ = assets
    initial = state()
    ab = consolidate(b, a, actor=curator)
    cb = consolidate(b, c, actor=curator)

    undo(ab, curator)

    exif_b = Asset.objects.get(pk=b.pk).exif
    expected = dict(initial["exif"][b.pk])
    for key, value in initial["exif"][c.pk].items():
        expected.setdefault(key, value)
    assert exif_b == expected
    undo(cb, curator)
    assert state() == initial


def test_undo_audits_every_repointed_record(assets, curator):
    a, b, _, _ = assets
    consolidation = consolidate(b, a, actor=curator)
    moved = set(a.entries.values_list("pk", flat=True)) or {
        m["entry"] for m in consolidation.snapshot["entries"]
    }

    undo(consolidation, curator)

    events = AuditEvent.objects.filter(verb="entry.repointed", after__asset=a.pk)
    assert {int(e.object_id) for e in events} == moved
    assert len(moved) == 2


def test_undo_refused_when_the_canonical_is_no_longer_live(assets, curator):
    from retention.services import asset_quarantine

    a, b, _, _ = assets
    consolidation = consolidate(b, a, actor=curator)
    asset_quarantine(asset=Asset.objects.get(pk=b.pk), reason="weeded", actor=curator)

    with pytest.raises(ArchiveError, match="no longer live"):
        undo(consolidation, curator)
    assert Asset.objects.get(pk=a.pk).replaced_by_id == b.pk


def test_the_window_is_the_replaced_assets_quarantine_deadline(assets, curator, settings):
    a, b, _, _ = assets
    settings.KEEPSAKE_RESTORE_WINDOW_DAYS = 365
    consolidation = consolidate(b, a, actor=curator)
    record = QuarantineRecord.objects.get(asset=a, restored_at=None)

    assert consolidation_undo_deadline(consolidation) == record.restore_deadline
    now = timezone.now()
    QuarantineRecord.objects.filter(pk=record.pk).update(
        quarantined_at=now - timedelta(days=40), restore_deadline=now - timedelta(seconds=1)
    )
    with pytest.raises(ArchiveError, match="restore window"):
        undo(consolidation, curator)


# --- the model-based search ------------------------------------------------------------


def _resolve(asset_id, replaced_by):
    while replaced_by.get(asset_id) is not None:
        asset_id = replaced_by[asset_id]
    return asset_id


def _merge(into: dict, sources: list[dict]) -> dict:
    merged = dict(into)
    for source in sources:
        for key, value in sorted(source.items()):
            merged.setdefault(key, value)
    return merged


def _expected(initial: dict, active: list[tuple[int, list[int]]]) -> tuple[dict, dict]:
    """Replay the consolidations still in force, oldest first, on the initial state."""
    exif = {pk: dict(v) for pk, v in initial["exif"].items()}
    replaced_by = {}
    for canonical, replaced in active:
        exif[canonical] = _merge(exif[canonical], [exif[r] for r in sorted(replaced)])
        replaced_by.update(dict.fromkeys(replaced, canonical))
    entries = {e: _resolve(home, replaced_by) for e, home in initial["entries"].items()}
    return entries, exif


def _check_invariants(initial, active):
    entries, exif = _expected(initial, [(c, r) for _pk, c, r in active])
    now = state()
    assert now["entries"] == entries
    assert now["exif"] == exif
    live = set(Asset.objects.filter(state="active", replaced_by=None).values_list("pk", flat=True))
    assert set(now["entries"].values()) <= live
    provenance = [c.provenance["exif"] for c in Consolidation.objects.filter(undone_at=None)]
    for asset in Asset.objects.exclude(replaced_by=None):
        root = Asset.objects.get(pk=_resolve(asset.pk, dict(now_replaced())))
        for key, value in asset.exif.items():
            alternatives = [
                alt["value"] for p in provenance for alt in p.get(key, {}).get("alternatives", [])
            ]
            assert root.exif.get(key) == value or value in alternatives, (asset.pk, key)


def now_replaced():
    return Asset.objects.exclude(replaced_by=None).values_list("pk", "replaced_by_id")


step = st.one_of(
    st.tuples(
        st.just("consolidate"),
        st.integers(0, 3),
        st.sets(st.integers(0, 3), min_size=1, max_size=3),
    ),
    st.tuples(st.just("undo"), st.integers(0, 7), st.just(frozenset())),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, max_size=6), finish=st.randoms(use_true_random=False))
def test_random_consolidations_and_undos_stay_exact(assets, curator, steps, finish):
    ids = [a.pk for a in assets]
    with transaction.atomic():
        initial = state()
        active: list[tuple[int, int, list[int]]] = []  # (consolidation pk, canonical, replaced)
        for op, first, others in steps:
            if op == "consolidate":
                canonical, replaced = ids[first], sorted(ids[i] for i in others - {first})
                if not replaced:
                    continue
                usable = set(
                    Asset.objects.filter(state="active", replaced_by=None).values_list(
                        "pk", flat=True
                    )
                )
                if not {canonical, *replaced} <= usable:
                    with pytest.raises(ArchiveError):
                        consolidate(
                            Asset(pk=canonical), *(Asset(pk=r) for r in replaced), actor=curator
                        )
                    continue
                made = consolidate(
                    Asset(pk=canonical), *(Asset(pk=r) for r in replaced), actor=curator
                )
                active.append((made.pk, canonical, replaced))
                event("consolidated")
            elif active:
                target = active[first % len(active)]
                undo(Consolidation(pk=target[0]), curator)
                active.remove(target)
                event("undone in the middle")
            _check_invariants(initial, active)
        # Undo of everything that is left, in a random order, gives the initial state back.
        finish.shuffle(active)
        for pk, _canonical, _replaced in active:
            undo(Consolidation(pk=pk), curator)
        assert state() == initial
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_an_undo_waits_while_a_hold_freezes_the_consolidation(collection, curator):
    """Found by the lifecycle soak: undoing a held consolidation moved a frozen asset."""
    from archive.holds import LegalHoldRefused, legal_hold_place
    from archive.models import AuditEvent
    from dedup.consolidation import consolidation_execute, consolidation_undo
    from tests.archive.helpers import ingest_picture
    from tests.archive.people import compliance_officer

    keep = ingest_picture(collection=collection, colour="gold").asset
    drop = ingest_picture(collection=collection, colour="silver").asset
    consolidation = consolidation_execute(
        canonical=keep, replaced=[drop], candidates=[], actor=curator
    )
    legal_hold_place(
        matter_reference="M-9", reason="litigation", assets=[keep], actor=compliance_officer()
    )

    with pytest.raises(LegalHoldRefused):
        consolidation_undo(consolidation=consolidation, actor=curator, reason="oops")

    drop.refresh_from_db()
    consolidation.refresh_from_db()
    assert (drop.state, drop.replaced_by_id, consolidation.undone_at) == (
        "quarantined",
        keep.pk,
        None,
    )
    assert AuditEvent.objects.filter(verb="legalhold.refused").exists()
