"""Attacks on the intake gate and the web upload prompt: decisions racing each other and a
purge, identical uploads staged at once, hostile files and names, other people's uploads,
and fuzzed API decisions. Nobody may lose staged bytes, and nobody gets a 500."""

import io
import threading

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive.intake as intake
from archive.errors import ArchiveError
from archive.ingest import IngestStatus
from archive.intake import intake_decide
from archive.lifecycle import lifecycle_writes
from archive.models import Asset, AuditEvent, Collection, IntakeItem
from tests.api.conftest import token_client
from tests.archive.helpers import ingest_bytes
from tests.archive.people import role_member
from tests.conftest import image_bytes, make_scene

UPLOAD = "/admin/archive/intakeitem/upload/"


def _gate(collection):
    collection.intake_policy = Collection.IntakePolicy.HOLD
    collection.save()
    return collection


def _held(collection, seed=7, path="a-small.jpg"):
    """An original in the archive and a smaller copy of it waiting at the gate."""
    scene = make_scene(seed)
    original = ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    copy = image_bytes(scene.resize((160, 120)), quality=70)
    outcome = ingest_bytes(copy, collection=collection, path=path)
    assert outcome.status == IngestStatus.HELD
    return original.asset, IntakeItem.objects.get(pk=outcome.findings["intake_item"]), copy


def _staged(item) -> bytes | None:
    item.refresh_from_db()
    storage = storages[item.staged_alias or "hot"]
    if not item.staged_key or not storage.exists(item.staged_key):
        return None
    with storage.open(item.staged_key, "rb") as fp:
        return fp.read()


def _kept(item, copy) -> bool:
    """The upload's bytes survive: still staged, or held by a live asset."""
    return _staged(item) == copy or (
        Asset.objects.holding_bytes().filter(sha256=item.sha256).exists()
    )


@pytest.fixture
def curators(db):
    return role_member("Archivist", "curator-a"), role_member("Archivist", "curator-b")


# --- Decisions racing a purge -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("choice", ["use_existing", "add_record"])
def test_a_decision_for_a_purged_match_is_refused_and_the_upload_kept(collection, curators, choice):
    """'Use the existing record' of an asset purged since the upload arrived would discard
    the only copy of the picture left: refused, the staged bytes stay."""
    original, item, copy = _held(_gate(collection))
    with lifecycle_writes():
        Asset.objects.filter(pk=original.pk).update(state=Asset.State.PURGED)

    with pytest.raises(ArchiveError, match="purged"):
        intake_decide(item=item, choice=choice, reason="same", actor=curators[0])

    assert _staged(item) == copy
    assert item.status == IntakeItem.Status.WAITING
    # Storing it anyway still works afterwards.
    stored = intake_decide(
        item=item, choice="store", reason="the original is gone", actor=curators[0]
    )
    assert stored.asset.sha256 == item.sha256


@pytest.mark.django_db(transaction=True)
def test_a_decision_cut_short_whose_match_was_purged_since_is_not_stuck(collection, curators):
    """Killed after claiming "use the existing record"; the match is purged before anyone
    decides again: the retry is refused and the upload waits again, to be stored."""
    original, item, copy = _held(_gate(collection))
    IntakeItem.objects.filter(pk=item.pk).update(
        status=IntakeItem.Status.DECIDING, choice="use_existing", target=original
    )
    with lifecycle_writes():
        Asset.objects.filter(pk=original.pk).update(state=Asset.State.PURGED)

    with pytest.raises(ArchiveError, match="purged"):
        intake_decide(item=item, choice="use_existing", reason="again", actor=curators[0])

    item.refresh_from_db()
    assert item.status == IntakeItem.Status.WAITING
    assert _staged(item) == copy
    stored = intake_decide(item=item, choice="store", reason="gone", actor=curators[1])
    assert stored.asset.sha256 == item.sha256


