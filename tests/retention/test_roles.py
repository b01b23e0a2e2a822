"""Retention permissions per role: requesting and approving a purge sit in different roles."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from archive.roles import permission_name

pytestmark = pytest.mark.django_db


def granted(role):
    group = Group.objects.get(name=role)
    return {permission_name(p) for p in group.permissions.select_related("content_type")}


def test_every_declared_permission_exists_and_roles_split_the_four_eyes():
    call_command("setup_roles", "--strict", stdout=StringIO())

    archivist, compliance, operator = (granted(r) for r in ("Archivist", "Compliance", "Operator"))
    assert {"retention.restore_asset", "retention.request_disposition"} <= archivist
    assert "retention.approve_disposition" not in archivist
    assert "retention.approve_disposition" in compliance
    assert "retention.request_disposition" not in compliance
    assert {
        "retention.change_retentionpolicy",
        "retention.move_asset",
        "retention.view_storage_dashboard",
    } <= operator
