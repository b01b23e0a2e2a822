"""Concurrent edits of different fields of one record all survive (real PostgreSQL).

`record_save` takes the changes (field -> value) and applies them to the row it locked,
saving only those columns; a caller's stale copy of the other fields is never written
back. Each test lines the writers up on a barrier after they read the record, so every
one of them holds a stale copy when it saves: the way two curators' PATCHes meet.
"""

import threading

import pytest
from django.db import connection, connections

from archive.apis import records
from archive.models import AuditEvent, CatalogueEntry, Licence
from archive.services import collection_get_or_create, record_save
from tests.api.conftest import token_client
from tests.archive.helpers import ingest_picture
from tests.archive.people import role_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks race on PostgreSQL; SQLite serialises writers")


def run_together(*jobs):
    """Run each job in its own thread (own connection); re-raise the first failure."""
    errors = []

    def run(job):
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert not errors, errors


def saves_in_step(monkeypatch, module, parties: int) -> None:
    """Make module.record_save wait until every writer has got that far."""
    barrier = threading.Barrier(parties, timeout=15)
    real = module.record_save

    def in_step(**kwargs):
        barrier.wait()
        return real(**kwargs)

    monkeypatch.setattr(module, "record_save", in_step)


def test_two_api_patches_of_different_fields_both_survive(monkeypatch):
    collection = collection_get_or_create(name="Field photos")
    entry = ingest_picture(collection=collection).asset.entries.get()
    archivist = role_member("Archivist")
    saves_in_step(monkeypatch, records, parties=2)
    answers = {}

    def patch(field, value):
        def job():
            response = token_client(archivist).patch(
                f"/api/v1/entries/{entry.pk}/", {field: value}, format="json"
            )
            answers[field] = response.status_code

        return job

    run_together(patch("title", "Harbour, 1931"), patch("creator", "J. Doe"))

    assert answers == {"title": 200, "creator": 200}
    saved = CatalogueEntry.objects.get(pk=entry.pk)
    assert (saved.title, saved.creator) == ("Harbour, 1931", "J. Doe")
    changes = AuditEvent.objects.filter(verb="catalogueentry.changed")
    assert sorted(tuple(e.after) for e in changes) == [("creator",), ("title",)]


def test_many_service_callers_with_stale_copies_lose_nothing():
    collection = collection_get_or_create(name="Field photos")
    entry = ingest_picture(collection=collection).asset.entries.get()
    licence = record_save(obj=Licence(entry=entry, holder="Staff"), actor=None)
    edits = {
        "holder": "Agency",
        "territory": "EU",
        "restrictions": "no online use",
        "credit_line": "Photo: City archive",
    }
    stale = {field: Licence.objects.get(pk=licence.pk) for field in edits}
    barrier = threading.Barrier(len(edits), timeout=15)

    def edit(field):
        def job():
            barrier.wait()
            record_save(obj=stale[field], changes={field: edits[field]}, actor=None)

        return job

    run_together(*(edit(field) for field in edits))

    saved = Licence.objects.values(*edits).get(pk=licence.pk)
    assert saved == edits