# --- Two curators at once ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("choice", ["store", "add_record", "use_existing"])
def test_two_curators_making_the_same_choice_at_once_carry_it_out_once(
    collection, curators, monkeypatch, choice
):
    """The second curator arrives while the first one's decision is under way (claimed,
    not finished): the decision is carried out once, the other gets a clear refusal."""
    original, item, copy = _held(_gate(collection))
    first, second = curators
    results = []
    real = intake.crash_point

    def interleave(name):
        real(name)
        if name == "intake.claimed" and not results:
            results.append("second ran")
            try:
                results.append(intake_decide(item=item, choice=choice, reason="b", actor=second))
            except ArchiveError as exc:
                results.append(exc)

    monkeypatch.setattr(intake, "crash_point", interleave)
    try:
        outcome = intake_decide(item=item, choice=choice, reason="a", actor=first)
    except ArchiveError as exc:
        outcome = exc
    monkeypatch.setattr(intake, "crash_point", real)

    done = [r for r in (outcome, results[1]) if not isinstance(r, ArchiveError)]
    refused = [r for r in (outcome, results[1]) if isinstance(r, ArchiveError)]
    assert len(done) == 1 and len(refused) == 1, (outcome, results)
    assert "already" in refused[0].message
    item.refresh_from_db()
    assert item.status in IntakeItem.DONE
    verbs = AuditEvent.objects.filter(object_id=str(item.pk), verb__startswith="intake.")
    assert verbs.exclude(verb="intake.held").count() == 1
    if choice == "store":
        assert Asset.objects.filter(sha256=item.sha256).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_curators_choosing_differently_at_once_on_postgresql(collection, curators):
    """Real threads on PostgreSQL: one choice wins, the other is a clear conflict."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks race on PostgreSQL; SQLite serialises writers")
    original, item, copy = _held(_gate(collection))
    barrier = threading.Barrier(2)
    results = {}

    def decide(actor, choice):
        try:
            barrier.wait()
            results[choice] = intake_decide(item=item, choice=choice, reason="x", actor=actor)
        except ArchiveError as exc:
            results[choice] = exc
        except Exception as exc:  # a 500 in the making
            results[choice] = ("crash", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(curators[0], "store")),
        threading.Thread(target=decide, args=(curators[1], "use_existing")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not [r for r in results.values() if isinstance(r, tuple)], results
    wins = [c for c, r in results.items() if not isinstance(r, ArchiveError)]
    assert len(wins) == 1, results
    item.refresh_from_db()
    assert item.choice == wins[0]
    assert item.status in IntakeItem.DONE
    assert _kept(item, copy) or wins == ["use_existing"]


# --- Identical uploads staged at once ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("choice", ["use_existing", "add_record", "store"])
def test_a_decision_while_an_identical_upload_is_being_staged_loses_nothing(
    collection, curators, monkeypatch, choice
):
    """Upload B (the same bytes as waiting upload A) has written its staged file but not yet
    its item when a curator decides A: B must still have its bytes afterwards."""
    original, first, copy = _held(_gate(collection))
    real = intake.crash_point
    decided = []

    def interleave(name):
        real(name)
        if name == "intake.staged" and not decided:
            decided.append(intake_decide(item=first, choice=choice, reason="a", actor=curators[0]))

    monkeypatch.setattr(intake, "crash_point", interleave)
    outcome = ingest_bytes(copy, collection=collection, path="again/a-small.jpg")
    monkeypatch.setattr(intake, "crash_point", real)
    assert decided

    if outcome.status == IngestStatus.HELD:
        second = IntakeItem.objects.get(pk=outcome.findings["intake_item"])
        assert _staged(second) == copy, "the second upload's staged bytes were deleted"
        stored = intake_decide(item=second, choice="store", reason="b", actor=curators[1])
        assert stored.asset.sha256 == second.sha256
    else:  # the first decision stored the bytes: the second upload is another record of them
        assert outcome.asset.sha256 == first.sha256


# --- Who may decide ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_operator_cannot_decide_a_hold_gate_item_by_web_or_api(client, collection):
    gate = _gate(collection)
    operator = role_member("Operator", "op")
    client.force_login(operator)
    scene = make_scene(31)
    ingest_bytes(image_bytes(scene, quality=92), collection=gate, path="a.jpg")
    upload = SimpleUploadedFile("copy.jpg", image_bytes(scene.resize((160, 120)), quality=60))
    response = client.post(UPLOAD, {"collection": gate.pk, "file": upload})
    item = IntakeItem.objects.get()
    assert item.via == IntakeItem.Via.WEB and item.created_by == operator
    assert response.status_code == 302

    for choice in IntakeItem.Choice.values:
        web = client.post(
            f"/admin/archive/intakeitem/{item.pk}/decide/", {choice: "1", "reason": "mine"}
        )
        assert web.status_code == 403
        api = token_client(operator).post(
            f"/api/v1/intake/{item.pk}/decision/", {"choice": choice, "reason": "x"}, format="json"
        )
        assert api.status_code == 403
    item.refresh_from_db()
    assert item.status == IntakeItem.Status.WAITING


@pytest.mark.django_db
def test_nobody_decides_another_users_web_upload(client, collection):
    scene = make_scene(33)
    ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    owner, other = role_member("Operator", "owner"), role_member("Operator", "other")
    client.force_login(owner)
    upload = SimpleUploadedFile("copy.jpg", image_bytes(scene.resize((160, 120)), quality=60))
    client.post(UPLOAD, {"collection": collection.pk, "file": upload})
    item = IntakeItem.objects.get()

    client.force_login(other)
    page = client.get(f"/admin/archive/intakeitem/{item.pk}/change/")
    assert page.status_code == 200
    assert b'name="store"' not in page.content  # no buttons for someone else's upload
    refused = client.post(
        f"/admin/archive/intakeitem/{item.pk}/decide/", {"use_existing": "1", "reason": "x"}
    )
    assert refused.status_code == 403
    item.refresh_from_db()
    assert item.status == IntakeItem.Status.WAITING
    assert _staged(item) is not None


@pytest.mark.django_db
def test_ids_that_do_not_exist_are_404_everywhere(client, collection):
    curator = role_member("Archivist", "cur")
    client.force_login(curator)
    for url in (
        "/admin/archive/intakeitem/999999/decide/",
        "/admin/archive/intakeitem/999999/image.jpg",
    ):
        assert client.get(url).status_code == 404
        assert client.post(url, {"store": "1", "reason": "x"}).status_code == 404
    api = token_client(curator)
    assert api.get("/api/v1/intake/999999/").status_code == 404
    response = api.post(
        "/api/v1/intake/999999/decision/", {"choice": "store", "reason": "x"}, format="json"
    )
    assert response.status_code == 404


# --- Hostile files ----------------------------------------------------------------------

HOSTILE = {
    "page.html": b"<!doctype html><html><script>alert(document.cookie)</script></html>",
    "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "fake.jpg": b"<html><body onload=alert(1)>not a jpeg</body></html>",
    "empty.png": b"",
    "noise.gif": bytes(range(256)) * 64,
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_html_svg_and_non_image_uploads_are_refused_and_never_staged(client, collection, name):
    client.force_login(role_member("Operator", "op"))
    upload = SimpleUploadedFile(name, HOSTILE[name], content_type="text/html")
    response = client.post(UPLOAD, {"collection": collection.pk, "file": upload})

    assert response.status_code == 200
    assert b"Not stored" in response.content or b"empty" in response.content.lower()
    assert b"<script>alert" not in response.content
    assert not IntakeItem.objects.exists()
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_the_staged_thumbnail_is_a_jpeg_even_if_the_staged_file_is_replaced_by_html(
    client, collection
):
    """Whatever lies in the staging folder, the thumbnail view re-encodes it or refuses; it
    never sends the staged bytes back (they could be HTML)."""
    original, item, copy = _held(_gate(collection))
    client.force_login(role_member("Archivist", "cur"))
    storage = storages[item.staged_alias]
    storage.delete(item.staged_key)
    storage.save(item.staged_key, io.BytesIO(HOSTILE["page.html"]))

    response = client.get(f"/admin/archive/intakeitem/{item.pk}/image.jpg")

    assert response.status_code in (404, 422)
    assert response["Content-Type"].startswith("text/plain") or response.status_code == 404
    assert b"<script>" not in b"".join(getattr(response, "streaming_content", [response.content]))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "x" * 300 + ".jpg",
        "../../../etc/passwd.jpg",
        "a\x00b.jpg",
        "\u202egpj.exe.jpg",
        "ｃｏｐｙ.jpg",
    ],
    ids=["long", "traversal", "nul", "rtl", "fullwidth"],
)
def test_odd_filenames_on_a_staged_web_upload_are_kept_harmless(client, collection, name):
    scene = make_scene(41)
    ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    client.force_login(role_member("Operator", "op"))
    upload = SimpleUploadedFile(name, image_bytes(scene.resize((160, 120)), quality=60))
    response = client.post(UPLOAD, {"collection": collection.pk, "file": upload})

    assert response.status_code in (200, 302)
    item = IntakeItem.objects.filter(via=IntakeItem.Via.WEB).first()
    if item is not None:
        assert item.staged_key.startswith("intake/")
        assert "/" not in item.path and "\x00" not in item.path
        page = client.get(f"/admin/archive/intakeitem/{item.pk}/change/")
        assert page.status_code == 200


# --- Fuzzed API decisions ---------------------------------------------------------------


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "choice": st.one_of(
                st.sampled_from(IntakeItem.Choice.values), st.text(max_size=20), st.integers()
            ),
            "reason": st.one_of(st.text(max_size=50), st.none(), st.integers()),
            "target": st.one_of(
                st.integers(min_value=-(2**70), max_value=2**70),
                st.text(max_size=10),
                st.none(),
                st.lists(st.integers(), max_size=2),
            ),
        },
    )
)
def test_fuzzed_decisions_through_the_api_are_4xx_or_carried_out(api_world, body):
    api, item_id = api_world
    response = api.post(f"/api/v1/intake/{item_id}/decision/", body, format="json")

    assert response.status_code in (200, 400, 404, 409), (response.status_code, body)
    item = IntakeItem.objects.get(pk=item_id)
    if response.status_code == 200:
        assert item.status in IntakeItem.DONE
        assert item.target_id in (None, *[m["asset"] for m in item.matches])
        # Put it back to waiting for the next example (a fresh item).
        api_world[1] = _fresh_item(item)
    else:
        assert item.status == IntakeItem.Status.WAITING


def _fresh_item(item):
    scene = make_scene(len(IntakeItem.objects.all()) + 500)
    ingest_bytes(image_bytes(scene, quality=92), collection=item.collection, path="o.jpg")
    outcome = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=60), collection=item.collection, path="c.jpg"
    )
    return outcome.findings["intake_item"]


@pytest.fixture
def api_world(db, collection):
    original, item, _ = _held(_gate(collection))
    return [token_client(role_member("Archivist", "fuzz")), item.pk]


def _png_header_only(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "damage",
    ["truncated-jpeg", "pixel-flood-png", "truncated-png", "jpeg-header-garbage"],
)
def test_a_broken_or_bomb_staged_file_gets_a_clear_answer_from_the_thumbnail(
    client, collection, damage
):
    original, item, copy = _held(_gate(collection))
    client.force_login(role_member("Archivist", "cur"))
    content = {
        "truncated-jpeg": copy[: len(copy) // 3],
        "pixel-flood-png": _png_header_only(60000, 60000),
        "truncated-png": image_bytes(make_scene(3), fmt="PNG")[:900],
        "jpeg-header-garbage": copy[:200] + bytes(range(256)) * 8,
    }[damage]
    storage = storages[item.staged_alias]
    storage.delete(item.staged_key)
    storage.save(item.staged_key, io.BytesIO(content))

    response = client.get(f"/admin/archive/intakeitem/{item.pk}/image.jpg")

    assert response.status_code in (200, 404, 422), response.status_code
    if response.status_code == 200:
        assert response["Content-Type"] == "image/jpeg"


# --- A match that is leaving the archive ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("choice", ["use_existing", "add_record"])
def test_a_quarantined_match_cannot_take_the_upload_in_its_place(collection, curators, choice):
    """The matched asset went to quarantine (due to be purged) while the upload waited:
    using it would leave the upload with no copy kept once the window closes."""
    from retention.services import asset_quarantine

    original, item, copy = _held(_gate(collection))
    asset_quarantine(asset=original, reason="superseded", actor=curators[0])

    with pytest.raises(ArchiveError, match="in quarantine"):
        intake_decide(item=item, choice=choice, reason="same picture", actor=curators[0])

    item.refresh_from_db()
    assert item.status == IntakeItem.Status.WAITING
    assert _staged(item) == copy
    stored = intake_decide(item=item, choice="store", reason="keep it", actor=curators[1])
    assert stored.asset.state == Asset.State.ACTIVE and stored.asset.sha256 == item.sha256
