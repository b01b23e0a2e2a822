"""Retention policies: seeded defaults, versioned changes, matching by specificity."""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from archive.errors import ArchiveError
from archive.models import AuditEvent
from retention.models import RetentionPolicy
from retention.policies import (
    policies_matching,
    policies_seed_defaults,
    policy_change,
    policy_create,
    policy_effective,
)
from tests.archive.helpers import ingest_picture
from tests.archive.people import person

pytestmark = pytest.mark.django_db


def current(key):
    return RetentionPolicy.objects.get(key=key, is_current=True)


class TestDefaults:
    def test_originals_and_published_copies_are_kept_forever(self):
        assert current("originals-keep-forever").keep_forever is True
        assert current("published-keep-forever").keep_forever is True
        replaced = current("replaced-duplicates")
        assert (replaced.quarantine_window_days, replaced.purge_after_window) == (30, True)

    def test_seeding_again_creates_nothing(self):
        assert policies_seed_defaults() == []
        call_command("seed_retention_policies", stdout=StringIO())
        assert RetentionPolicy.objects.count() == 3


class TestVersions:
    def test_a_change_writes_a_new_version_and_keeps_the_old(self):
        operator = person("op", "retention.change_retentionpolicy")
        old = current("originals-keep-forever")

        new = policy_change(policy=old, actor=operator, reason="cheaper", cold_after_days=365)

        old.refresh_from_db()
        assert (old.is_current, old.cold_after_days, old.superseded_at is not None) == (
            False,
            None,
            True,
        )
        assert (new.version, new.is_current, new.cold_after_days) == (2, True, 365)
        event = AuditEvent.objects.get(verb="policy.changed")
        assert (event.before["version"], event.after["version"]) == (1, 2)
        assert event.reason == "cheaper"

    def test_an_old_version_cannot_be_changed(self):
        old = current("originals-keep-forever")
        policy_change(policy=old, actor=None, cold_after_days=10)

        with pytest.raises(ArchiveError, match="not the current version"):
            policy_change(policy=old, actor=None, cold_after_days=20)

    def test_changing_needs_the_permission(self, user):
        with pytest.raises(ArchiveError, match="permission"):
            policy_change(policy=current("originals-keep-forever"), actor=user, cold_after_days=1)

    def test_keep_forever_never_purges(self):
        with pytest.raises(ValidationError):
            policy_change(
                policy=current("originals-keep-forever"), actor=None, purge_after_window=True
            )
        with pytest.raises(IntegrityError), transaction.atomic():
            RetentionPolicy.objects.create(
                key="x", name="x", keep_forever=True, purge_after_window=True
            )

    def test_one_current_version_per_policy(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            RetentionPolicy.objects.create(key="originals-keep-forever", version=9, name="x")


class TestMatching:
    def test_the_most_specific_policy_wins(self, collection):
        asset = ingest_picture(collection=collection, colour="red").asset
        specific = policy_create(
            key="field",
            actor=None,
            name="Field photos",
            collection=collection,
            cold_after_days=30,
        )

        assert policy_effective(asset=asset) == specific
        assert [p.key for p in policies_matching(asset=asset)] == [
            "field",
            "originals-keep-forever",
        ]
