"""API fixtures: role members with tokens, and a small archive built through the services."""

import threading
import time
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import OperationalError, connection
from django.db.backends.signals import connection_created
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from archive.holds import legal_hold_place
from archive.models import Asset, CatalogueEntry, Collection, IntakeItem, LegalHold, Licence
from archive.roles import roles_setup
from archive.services import collection_get_or_create, record_save
from dedup.models import Consolidation, DuplicateCandidate
from dedup.review import Decision, candidate_decide
from retention.models import DispositionRequest, QuarantineRecord
from retention.purge import disposition_request_approve, disposition_request_create
from retention.services import asset_quarantine
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

ROLES = ["Archivist", "Licensing", "Compliance", "Operator"]


def token_client(user) -> APIClient:
    """A client authenticated the way other systems are: with the user's token."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def members(db) -> dict:
    """One user per role (groups made by `setup_roles`), each holding that role only."""
    from retention.policies import policies_seed_defaults

    # A transactional test elsewhere may have flushed the seeded policies.
    policies_seed_defaults()
    roles_setup()
    people = {}
    for role in ROLES:
        user = get_user_model().objects.create_user(role.lower(), password="x")
        user.groups.add(Group.objects.get(name=role))
        people[role] = get_user_model().objects.get(pk=user.pk)
    return people


@pytest.fixture
def clients(members) -> dict:
    return {role: token_client(user) for role, user in members.items()}


def upload_pair(collection, seed: int, *, second: bytes | None = None, first: bytes = b""):
    """Ingest a scene and a copy of it; the pre-ingest check records the pair."""
    scene = make_scene(seed)
    a = ingest_bytes(
        first or image_bytes(scene, quality=92), collection=collection, path=f"{seed}a"
    )
    data = second or image_bytes(scene.resize((160, 120)))
    b = ingest_bytes(data, collection=collection, path=f"{seed}b")
    return a.asset, b.asset


def upload_group(collection, seed: int) -> list[Asset]:
    """Three sizes of one scene: three derivative pairs, one group of copies."""
    scene = make_scene(seed)
    return [
        ingest_bytes(
            image_bytes(image, quality=92), collection=collection, path=f"{seed}-{i}"
        ).asset
        for i, image in enumerate([scene, scene.resize((240, 180)), scene.resize((160, 120))])
    ]


def candidate_of(a: Asset, b: Asset) -> DuplicateCandidate:
    low, high = sorted([a.pk, b.pk])
    return DuplicateCandidate.objects.get(asset_a=low, asset_b=high)


@dataclass
class World:
    """Everything the endpoints act on, one of each."""

    pending: DuplicateCandidate  # a derivative pair, open
    pixel: DuplicateCandidate  # a pixel pair, open (bulk-confirmable)
    group: list  # three copies of one scene, their three pairs open
    consolidation: Consolidation  # a confirmed pair, its copy replaced and quarantined
    replaced: Asset
    entry: CatalogueEntry
    licence: Licence
    conflict: list  # two assets whose records carry differing licences
    hold: LegalHold
    quarantine: QuarantineRecord  # an asset quarantined on its own, restorable
    loose: Asset  # quarantined and in no disposition request yet
    to_approve: DispositionRequest
    to_execute: DispositionRequest
    intake: IntakeItem  # a derivative upload waiting at a collection's intake gate


def _waiting_at_the_gate(seed: int) -> IntakeItem:
    gated = collection_get_or_create(name="Gated")
    gated.intake_policy = Collection.IntakePolicy.HOLD
    gated.save()
    scene = make_scene(seed)
    ingest_bytes(image_bytes(scene, quality=92), collection=gated, path=f"{seed}a")
    held = ingest_bytes(image_bytes(scene.resize((160, 120))), collection=gated, path=f"{seed}b")
    return IntakeItem.objects.get(pk=held.findings["intake_item"])


@pytest.fixture
def world(members) -> World:
    archivist, compliance = members["Archivist"], members["Compliance"]
    collection = collection_get_or_create(name="Field photos")
    a, b = upload_pair(collection, 301)
    scene = make_scene(302)
    png, bmp = upload_pair(
        collection, 302, first=image_bytes(scene, "PNG"), second=image_bytes(scene, "BMP")
    )
    kept, copy = upload_pair(collection, 303)
    group = upload_group(collection, 307)
    consolidation = candidate_decide(
        candidate=candidate_of(kept, copy),
        decision=Decision.CONFIRM,
        canonical=kept,
        actor=archivist,
    )
    # The record edited by the endpoints is b's: a is held, and held records do not change.
    entry = b.entries.get()
    licence = record_save(obj=Licence(entry=entry, holder="Staff"), actor=None)
    record_save(obj=Licence(entry=a.entries.get(), holder="Agency"), actor=None)
    hold = legal_hold_place(matter_reference="M-7", reason="claim", assets=[a], actor=compliance)
    lone, loose, executable = (
        ingest_bytes(image_bytes(make_scene(seed)), collection=collection, path=f"{seed}")
        for seed in (304, 305, 306)
    )
    for outcome in (lone, loose, executable):
        asset_quarantine(asset=outcome.asset, reason="superseded", actor=archivist)
    to_approve = disposition_request_create(assets=[copy], reason="duplicate", actor=archivist)
    to_execute = disposition_request_create(
        assets=[executable.asset], reason="superseded", actor=archivist
    )
    second_officer = get_user_model().objects.create_user("officer2")
    second_officer.groups.add(Group.objects.get(name="Compliance"))
    second_officer = get_user_model().objects.get(pk=second_officer.pk)
    disposition_request_approve(request=to_execute, actor=second_officer)
    return World(
        intake=_waiting_at_the_gate(308),
        pending=candidate_of(a, b),
        pixel=candidate_of(png, bmp),
        group=group,
        consolidation=consolidation,
        replaced=Asset.objects.get(pk=copy.pk),
        entry=entry,
        licence=licence,
        conflict=[a, b],
        hold=hold,
        quarantine=QuarantineRecord.objects.get(asset=lone.asset),
        loose=loose.asset,
        to_approve=to_approve,
        to_execute=to_execute,
    )


@pytest.fixture
def sqlite_waits_for_locks():
    """Give SQLite's in-memory test database the waiting a file database already does.

    The application's SQLite file waits up to 30 s for a competing writer (busy timeout,
    `BEGIN IMMEDIATE`), so the second of two concurrent requests queues behind the first.
    The test database is in-memory with a shared cache, whose table locks fail at once
    (SQLITE_LOCKED) instead: here reads skip those locks (`read_uncommitted`, harmless
    because every decision is re-read inside the writer's lock) and `BEGIN` is retried
    until the writer commits. PostgreSQL needs nothing: its row locks queue by themselves.
    """
    if connection.vendor != "sqlite":
        yield
        return
    from django.db.backends.sqlite3.base import DatabaseWrapper

    begin = DatabaseWrapper._start_transaction_under_autocommit

    def begin_when_free(self):
        deadline = time.monotonic() + 30
        while True:
            try:
                return begin(self)
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def skip_read_locks(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")

    DatabaseWrapper._start_transaction_under_autocommit = begin_when_free
    connection_created.connect(skip_read_locks)
    try:
        yield
    finally:
        DatabaseWrapper._start_transaction_under_autocommit = begin
        connection_created.disconnect(skip_read_locks)


def run_together(*calls):
    """Run each call in its own thread (its own database connection), released at once."""
    start, results, errors = threading.Barrier(len(calls)), [None] * len(calls), []

    def run(index, call):
        start.wait()
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return results
