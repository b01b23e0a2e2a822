"""The admin home leads with the work: pairs by kind, approvals waiting, fixity alerts;
the records apps follow and the plumbing (tasks, tokens, users) comes last."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from dedup.models import DuplicateCandidate
from dedup.selectors import OPEN_STATUSES
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


def figure(html: str, card: str) -> int:
    section = re.search(rf'id="{card}".*?</section>', html, re.S).group(0)
    return int(re.search(r'class="figure"[^>]*>(\d+)<', section).group(1))


def test_the_home_counts_the_work_and_puts_plumbing_last(client, collection):
    for seed in (11, 12):
        scene = make_scene(seed)
        ingest_bytes(image_bytes(scene, quality=95), collection=collection, path=f"{seed}.jpg")
        small = image_bytes(scene.resize((160, 120)), quality=60)
        ingest_bytes(small, collection=collection, path=f"{seed}-small.jpg")
    DuplicateCandidate.objects.filter(pk=DuplicateCandidate.objects.first().pk).update(
        status="deferred"
    )
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))

    html = client.get("/admin/").content.decode()

    open_pairs = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES)
    by_kind = dict(open_pairs.values_list("kind").annotate(n=Count("pk")))
    assert figure(html, "work-pairs") == sum(by_kind.values()) == 2
    for kind, count in by_kind.items():
        assert f'?kind={kind}"><b>{count}</b> {kind}' in html
    assert figure(html, "work-approvals") == 0
    assert figure(html, "work-fixity") == 0
    assert "/admin/retention/retentionpolicy/dashboard/" in html
    work, plumbing = html.split('id="keepsake-plumbing"')
    assert all(f'class="app-{app} ' in work for app in ("archive", "dedup", "retention"))
    assert 'class="app-django_q ' in plumbing and 'class="app-authtoken ' in plumbing
    assert 'class="app-django_q ' not in work
