"""The destructive operations crash tests interrupt, each as a small case.

A case prepares fresh assets through the services (committed, so a forked child sees
them), names the operation the child runs, says whether the operation took effect, can
run it again (what a user does after a crash: retry), and lists what must be true once it
finished. Every preparation draws new pictures, so cases share one database and the
archive-wide invariants see all of them at once.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from archive.ingest import asset_ingest
from archive.models import Asset, CatalogueEntry
from archive.services import collection_get_or_create
from tests.conftest import image_bytes, make_scene

# Past every lease a worker takes on a move (retention.moves.MOVE_LEASE is 10 minutes):
# the resumer of a crashed process is a later process.
RESUME_LATER = timedelta(minutes=15)


def people():
    """Two people with every permission (a disposition needs a second person)."""
    users = get_user_model().objects
    alice = users.filter(username="alice").first() or users.create_superuser("alice")
    bob = users.filter(username="bob").first() or users.create_superuser("bob")
    return users.get(pk=alice.pk), users.get(pk=bob.pk)


def picture(seed: int, *, published: bool = False, size=(320, 240), quality=90) -> Asset:
    """A new asset holding a busy scene drawn from seed, stored at size."""
    scene = make_scene(seed)
    if size != scene.size:
        scene = scene.resize(size)
    collection = collection_get_or_create(name="Crash tests")
    outcome = asset_ingest(
        fp=io.BytesIO(image_bytes(scene, quality=quality)),
        path=f"crash/{seed}-{size[0]}.jpg",
        collection=collection,
        published=published,
    )
    return Asset.objects.get(pk=outcome.asset.pk)


def pair(seed: int):
    """An original and its smaller recompressed copy, flagged as a candidate pair."""
    from dedup.models import DuplicateCandidate

    big = picture(seed, published=True, size=(320, 240), quality=95)
    small = picture(seed, size=(160, 120), quality=60)
    lo, hi = sorted([big.pk, small.pk])
    candidate = DuplicateCandidate.objects.get(asset_a_id=lo, asset_b_id=hi)
    return big, small, candidate


def fresh(asset: Asset) -> Asset:
    return Asset.objects.get(pk=asset.pk)


def window_closed(asset: Asset) -> None:
    """Pretend the asset's restore window closed a day ago."""
    from retention.models import QuarantineRecord

    now = timezone.now()
    QuarantineRecord.objects.filter(
        asset=asset, restored_at__isnull=True, purged_at__isnull=True
    ).update(quarantined_at=now - timedelta(days=31), restore_deadline=now - timedelta(days=1))


def resumers() -> dict:
    """Every resumer the services provide, run as a later process would (leases expired)."""
    from retention.moves import moves_resume

    real_now = timezone.now
    outcomes = {}
    with mock.patch("django.utils.timezone.now", lambda: real_now() + RESUME_LATER):
        for round_ in range(3):
            counts = moves_resume()
            outcomes[f"moves_resume#{round_ + 1}"] = counts
            if not counts:
                break
    return outcomes


@dataclass
class Case:
    """One destructive operation: prepare, run (in the child), done?, retry, expectations."""

    name: str
    prepare: Callable[[int], dict]
    run: Callable[[dict], object]
    done: Callable[[dict], bool]
    expect: Callable[[dict], list[str]]

    def retry(self, ctx: dict) -> None:
        self.run(ctx)


def _expect(condition: bool, message: str) -> list[str]:
    return [] if condition else [message]


# --- consolidate ------------------------------------------------------------------------


def _consolidate_prepare(seed: int) -> dict:
    alice, _ = people()
    big, small, candidate = pair(seed)
    return {"alice": alice, "big": big, "small": small, "candidate": candidate}


def _consolidate_run(ctx: dict):
    from dedup.review import Decision, candidate_decide

    candidate_decide(
        candidate=ctx["candidate"],
        decision=Decision.CONFIRM,
        actor=ctx["alice"],
        canonical=ctx["big"],
        reason="crash test",
    )


def _consolidate_done(ctx: dict) -> bool:
    from dedup.models import Consolidation

    return Consolidation.objects.filter(canonical=ctx["big"], replaced=ctx["small"]).exists()


def _consolidate_expect(ctx: dict) -> list[str]:
    small = fresh(ctx["small"])
    entries = CatalogueEntry.objects.filter(
        Q(asset=ctx["small"]) | Q(source__asset=ctx["small"])
    ).exclude(asset=ctx["big"])
    return (
        _expect(small.replaced_by_id == ctx["big"].pk, f"asset {small.pk} not replaced")
        + _expect(small.state == Asset.State.QUARANTINED, f"asset {small.pk} is {small.state}")
        + _expect(
            small.storage_alias == Asset.Tier.QUARANTINE,
            f"asset {small.pk} bytes in {small.storage_alias}, not quarantine",
        )
        + _expect(not entries.exists(), f"entries of {small.pk} not repointed")
    )


# --- undo -------------------------------------------------------------------------------


def _undo_prepare(seed: int) -> dict:
    from dedup.models import Consolidation

    ctx = _consolidate_prepare(seed)
    _consolidate_run(ctx)
    resumers()
    ctx["consolidation"] = Consolidation.objects.get(canonical=ctx["big"], replaced=ctx["small"])
    return ctx


