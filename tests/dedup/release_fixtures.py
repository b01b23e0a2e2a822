"""A small archive to release: a duplicate pair, open and closed licences, a record without."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from archive.ingest import EntryMetadata
from archive.models import Asset, CatalogueEntry, Licence
from archive.services import collection_get_or_create, record_save
from dedup.models import DuplicateCandidate
from dedup.review import Decision, candidate_decide
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

RELEASED_AT = dt.datetime(2027, 7, 31, 18, 0, tzinfo=dt.UTC)


def user_with(username, *codenames):
    user = get_user_model().objects.create_user(username, email=f"{username}@example.org")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)


@dataclass
class Archive:
    collections: list
    big: Asset
    small: Asset
    open_photo: Asset
    closed: Asset
    bare: Asset
    candidate: DuplicateCandidate
    curator: object


def _licence(asset, actor, licence_type, **terms):
    entry = asset.entries.get()
    record_save(
        obj=Licence(entry=entry, holder="City", licence_type=licence_type, **terms), actor=actor
    )
    return entry


def archive_build() -> Archive:
    curator = user_with("curator", "review_duplicates", "publish_release", "view_datasetrelease")
    permits = collection_get_or_create(name="Permits")
    press = collection_get_or_create(name="Press")
    scene = make_scene(71)
    big = ingest_bytes(
        image_bytes(scene, quality=95),
        collection=permits,
        path="p/a.jpg",
        metadata=EntryMetadata(title="Facade, Rue A", creator="Survey", subjects=["facade"]),
    ).asset
    small = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=60),
        collection=press,
        path="web/a-small.jpg",
        metadata=EntryMetadata(title="Rue A (web)"),
    ).asset
    open_photo = ingest_bytes(
        image_bytes(make_scene(5)),
        collection=permits,
        path="p/b.jpg",
        metadata=EntryMetadata(title="Bridge"),
    ).asset
    closed = ingest_bytes(
        image_bytes(make_scene(9)),
        collection=press,
        path="web/c.jpg",
        metadata=EntryMetadata(title="Agency shot"),
    ).asset
    bare = ingest_bytes(
        image_bytes(make_scene(13)),
        collection=permits,
        path="p/d.jpg",
        metadata=EntryMetadata(title="Unlicensed"),
    ).asset
    _licence(big, curator, "cc_by")
    _licence(small, curator, "cc_by")
    _licence(open_photo, curator, "cc0")
    _licence(closed, curator, "agency")
    candidate = DuplicateCandidate.objects.get(asset_a__in=[big, small], asset_b__in=[big, small])
    # The pair stands as the derivative it is (see tests/dedup/test_consolidation.py).
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(kind="derivative")
    candidate.refresh_from_db()
    return Archive([permits, press], big, small, open_photo, closed, bare, candidate, curator)


def consolidate(archive: Archive) -> None:
    candidate_decide(
        candidate=archive.candidate,
        decision=Decision.CONFIRM,
        actor=archive.curator,
        canonical=archive.big,
    )


def retitle(asset: Asset, title: str, actor) -> CatalogueEntry:
    entry = asset.entries.get()
    record_save(obj=entry, changes={"title": title}, actor=actor)
    return entry
