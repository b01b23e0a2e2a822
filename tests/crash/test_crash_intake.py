"""The intake gate killed at every step: holding an upload, and each of the three choices.

A forked child runs the step with KEEPSAKE_CRASH_AT set to each point it passes (learned
first with KEEPSAKE_CRASH_RECORD) and dies there; the parent then does what a person does
(uploads again, or decides again with the same choice) and checks that the upload's bytes
were never lost and the decision was carried out exactly once.
"""

import io

import pytest
from django.core.files.storage import storages

from archive.errors import ArchiveError
from archive.ingest import IngestStatus, asset_ingest
from archive.intake import intake_decide
from archive.models import Asset, AuditEvent, Collection, IntakeItem
from archive.services import collection_get_or_create
from tests.conftest import image_bytes, make_scene
from tests.crash.cases import people
from tests.crash.forked import run_forked

_seeds = iter(range(9100, 9999))


def _gate():
    gate = collection_get_or_create(name="Crash gate")
    gate.intake_policy = Collection.IntakePolicy.HOLD
    gate.save()
    return gate


def _copy_of_new_original():
    seed = next(_seeds)
    scene = make_scene(seed)
    asset_ingest(
        fp=io.BytesIO(image_bytes(scene, quality=92)), path=f"o/{seed}.jpg", collection=_gate()
    )
    return seed, image_bytes(scene.resize((160, 120)), quality=65)


def _upload(seed, data):
    return asset_ingest(fp=io.BytesIO(data), path=f"c/{seed}.jpg", collection=_gate())


def _points(fn, tmp_path) -> list[str]:
    record = tmp_path / "points.txt"
    record.unlink(missing_ok=True)
    result = run_forked(fn, env={"KEEPSAKE_CRASH_RECORD": str(record)})
    assert result.ok, result.traceback
    points = record.read_text().split() if record.exists() else []
    return list(dict.fromkeys(points))


def _bytes_kept(sha256: str, data: bytes) -> bool:
    if Asset.objects.holding_bytes().filter(sha256=sha256).exists():
        return True
    for item in IntakeItem.objects.filter(sha256=sha256).exclude(staged_key=""):
        storage = storages[item.staged_alias]
        if storage.exists(item.staged_key):
            with storage.open(item.staged_key, "rb") as fp:
                return fp.read() == data
    return False


def test_an_upload_killed_while_being_held_is_held_on_the_next_try(tmp_path):
    seed, copy = _copy_of_new_original()
    points = [p for p in _points(lambda: _upload(seed, copy).status, tmp_path) if "intake" in p]
    assert "intake.staged" in points

    for point in points:
        seed, copy = _copy_of_new_original()
        crashed = run_forked(lambda s=seed, c=copy: _upload(s, c), env={"KEEPSAKE_CRASH_AT": point})
        assert crashed.crashed, (point, crashed.error)

        again = _upload(seed, copy)

        assert again.status == IngestStatus.HELD, (point, again.reason)
        items = IntakeItem.objects.filter(path=f"c/{seed}.jpg")
        assert items.filter(status=IntakeItem.Status.WAITING).exists(), point
        assert _bytes_kept(items.first().sha256, copy), point


@pytest.mark.parametrize("choice", ["store", "add_record", "use_existing"])
def test_a_decision_killed_at_every_step_is_finished_by_deciding_again(tmp_path, choice):
    curator, _ = people()

    def held():
        seed, copy = _copy_of_new_original()
        outcome = _upload(seed, copy)
        assert outcome.status == IngestStatus.HELD
        return IntakeItem.objects.get(pk=outcome.findings["intake_item"]), copy

    probe, _ = held()
    points = _points(
        lambda: intake_decide(item=probe, choice=choice, reason="r", actor=curator).message,
        tmp_path,
    )
    assert "intake.claimed" in points

    for point in points:
        item, copy = held()
        crashed = run_forked(
            lambda item=item: intake_decide(item=item, choice=choice, reason="r", actor=curator),
            env={"KEEPSAKE_CRASH_AT": point},
        )
        assert crashed.crashed, (point, crashed.error)

        try:
            intake_decide(item=item, choice=choice, reason="r", actor=curator)
        except ArchiveError as exc:  # the child's decision had committed before it died
            assert "already decided" in exc.message, (point, exc.message)

        item.refresh_from_db()
        assert item.status in IntakeItem.DONE, (point, item.status)
        decided = AuditEvent.objects.filter(object_id=str(item.pk), verb__startswith="intake.")
        assert decided.exclude(verb="intake.held").count() == 1, point
        if choice == "store":
            assert _bytes_kept(item.sha256, copy), point