def _undo_run(ctx: dict):
    from dedup.consolidation import consolidation_undo

    consolidation_undo(consolidation=ctx["consolidation"], actor=ctx["alice"], reason="crash")


def _undo_done(ctx: dict) -> bool:
    ctx["consolidation"].refresh_from_db()
    return ctx["consolidation"].undone_at is not None


def _undo_expect(ctx: dict) -> list[str]:
    small = fresh(ctx["small"])
    entry_home = CatalogueEntry.objects.filter(source__asset=small).exclude(asset=small)
    return (
        _expect(small.state == Asset.State.ACTIVE, f"asset {small.pk} is {small.state}")
        + _expect(small.replaced_by_id is None, f"asset {small.pk} still replaced")
        + _expect(
            small.storage_alias in (Asset.Tier.HOT, Asset.Tier.COLD),
            f"restored asset {small.pk} left in {small.storage_alias}",
        )
        + _expect(not entry_home.exists(), f"entries of {small.pk} not given back")
    )


# --- quarantine -------------------------------------------------------------------------


def _quarantine_prepare(seed: int) -> dict:
    alice, _ = people()
    return {"alice": alice, "asset": picture(seed)}


def _quarantine_run(ctx: dict):
    from retention.services import asset_quarantine

    asset_quarantine(asset=ctx["asset"], reason="crash test", actor=ctx["alice"])


def _quarantine_done(ctx: dict) -> bool:
    return fresh(ctx["asset"]).state == Asset.State.QUARANTINED


def _quarantine_expect(ctx: dict) -> list[str]:
    asset = fresh(ctx["asset"])
    return _expect(
        (asset.state, asset.storage_alias) == (Asset.State.QUARANTINED, Asset.Tier.QUARANTINE),
        f"asset {asset.pk} is {asset.state} in {asset.storage_alias}",
    )


# --- restore ----------------------------------------------------------------------------


def _restore_prepare(seed: int) -> dict:
    ctx = _quarantine_prepare(seed)
    _quarantine_run(ctx)
    resumers()
    return ctx


def _restore_run(ctx: dict):
    from retention.services import asset_restore

    asset_restore(asset=ctx["asset"], actor=ctx["alice"], reason="crash test")


def _restore_done(ctx: dict) -> bool:
    return fresh(ctx["asset"]).state == Asset.State.ACTIVE


def _restore_expect(ctx: dict) -> list[str]:
    asset = fresh(ctx["asset"])
    return _expect(
        (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, Asset.Tier.HOT),
        f"asset {asset.pk} is {asset.state} in {asset.storage_alias}",
    )


# --- move -------------------------------------------------------------------------------


def _move_run(ctx: dict):
    from retention.moves import asset_move

    asset_move(asset=ctx["asset"], to_alias=Asset.Tier.COLD, actor=ctx["alice"])


def _move_done(ctx: dict) -> bool:
    return fresh(ctx["asset"]).storage_alias == Asset.Tier.COLD


def _move_expect(ctx: dict) -> list[str]:
    asset = fresh(ctx["asset"])
    return _expect(
        (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, Asset.Tier.COLD),
        f"asset {asset.pk} is {asset.state} in {asset.storage_alias}",
    )


# --- purge ------------------------------------------------------------------------------


def _purge_prepare(seed: int) -> dict:
    from dedup.consolidation import consolidation_execute
    from retention.purge import disposition_request_approve, disposition_request_create

    alice, bob = people()
    # Originals are kept forever by the default policies; replaced duplicates may go.
    # Two in one request, so a crash can fall between the two purges.
    canonical = picture(seed, published=True)
    assets = [picture(seed, size=(160, 120)), picture(seed, size=(200, 150))]
    consolidation_execute(canonical=canonical, replaced=assets, candidates=[], actor=alice)
    resumers()
    for asset in assets:
        window_closed(asset)
    request = disposition_request_create(assets=assets, reason="crash test", actor=alice)
    disposition_request_approve(request=request, actor=bob)
    return {"alice": alice, "bob": bob, "assets": assets, "request": request}


def _purge_run(ctx: dict):
    from retention.models import DispositionRequest
    from retention.purge import disposition_execute

    request = DispositionRequest.objects.get(pk=ctx["request"].pk)
    return disposition_execute(request=request, actor=ctx["bob"])


def _purge_done(ctx: dict) -> bool:
    return all(fresh(a).state == Asset.State.PURGED for a in ctx["assets"])


def _purge_expect(ctx: dict) -> list[str]:
    found = []
    for asset in map(fresh, ctx["assets"]):
        found += _expect(asset.state == Asset.State.PURGED, f"asset {asset.pk} is {asset.state}")
    return found


CASES = {
    case.name: case
    for case in (
        Case(
            "consolidate",
            _consolidate_prepare,
            _consolidate_run,
            _consolidate_done,
            _consolidate_expect,
        ),
        Case("undo", _undo_prepare, _undo_run, _undo_done, _undo_expect),
        Case(
            "quarantine", _quarantine_prepare, _quarantine_run, _quarantine_done, _quarantine_expect
        ),
        Case("restore", _restore_prepare, _restore_run, _restore_done, _restore_expect),
        Case("move", _quarantine_prepare, _move_run, _move_done, _move_expect),
        Case("purge", _purge_prepare, _purge_run, _purge_done, _purge_expect),
    )
}
