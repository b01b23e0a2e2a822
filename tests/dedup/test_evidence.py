"""The evidence behind a verdict: its keys, its parts, and where it is computed or reused."""

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.core.files.storage import storages
from django.core.management import call_command

from dedup import report
from dedup.judge import VERIFY_DISTANCE, candidate_keep, pair_judge
from dedup.judge.exif import capture_time
from dedup.judge.pixels import align, decode_reduced
from dedup.models import DuplicateCandidate
from dedup.services import candidates_record
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene
from tests.dedup.judging import camera_exif, judged

SCENE = make_scene(5)
DOCUMENTED_KEYS = {
    "distances",
    "a",
    "b",
    "aspect_ratio",
    "larger",
    "linear_scale_b_to_a",
    "exif",
    "pixels",
    "reason",
    "judged_by",
    "judge_version",
}
PIXEL_KEYS = {
    "aligned",
    "compared_at",
    "inner",
    "crop_percent",
    "crop_box",
    "correlation",
    "ssim",
    "worst_block_ssim",
    "worst_block",
    "blocks",
    "blocks_differing",
    "block_grid",
    "regions",
    "largest_region_pixels",
    "changed_share",
    "tilt_degrees",
    "region_spread",
    "turn",
    "mean_abs_difference",
    "luma_shift_ev",
    "chroma_a",
    "chroma_b",
    "chroma_difference",
    "identical",
}


def scan(**options) -> dict:
    out = io.StringIO()
    call_command("scan_duplicates", stdout=out, **options)
    return json.loads(out.getvalue())


class TestEvidenceShape:
    def test_every_documented_key_is_there_and_it_is_plain_json(self):
        verdict = judged(
            image_bytes(SCENE, quality=92, exif=camera_exif(subsec="5")),
            image_bytes(SCENE.resize((240, 180)), "WEBP", lossless=True),
        )

        assert set(verdict.evidence) == DOCUMENTED_KEYS
        assert set(verdict.evidence["pixels"]) == PIXEL_KEYS
        assert json.loads(json.dumps(verdict.evidence)) == verdict.evidence
        a, b = verdict.evidence["a"], verdict.evidence["b"]
        assert (a["format"], a["lossless"], a["jpeg_quality"]) == ("JPEG", False, 92)
        assert (b["format"], b["lossless"], b["jpeg_quality"]) == ("WEBP", True, None)
        assert verdict.evidence["linear_scale_b_to_a"] == 0.75
        assert verdict.evidence["exif"]["camera_a"] == "Keepsake Test Camera"

    def test_the_pixel_proof_is_not_attempted_for_different_dimensions(self):
        verdict = judged(image_bytes(SCENE, "PNG"), image_bytes(SCENE.resize((160, 120)), "PNG"))

        assert verdict.evidence["pixels"]["identical"] is None

    def test_a_lossy_webp_is_lossy(self):
        verdict = judged(image_bytes(SCENE, "PNG"), image_bytes(SCENE, "WEBP", quality=80))

        assert verdict.evidence["b"]["lossless"] is False
        assert verdict.kind == "derivative"


class TestParts:
    def test_capture_time_carries_sub_seconds_and_offset(self):
        exif = {
            "DateTimeOriginal": "2024:05:01 10:00:00",
            "SubSecTimeOriginal": "25",
            "OffsetTimeOriginal": "+02:00",
        }

        moment, zoned = capture_time(exif=exif)

        expected = datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
        assert (moment, zoned) == (expected, True)
        assert capture_time(exif={"DateTimeOriginal": "0000:00:00 00:00:00"}) == (None, False)

    def test_alignment_finds_the_crop_window(self):
        cropped = SCENE.crop((16, 12, 304, 228))  # 10 % of each side's length removed

        found = align(
            a=decode_reduced(fp=io.BytesIO(image_bytes(SCENE, "PNG"))),
            b=decode_reduced(fp=io.BytesIO(image_bytes(cropped, "PNG"))),
        )

        assert found.inner == "b"
        assert found.left == pytest.approx(0.05, abs=0.01)
        assert found.top == pytest.approx(0.05, abs=0.01)
        assert found.width == pytest.approx(0.90, abs=0.01)

    def test_the_second_tier_keeps_only_pairs_proven_to_be_one_picture(self, settings):
        settings.KEEPSAKE_NEAR_DISTANCE = 10

        assert candidate_keep(kind="similar", phash_distance=10) is True
        assert candidate_keep(kind="similar", phash_distance=11) is False
        assert candidate_keep(kind="derivative", phash_distance=VERIFY_DISTANCE) is True


