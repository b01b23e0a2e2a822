"""An asset's state, storage pointer and replacement change only through the lifecycle:
save(), update() and bulk_update() refuse them elsewhere; the lifecycle's transitions work."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.actors import SYSTEM
from archive.audit import audited
from archive.errors import ArchiveError
from archive.lifecycle import LIFECYCLE_FIELDS, Transition, asset_lock, asset_transition
from archive.models import ASSET_LIFECYCLE_FIELDS, Asset, AuditEvent
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db

REFUSED = "change only through its lifecycle"


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal").asset


@pytest.fixture
def other(collection):
    return ingest_picture(collection=collection, colour="purple").asset


def new_values(asset, other) -> dict:
    return {
        "state": Asset.State.QUARANTINED,
        "storage_alias": Asset.Tier.COLD,
        "storage_key": "elsewhere/" + asset.storage_key,
        "replaced_by": other,
    }


def columns(asset) -> tuple:
    row = Asset.objects.filter(pk=asset.pk).values_list(*LIFECYCLE_FIELDS).get()
    return row


def refused(run):
    with pytest.raises(ArchiveError, match=REFUSED), transaction.atomic():
        run()


def transition(asset, kind, **kwargs):
    with audited():
        return asset_transition(asset=asset_lock(asset), transition=kind, actor=SYSTEM, **kwargs)


def test_the_model_names_the_lifecycles_columns():
    assert ASSET_LIFECYCLE_FIELDS == LIFECYCLE_FIELDS


# Every way the ORM writes an existing row, outside the lifecycle.
WRITES = {
    "save": lambda asset, name, value: (setattr(asset, name, value), asset.save()),
    "save named": lambda asset, name, value: (
        setattr(asset, name, value),
        asset.save(update_fields=[name]),
    ),
    "update": lambda asset, name, value: Asset.objects.filter(pk=asset.pk).update(**{name: value}),
    "update by column": lambda asset, name, value: Asset.objects.filter(pk=asset.pk).update(
        **{Asset._meta.get_field(name).attname: getattr(value, "pk", value)}
    ),
    "bulk_update": lambda asset, name, value: (
        setattr(asset, name, value),
        Asset.objects.bulk_update([asset], [name]),
    ),
}


class TestOutsideTheLifecycle:
    @pytest.mark.parametrize("path", WRITES)
    @pytest.mark.parametrize("name", LIFECYCLE_FIELDS)
    def test_every_write_path_is_refused(self, asset, other, name, path):
        before = columns(asset)
        value = new_values(asset, other)[name]

        refused(lambda: WRITES[path](Asset.objects.get(pk=asset.pk), name, value))

        assert columns(asset) == before

    def test_a_new_asset_is_refused(self, asset):
        fields = {
            f.name: getattr(asset, f.name)
            for f in Asset._meta.concrete_fields
            if not f.primary_key and f.name != "sha256"
        }

        with pytest.raises(ArchiveError, match="created by the lifecycle"):
            Asset(**fields, sha256="b" * 64).save()
        with pytest.raises(ArchiveError, match="created by the lifecycle"):
            Asset.objects.create(**fields, sha256="c" * 64)

        assert Asset.objects.count() == 1

    def test_other_columns_still_change(self, asset):
        loaded = Asset.objects.get(pk=asset.pk)
        loaded.exif = {"Make": "Test"}
        loaded.save()
        Asset.objects.filter(pk=asset.pk).update(original_filename="renamed.jpg")
        loaded.refresh_from_db()
        loaded.original_path = "moved/teal.jpg"
        loaded.save(update_fields=["original_path"])

        loaded = Asset.objects.get(pk=asset.pk)
        assert (loaded.exif, loaded.original_filename, loaded.original_path) == (
            {"Make": "Test"},
            "renamed.jpg",
            "moved/teal.jpg",
        )

    def test_a_stale_instance_never_writes_an_old_state_back(self, asset):
        """Loaded before a transition, saved after it: the transition stays."""
        stale = Asset.objects.get(pk=asset.pk)
        transition(asset, Transition.QUARANTINE, reason="test")

        stale.exif = {"Note": "edited meanwhile"}
        stale.save()

        row = Asset.objects.get(pk=asset.pk)
        assert (row.state, row.exif) == (Asset.State.QUARANTINED, {"Note": "edited meanwhile"})

    def test_a_refreshed_instance_compares_with_the_new_values(self, asset):
        loaded = Asset.objects.get(pk=asset.pk)
        transition(asset, Transition.QUARANTINE, reason="test")
        loaded.refresh_from_db()

        loaded.exif = {"k": 1}
        loaded.save()
        loaded.state = Asset.State.ACTIVE
        refused(loaded.save)

        assert columns(asset)[0] == Asset.State.QUARANTINED


class TestThroughTheLifecycle:
    def test_transitions_change_every_lifecycle_column(self, asset, other):
        moved = {"storage_alias": Asset.Tier.COLD, "storage_key": "cold/" + asset.storage_key}

        transition(asset, Transition.MOVE, changes=moved)
        assert columns(asset)[1:3] == (Asset.Tier.COLD, "cold/" + asset.storage_key)

        transition(asset, Transition.REPLACE, changes={"replaced_by": other})
        transition(asset, Transition.QUARANTINE, reason="replaced")
        assert columns(asset)[0] == Asset.State.QUARANTINED
        assert columns(asset)[3] == other.pk

        transition(asset, Transition.RESTORE, reason="restored")
        assert (columns(asset)[0], columns(asset)[3]) == (Asset.State.ACTIVE, None)

        verbs = AuditEvent.objects.filter(object_type="archive.asset", object_id=str(asset.pk))
        assert {"asset.moved", "asset.replaced", "asset.quarantined", "asset.restored"} <= set(
            verbs.values_list("verb", flat=True)
        )

    def test_ingest_creates_through_the_lifecycle(self, collection):
        outcome = ingest_picture(collection=collection, colour="olive")

        assert outcome.asset.state == Asset.State.ACTIVE
        assert AuditEvent.objects.filter(
            verb="asset.ingested", object_id=str(outcome.asset.pk)
        ).exists()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    attempts=st.lists(
        st.tuples(st.sampled_from(LIFECYCLE_FIELDS), st.sampled_from(sorted(WRITES))),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_writes_outside_leaves_the_columns_alone(asset, other, attempts):
    """Interleaved with the lifecycle's own moves, no outside write ever lands."""
    for step, (name, path) in enumerate(attempts):
        if step % 2:
            key = f"step{step}/{asset.storage_key.rsplit('/', 1)[-1]}"
            transition(asset, Transition.MOVE, changes={"storage_key": key})
        before = columns(asset)
        loaded = Asset.objects.get(pk=asset.pk)
        refused(
            lambda loaded=loaded, name=name, path=path: WRITES[path](
                loaded, name, new_values(loaded, other)[name]
            )
        )
        assert columns(asset) == before
