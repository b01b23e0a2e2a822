"""Rows of assets never go away: model, queryset, admin and the database itself refuse."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from archive.errors import ArchiveError
from archive.models import Asset
from tests.retention.conftest import stored_sha

pytestmark = pytest.mark.django_db


def test_asset_delete_refuses(asset):
    with pytest.raises(ArchiveError, match="retention"):
        asset.delete()


def test_queryset_delete_refuses(asset):
    with pytest.raises(ArchiveError, match="retention"):
        Asset.objects.filter(pk=asset.pk).delete()

    assert stored_sha(asset) == asset.sha256


def test_the_database_refuses_deleting_asset_rows(asset):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM archive_asset WHERE id = %s", [asset.pk])

    assert Asset.objects.filter(pk=asset.pk).exists()


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:archive_asset_changelist",
        "admin:retention_quarantinerecord_changelist",
        "admin:retention_dispositionrequest_changelist",
        "admin:retention_retentionpolicy_changelist",
        "admin:retention_pendingmove_changelist",
        "admin:retention_fixitycheck_changelist",
    ],
)
def test_no_admin_list_offers_bulk_delete(changelist, quarantined, staff, client):
    client.force_login(staff)

    response = client.post(
        reverse(changelist),
        {"action": "delete_selected", "_selected_action": [quarantined.pk], "post": "yes"},
    )

    assert response.status_code in (200, 302)
    assert Asset.objects.filter(pk=quarantined.pk).exists()
    assert stored_sha(quarantined) == quarantined.sha256
    page = client.get(reverse(changelist))
    assert "delete_selected" not in page.content.decode()
