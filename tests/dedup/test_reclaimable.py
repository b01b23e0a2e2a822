"""The one reclaimable figure: only confirmable groups count, the kept copy never does,
and held, reference-collection and published bytes are excluded and said to be."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.holds import legal_hold_place
from archive.ingest import EntryMetadata
from archive.models import Asset
from archive.services import collection_get_or_create
from dedup.reclaimable import reclaimable_summary
from dedup.selectors import GROUP_KINDS, group_components
from tests.archive.helpers import ingest_bytes
from tests.archive.people import compliance_officer
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

KINDS = ["exact", "pixel", "derivative", "similar"]


@pytest.fixture
def archive(db):
    plain = collection_get_or_create(name="Plain")
    reference = collection_get_or_create(name="Masters")
    reference.reference = True
    reference.save()
    ids = []
    for seed in range(6):
        collection = reference if seed == 1 else plain
        outcome = ingest_bytes(
            image_bytes(make_scene(40 + seed).resize((160 + 8 * seed, 120 + 6 * seed))),
            collection=collection,
            path=f"{seed}.jpg",
            metadata=EntryMetadata(published=seed == 2),
        )
        ids.append(outcome.asset.pk)
    legal_hold_place(
        matter_reference="M-1",
        reason="claim",
        assets=[Asset.objects.get(pk=ids[3])],
        actor=compliance_officer(),
    )
    return {"ids": ids, "held": ids[3], "reference": ids[1], "published": ids[2]}


def pairs_of(ids):
    pair = st.tuples(st.sampled_from(ids), st.sampled_from(ids), st.sampled_from(KINDS))
    return st.lists(pair.filter(lambda p: p[0] != p[1]), max_size=10)


def test_the_figure_counts_only_what_a_consolidation_could_free(archive):
    ids = archive["ids"]
    sizes = dict(Asset.objects.filter(pk__in=ids).values_list("pk", "size"))

    @settings(max_examples=40, deadline=None)
    @given(pairs=pairs_of(ids))
    def check(pairs):
        figure = reclaimable_summary(pairs=pairs)
        freed = set(figure["freed"])
        groups = group_components(pairs=[(a, b) for a, b, k in pairs if k in GROUP_KINDS])
        assert not freed & {archive["held"], archive["reference"], archive["published"]}
        assert figure["bytes"] == sum(sizes[pk] for pk in freed)
        assert figure["look_alike_pairs"] == sum(k not in GROUP_KINDS for _, _, k in pairs)
        # One copy of every group stays; the rest is freed or excluded with a reason.
        excluded = sum(e["assets"] for e in figure["excluded"].values())
        assert len(freed) + excluded == sum(len(g) - 1 for g in groups)
        for group in groups:
            assert len(freed & group) <= len(group) - 1
        assert freed <= {pk for g in groups for pk in g}

    check()


def test_look_alikes_free_nothing_and_the_exclusions_are_named(archive):
    ids = archive["ids"]

    assert reclaimable_summary(pairs=[(ids[0], ids[4], "similar")])["bytes"] == 0
    figure = reclaimable_summary(pairs=[(ids[0], ids[3], "derivative")])
    # The held copy is the smaller one the suggestion would replace: excluded as held.
    assert figure["excluded"]["held"]["assets"] + len(figure["freed"]) == 1
    assert "assets under a legal hold" in figure["excludes"]
    plain = reclaimable_summary(pairs=[(ids[0], ids[5], "pixel")])
    assert plain["assets"] == 1 and plain["bytes"] > 0


def test_report_dashboard_and_queue_show_one_figure(archive, client, django_user_model):
    from django.template.defaultfilters import filesizeformat

    from dedup.models import DuplicateCandidate
    from dedup.reclaimable import open_pairs_reclaimable
    from dedup.report import report_build
    from retention.selectors import storage_dashboard

    plain = collection_get_or_create(name="Plain")
    for seed, size in ((40, (320, 240)), (43, (300, 220)), (45, (200, 150))):
        # Larger renderings: the small originals (one held) become the copies replaced.
        ingest_bytes(
            image_bytes(make_scene(seed).resize(size), quality=95),
            collection=plain,
            path=f"big-{seed}.jpg",
        )
    assert DuplicateCandidate.objects.count() >= 2
    figure = open_pairs_reclaimable(fresh=True)
    assert figure["bytes"] > 0
    report = report_build()

    assert storage_dashboard()["duplicates"]["reclaimable_by_review"] == figure["bytes"]
    assert report["summary"]["reclaimable_bytes"] == figure["bytes"]
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    page = client.get("/admin/dedup/duplicatecandidate/").content.decode()
    assert "Reclaimable if the open pairs are confirmed" in page
    shown = page.split("Reclaimable if the open pairs are confirmed:")[1].split("</b>")[0]
    assert filesizeformat(figure["bytes"]) in shown.replace("&nbsp;", "\xa0")
    assert "look-alike pair" in page and "held" in page


def _totals(figure):
    return {k: figure[k] for k in ("bytes", "assets", "look_alike_pairs", "excluded")}


def test_a_large_queue_shows_the_figure_a_worker_made_and_says_when_it_is_stale(
    archive, client, django_user_model, settings, monkeypatch
):
    from django_q import tasks

    from dedup.models import DuplicateCandidate, ReclaimableFigure
    from dedup.reclaimable import open_pairs_reclaimable
    from dedup.review import Decision, candidate_decide
    from tests.archive.people import role_member

    plain = collection_get_or_create(name="Plain")
    for seed, size in ((40, (320, 240)), (43, (300, 220))):
        ingest_bytes(
            image_bytes(make_scene(seed).resize(size), quality=95),
            collection=plain,
            path=f"{seed}.jpg",
        )
    assert DuplicateCandidate.objects.filter(status="pending").count() >= 2
    settings.KEEPSAKE_RECLAIMABLE_LIVE_PAIRS = 0  # every queue is "large"
    client.force_login(django_user_model.objects.create_superuser("boss", password="x"))
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda name, *a, **k: queued.append(name))

    # No worker has run yet: the page says the figure is on its way, a refresh is queued.
    page = client.get("/admin/dedup/duplicatecandidate/").content.decode()
    assert "being computed in the background" in page
    assert queued == ["dedup.tasks.reclaimable_refresh_task"]

    # The worker runs: pages show its figure, equal to one computed on the spot.
    from dedup.tasks import reclaimable_refresh_task

    reclaimable_refresh_task()
    shown = open_pairs_reclaimable()
    assert not shown["stale"] and _totals(shown) == _totals(open_pairs_reclaimable(fresh=True))

    # A decision changes the queue: the old figure is shown, marked stale, one refresh asked.
    pair = DuplicateCandidate.objects.filter(status="pending").first()
    candidate_decide(candidate=pair, decision=Decision.DEFER, actor=role_member("Archivist", "arc"))
    stale = open_pairs_reclaimable()
    assert stale["stale"] and _totals(stale) == _totals(shown)
    open_pairs_reclaimable()
    assert queued == ["dedup.tasks.reclaimable_refresh_task"] * 2, "refreshes are throttled"
    assert (
        "before the latest decisions"
        in client.get("/admin/dedup/duplicatecandidate/").content.decode()
    )

    reclaimable_refresh_task()
    assert not open_pairs_reclaimable()["stale"]
    assert ReclaimableFigure.objects.count() == 1