@pytest.mark.django_db
class TestWhereItIsComputed:
    def test_unreadable_bytes_fall_back_to_the_records(self, collection):
        a = ingest_bytes(image_bytes(SCENE, quality=92), collection=collection, path="a.jpg")
        b = ingest_bytes(image_bytes(SCENE.resize((160, 120))), collection=collection, path="b.jpg")
        storages[b.asset.storage_alias].delete(b.asset.storage_key)

        verdict = pair_judge(asset_a=a.asset, asset_b=b.asset, phash_distance=1, dhash_distance=1)

        assert verdict.kind == "similar"
        assert verdict.evidence["judged_by"] == "records"
        assert "stored bytes unreadable" in verdict.evidence["reason"]

    def test_wide_pairs_are_recorded_only_when_verified(self, collection):
        original = ingest_bytes(image_bytes(SCENE, quality=92), collection=collection, path="a")
        half = ingest_bytes(image_bytes(SCENE.resize((160, 120))), collection=collection, path="b")
        other = ingest_bytes(image_bytes(make_scene(6)), collection=collection, path="c")
        DuplicateCandidate.objects.all().delete()
        pair, stranger = (original.asset.pk, half.asset.pk), (original.asset.pk, other.asset.pk)

        created = candidates_record(pairs={pair: (14, 14), stranger: (14, 14)}, found_by="scan")

        assert [(c.asset_a_id, c.asset_b_id, c.kind) for c in created] == [(*pair, "derivative")]

    def test_the_report_shows_stored_judgements_and_judges_the_rest(self, collection):
        ingest_bytes(image_bytes(SCENE, quality=92), collection=collection, path="a.jpg")
        ingest_bytes(image_bytes(SCENE.resize((160, 120))), collection=collection, path="b.jpg")
        DuplicateCandidate.objects.update(evidence={"reason": "as stored"}, kind="similar")

        (stored,) = scan()["pairs"]
        DuplicateCandidate.objects.all().delete()
        (fresh,) = scan()["pairs"]

        assert (stored["kind"], stored["evidence"], stored["status"]) == (
            "similar",
            {"reason": "as stored"},
            "pending",
        )
        assert (fresh["kind"], fresh["status"]) == ("derivative", "unrecorded")
        assert fresh["evidence"]["judged_by"] == "pixels"

    def test_past_its_budget_the_report_judges_from_records(self, collection, monkeypatch):
        monkeypatch.setattr(report, "REPORT_PIXEL_BUDGET", 0)
        ingest_bytes(image_bytes(SCENE, quality=92), collection=collection, path="a.jpg")
        ingest_bytes(image_bytes(SCENE.resize((160, 120))), collection=collection, path="b.jpg")
        DuplicateCandidate.objects.all().delete()

        (row,) = scan()["pairs"]

        assert row["evidence"]["judged_by"] == "records"

    def test_the_folder_audit_judges_files_where_they_lie(self, tmp_path):
        (tmp_path / "a.jpg").write_bytes(image_bytes(SCENE, quality=92))
        (tmp_path / "a.png").write_bytes(image_bytes(SCENE, "PNG"))
        (tmp_path / "a-small.jpg").write_bytes(image_bytes(SCENE.resize((160, 120))))

        result = scan(path=str(tmp_path), workers=1)

        assert result["summary"]["pairs_by_kind"] == {"derivative": 3}
        reasons = sorted(row["evidence"]["reason"] for row in result["pairs"])
        assert any("downscale" in reason for reason in reasons)
