"""The options report: bytes, counts and monthly cost under keep, cold and purge."""

import json

import pytest
from django.core.management import call_command

from archive.errors import ArchiveError
from retention.options import GB, options_report
from tests.retention.conftest import hold

pytestmark = pytest.mark.django_db


def by_option(report) -> dict:
    return {o["option"]: o for o in report["options"]}


class TestOptionsReport:
    def test_keep_costs_what_is_stored_and_cold_costs_the_cold_price(
        self, asset, other_asset, collection, settings
    ):
        settings.KEEPSAKE_STORAGE_PRICES = {"hot": 2.0, "cold": 0.5, "quarantine": 2.0}

        report = options_report(collection=collection)

        size = asset.size + other_asset.size
        options = by_option(report)
        assert (report["objects"], report["bytes"]) == (2, size)
        assert options["keep"]["monthly_cost"] == pytest.approx(round(size / GB * 2.0, 4))
        assert options["cold"]["objects"] == 2
        assert options["cold"]["monthly_cost"] == pytest.approx(round(size / GB * 0.5, 4))
        assert options["purge"]["objects"] == 0  # originals are kept forever by default

    def test_held_assets_stay_where_they_are(self, asset, other_asset, collection):
        hold(asset)

        cold = by_option(options_report(collection=collection))["cold"]

        assert cold["objects"] == 1
        assert cold["touches"]["held"]["assets"] == [asset.pk]

    def test_purge_counts_replaced_duplicates_and_what_would_stop_them(
        self, replaced, other_asset, collection, settings
    ):
        # Test files are a few KB: a high price keeps the saving above the rounding.
        settings.KEEPSAKE_STORAGE_PRICES = {"hot": 1e6, "cold": 1e6, "quarantine": 1e6}
        options = by_option(options_report(collection=collection))
        assert options["purge"]["objects"] == 1
        assert options["purge"]["bytes"] == replaced.size
        assert options["purge"]["monthly_saving"] > 0

        hold(replaced)
        purge = by_option(options_report(collection=collection))["purge"]
        assert purge["objects"] == 0
        assert purge["touches"]["held"]["assets"] == [replaced.pk]

    def test_it_changes_nothing(self, replaced, collection):
        from archive.models import Asset, AuditEvent

        before = (list(Asset.objects.values()), AuditEvent.objects.count())
        options_report(collection=collection)
        assert (list(Asset.objects.values()), AuditEvent.objects.count()) == before

    def test_a_scope_is_required(self, db):
        with pytest.raises(ArchiveError, match="either a collection or a campaign"):
            options_report()

    def test_the_command_prints_json(self, asset, collection, capsys):
        call_command("options_report", "--collection", collection.name, "--format", "json")
        report = json.loads(capsys.readouterr().out)
        assert [o["option"] for o in report["options"]] == ["keep", "cold", "purge"]

    def test_the_api_answers_for_a_collection(self, asset, collection, client, staff):
        client.force_login(staff)
        response = client.get(f"/api/v1/collections/{collection.pk}/options/")
        assert response.status_code == 200
        assert response.json()["objects"] == 1
        assert client.get("/api/v1/collections/999999/options/").status_code == 404
