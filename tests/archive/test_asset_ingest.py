"""asset_ingest and the ingest command: idempotent by content, bad input recorded."""

import io
import os
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from PIL import Image, TiffImagePlugin

from archive.ingest import (
    EntryMetadata,
    IngestStatus,
    _asset_create,
    _entry_build,
    asset_ingest,
    ingest_analyse,
)
from archive.models import Asset, AssetSource, AuditEvent, CatalogueEntry, IngestRejection
from archive.storage import digest_file
from tests.archive.helpers import ingest_bytes, ingest_picture
from tests.conftest import image_bytes, make_image

pytestmark = pytest.mark.django_db


def stored_files(alias="hot") -> list[str]:
    root = Path(storages[alias].location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def run_ingest(*args, **options) -> str:
    out = io.StringIO()
    call_command("ingest", *map(str, args), stdout=out, no_progress=True, **options)
    return out.getvalue()


class TestAssetIngest:
    def test_new_bytes_are_stored_once_with_entry_source_and_audit(self, collection, user):
        outcome = ingest_picture(collection=collection, actor=user, path="survey/a.jpg")

        asset = outcome.asset
        assert outcome.status == IngestStatus.NEW
        assert (asset.format, asset.width, asset.height) == ("JPEG", 96, 64)
        assert asset.original_path == "survey/a.jpg"
        assert asset.original_filename == "a.jpg"
        assert asset.ingested_by == user
        with storages["hot"].open(asset.storage_key, "rb") as fp:
            assert digest_file(fp) == (asset.sha256, asset.size)
        assert outcome.entry.asset == asset
        assert outcome.entry.title == "a.jpg"
        assert list(asset.sources.values_list("path", flat=True)) == ["survey/a.jpg"]
        verbs = list(AuditEvent.objects.values_list("verb", flat=True))
        assert verbs[-2:] == ["asset.ingested", "entry.created"]

    def test_same_bytes_from_another_path_attach_to_the_held_asset(self, collection, user):
        first = ingest_picture(collection=collection, path="a.jpg")
        second = ingest_picture(collection=collection, path="copy/a (1).jpg", actor=user)

        assert second.status == IngestStatus.ATTACHED
        assert second.asset == first.asset
        assert Asset.objects.count() == 1
        assert len(stored_files()) == 1
        assert first.asset.entries.count() == 2
        event = AuditEvent.objects.get(verb="asset.source_attached")
        assert event.reason == "bytes already held; no second copy stored"
        assert event.after == {"collection": collection.name, "path": "copy/a (1).jpg"}

    def test_same_source_again_changes_nothing(self, collection):
        ingest_picture(collection=collection, path="a.jpg")
        events = AuditEvent.objects.count()

        again = ingest_picture(collection=collection, path="a.jpg")

        assert again.status == IngestStatus.UNCHANGED
        assert CatalogueEntry.objects.count() == 1
        assert AuditEvent.objects.count() == events

    def test_published_entry_records_time_and_exact_bytes(self, collection):
        outcome = ingest_picture(collection=collection, published=True)

        entry = outcome.entry
        assert entry.published is True
        assert entry.published_at is not None
        assert entry.published_sha256 == outcome.asset.sha256

    def test_metadata_fills_the_entry(self, collection):
        metadata = EntryMetadata(
            title="Façade, 12 Main St",
            accession_number="BS-2024-001",
            creator="Permit office",
            subjects=["façades", "permits"],
        )
        entry = ingest_picture(collection=collection, metadata=metadata).entry

        assert (entry.title, entry.accession_number) == ("Façade, 12 Main St", "BS-2024-001")
        assert entry.subjects == ["façades", "permits"]

    def test_invalid_metadata_rejects_before_storing(self, collection):
        ingest_picture(
            collection=collection, colour="red", metadata=EntryMetadata(accession_number="A-1")
        )

        outcome = ingest_picture(
            collection=collection, colour="blue", metadata=EntryMetadata(accession_number="A-1")
        )

        assert outcome.status == IngestStatus.REJECTED
        assert "accession" in outcome.reason.lower()
        assert len(stored_files()) == 1

    def test_losing_a_concurrent_race_attaches_instead_of_failing(self, collection):
        """The unique constraint on live sha256 turns a lost race into an attach."""
        data = image_bytes(make_image("navy"))
        winner = ingest_bytes(data, collection=collection, path="first.jpg")
        entry = _entry_build(
            collection=collection, path="second.jpg", metadata=EntryMetadata(), published=False
        )
        status, asset = _asset_create(
            analysis=ingest_analyse(fp=io.BytesIO(data)),
            key=winner.asset.storage_key,
            collection=collection,
            path="second.jpg",
            entry=entry,
            actor=None,
        )

        assert (status, asset) == (IngestStatus.ATTACHED, winner.asset)
        assert Asset.objects.count() == 1


def write_odd_files(folder: Path) -> dict[str, str]:
    """Every kind of bad or unusual input; returns name -> expected outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is a text file, not a photograph")
    noisy = Image.effect_noise((160, 160), 64).convert("RGB")
    whole = image_bytes(noisy, "JPEG", quality=95)
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "bomb.png").write_bytes(image_bytes(make_image(size=(300, 300)), "PNG"))
    (folder / "cmyk.jpg").write_bytes(image_bytes(make_image("purple", mode="CMYK"), "JPEG"))
    sixteen = Image.linear_gradient("L").resize((96, 64)).convert("I;16")
    (folder / "sixteen-bit.png").write_bytes(image_bytes(sixteen, "PNG"))
    (folder / "alpha.png").write_bytes(image_bytes(make_image("gold", mode="RGBA"), "PNG"))
    frames = [make_image(c) for c in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    (folder / "animated.gif").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:2])
    (folder / "multipage.tif").write_bytes(buffer.getvalue())
    exif = Image.Exif()
    exif[0x0110] = b"Cam\xff\xfeera\x00"  # Model: undecodable bytes and a NUL
    exif.get_ifd(0x8769)[0x9204] = TiffImagePlugin.IFDRational(0, 0)  # bias 0/0
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"
    (folder / "odd-exif.jpg").write_bytes(image_bytes(make_image("olive"), "JPEG", exif=exif))
    unicode_dir = folder / "Straße und Plätze" / "фото"
    unicode_dir.mkdir(parents=True)
    (unicode_dir / "façade 1.jpg").write_bytes(image_bytes(make_image("maroon")))
    os.symlink(folder / "gone.jpg", folder / "unreadable.jpg")
    return {
        "zero.jpg": "empty file (0 bytes)",
        "notes.jpg": "not an image Keepsake can read",
        "truncated.jpg": "truncated or corrupt image data",
        "bomb.png": "decompression bomb refused",
        "unreadable.jpg": "symbolic link not followed",
    }


class TestIngestCommand:
    def test_every_bad_input_is_recorded_and_the_batch_goes_on(self, tmp_path, monkeypatch):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)
        expected = write_odd_files(tmp_path / "batch")

        output = run_ingest(tmp_path / "batch", collection="Odd files")

        assert "new: 7, already held: 0" in output
        assert "errors: 5" in output
        reasons = {Path(r.path).name: r.reason for r in IngestRejection.objects.all()}
        assert set(reasons) == set(expected)
        for name, reason in expected.items():
            assert reason in reasons[name], name
            assert name in output
        assert AuditEvent.objects.filter(verb="asset.ingest_rejected").count() == 5

    def test_unusual_images_are_stored_with_their_properties(self, tmp_path, monkeypatch):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)
        write_odd_files(tmp_path / "batch")

        run_ingest(tmp_path / "batch", collection="Odd files")

        by_name = {a.original_filename: a for a in Asset.objects.all()}
        assert by_name["cmyk.jpg"].colour_mode == "CMYK"
        assert by_name["sixteen-bit.png"].colour_mode.startswith("I")
        assert by_name["alpha.png"].colour_mode == "RGBA"
        assert (by_name["animated.gif"].format, by_name["animated.gif"].frame_count) == ("GIF", 3)
        assert by_name["multipage.tif"].frame_count == 2
        odd = by_name["odd-exif.jpg"].exif
        assert odd["DateTimeOriginal"] == "2024:05:01 10:00:00"
        assert "ExposureBiasValue" not in odd
        assert "\x00" not in odd["Model"]
        unicode_path = str(tmp_path / "batch" / "Straße und Plätze" / "фото" / "façade 1.jpg")
        assert by_name["façade 1.jpg"].original_path == unicode_path

    def test_ingesting_the_same_folder_twice_stores_no_new_bytes(self, tmp_path):
        folder = tmp_path / "survey"
        folder.mkdir()
        for colour in ("red", "green", "blue"):
            (folder / f"{colour}.jpg").write_bytes(image_bytes(make_image(colour)))
        run_ingest(folder, collection="Survey")
        files_before, assets_before = stored_files(), Asset.objects.count()

        output = run_ingest(folder, collection="Survey")

        assert "new: 0, already held: 3" in output
        assert stored_files() == files_before
        assert Asset.objects.count() == assets_before == 3
        assert AssetSource.objects.count() == 3

    def test_paths_are_recorded_as_given(self, tmp_path, monkeypatch):
        (tmp_path / "tree" / "sub").mkdir(parents=True)
        (tmp_path / "tree" / "sub" / "a.jpg").write_bytes(image_bytes(make_image()))
        monkeypatch.chdir(tmp_path)

        run_ingest("tree", collection="Relative")

        assert AssetSource.objects.get().path == os.path.join("tree", "sub", "a.jpg")

    def test_metadata_csv_and_published(self, tmp_path):
        folder = tmp_path / "desk"
        folder.mkdir()
        (folder / "a.jpg").write_bytes(image_bytes(make_image("red")))
        (folder / "b.jpg").write_bytes(image_bytes(make_image("blue")))
        csv_path = tmp_path / "meta.csv"
        csv_path.write_text(
            "path,title,accession_number,date_start,subjects,published\n"
            "a.jpg,City hall,CH-1,1931-05-02,architecture;civic,yes\n"
            "b.jpg,Bridge,BR-1,not-a-date,,\n",
            encoding="utf-8",
        )

        output = run_ingest(folder, collection="Desk", metadata=csv_path)

        entry = CatalogueEntry.objects.get(accession_number="CH-1")
        assert entry.title == "City hall"
        assert entry.subjects == ["architecture", "civic"]
        assert entry.published is True
        assert "metadata row 3: date_start 'not-a-date' is not a date" in output
        assert IngestRejection.objects.get().path.endswith("b.jpg")

    def test_unknown_user_is_a_clear_error(self, tmp_path):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="No user called 'nobody'"):
            run_ingest(tmp_path, collection="X", user="nobody")


def test_direct_fp_ingest_keeps_callers_file_open(collection):
    fp = io.BytesIO(image_bytes(make_image("pink"), "PNG"))

    asset_ingest(fp=fp, path="p.png", collection=collection)

    assert fp.closed is False


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_is_ingested(collection, lossless):
    """Pillow's WebP reader needs more of the file API than read/seek/tell."""
    data = image_bytes(make_image("navy", size=(120, 90)), "WEBP", lossless=lossless)

    outcome = ingest_bytes(data, collection=collection, path="photo.webp")

    assert outcome.status == IngestStatus.NEW
    assert (outcome.asset.format, outcome.asset.width) == ("WEBP", 120)
