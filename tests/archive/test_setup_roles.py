"""setup_roles: four groups with exactly their permissions, idempotent, extensible, audited."""

import io

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import transaction

from archive.models import AuditEvent
from archive.roles import (
    ROLE_PERMISSIONS,
    permission_name,
    role_change_actor,
    role_permission_map,
)
from tests.archive.people import person

pytestmark = pytest.mark.django_db

ROLES = ["Archivist", "Compliance", "Licensing", "Operator"]
OWN_APPS = {"archive", "dedup", "retention"}
# Every permission a role holds on a third-party model, each one reviewed: watching the
# background work is the Operator's job; writing it is nobody's (see setup_schedules).
REVIEWED_THIRD_PARTY = {
    "Operator": {
        "django_q.view_schedule",
        "django_q.view_success",
        "django_q.view_failure",
        "django_q.view_ormq",
    },
}


def setup_roles(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("setup_roles", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def granted(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {permission_name(p) for p in group.permissions.select_related("content_type")}


class TestSetupRoles:
    def test_creates_each_role_with_exactly_its_permissions(self):
        output, errors = setup_roles()

        wanted = role_permission_map()  # the archive's map plus what child apps declare
        assert set(ROLES) <= set(wanted)
        assert sorted(Group.objects.values_list("name", flat=True)) == sorted(wanted)
        for role in wanted:
            assert set(ROLE_PERMISSIONS.get(role, [])) <= wanted[role]
            assert granted(role) == wanted[role]
        assert all(role in output.partition("created:")[2] for role in ROLES)
        assert errors == ""

    def test_only_compliance_holds_export_and_legal_hold_rights(self):
        setup_roles()

        holders = {
            name: sorted(r for r in ROLES if name in granted(r))
            for name in [
                "archive.place_legal_hold",
                "archive.release_legal_hold",
                "archive.export_audit",
                "archive.view_auditevent",
                "archive.sign_off_licence",
                "archive.change_licence",
            ]
        }

        assert holders == {
            "archive.place_legal_hold": ["Compliance"],
            "archive.release_legal_hold": ["Compliance"],
            "archive.export_audit": ["Compliance"],
            "archive.view_auditevent": ["Compliance"],
            "archive.sign_off_licence": ["Licensing"],
            "archive.change_licence": ["Licensing"],
        }

    def test_no_role_may_delete_anything_or_manage_users(self):
        setup_roles()

        for role in ROLES:
            assert not {n for n in granted(role) if ".delete_" in n}
            assert not {n for n in granted(role) if n.startswith("auth.")}

    def test_roles_hold_third_party_permissions_only_as_reviewed(self):
        """A permission on a model outside archive/dedup/retention is reviewed before use.

        django-q2's, auth's, authtoken's, admin's or sessions' models run code, grant
        access or hold secrets; a role reaches them only through this list.
        """
        setup_roles()

        for role in role_permission_map():
            third_party = {n for n in granted(role) if n.split(".")[0] not in OWN_APPS}
            assert third_party <= REVIEWED_THIRD_PARTY.get(role, set()), role

    def test_no_role_may_write_background_work(self):
        """A Schedule names code the workers run; only setup_schedules writes them."""
        setup_roles()

        for role in role_permission_map():
            assert not {n for n in granted(role) if n.startswith("django_q.")} - {
                f"django_q.view_{model}" for model in ("schedule", "success", "failure", "ormq")
            }

    def test_running_again_changes_nothing_and_writes_no_events(self):
        setup_roles()
        events = AuditEvent.objects.count()

        output, _ = setup_roles()

        assert "created: none; permissions changed: none" in output
        assert AuditEvent.objects.count() == events

    def test_permissions_granted_by_hand_are_taken_away(self):
        setup_roles()
        extra = Permission.objects.get(codename="export_audit")
        Group.objects.get(name="Archivist").permissions.add(extra)

        output, _ = setup_roles()

        assert "permissions changed: Archivist" in output
        assert "archive.export_audit" not in granted("Archivist")

    def test_child_apps_extend_roles_through_their_app_config(self, monkeypatch):
        """dedup and retention declare their permissions; archive never imports them."""
        monkeypatch.setattr(
            apps.get_app_config("dedup"),
            "keepsake_role_permissions",
            {"Archivist": ["archive.view_auditchainhead"], "Reviewer": ["archive.view_asset"]},
            raising=False,
        )

        setup_roles()

        assert "archive.view_auditchainhead" in granted("Archivist")
        assert granted("Reviewer") == {"archive.view_asset"}

    def test_missing_permissions_are_reported_and_skipped_or_fatal(self, monkeypatch):
        monkeypatch.setattr(
            apps.get_app_config("dedup"),
            "keepsake_role_permissions",
            {"Archivist": ["dedup.not_migrated_yet"]},
            raising=False,
        )

        with pytest.raises(CommandError, match="dedup.not_migrated_yet"):
            setup_roles("--strict")
        assert not Group.objects.exists()

        _, errors = setup_roles()
        assert "Archivist: skipped, no such permission: dedup.not_migrated_yet" in errors
        assert granted("Archivist") == role_permission_map()["Archivist"] - {
            "dedup.not_migrated_yet"
        }

    def test_setup_is_audited_with_its_user(self, staff):
        setup_roles("--user", "curator")

        created = AuditEvent.objects.filter(verb="group.created")
        granted_events = AuditEvent.objects.filter(verb="group.permissions_added")
        assert sorted(e.after["name"] for e in created) == ROLES
        assert {e.actor for e in [*created, *granted_events]} == {staff}
        compliance = granted_events.get(object_id=str(Group.objects.get(name="Compliance").pk))
        assert "archive.export_audit" in compliance.after["permissions"]


class TestRoleChangesAreAudited:
    @pytest.fixture
    def compliance(self):
        setup_roles()
        return Group.objects.get(name="Compliance")

    def test_joining_and_leaving_a_group(self, compliance, staff):
        clerk = person("clerk")

        with role_change_actor(staff), transaction.atomic():
            clerk.groups.add(compliance)
        clerk.groups.remove(compliance)

        added = AuditEvent.objects.get(verb="user.groups_added")
        removed = AuditEvent.objects.get(verb="user.groups_removed")
        assert (added.actor, added.object_id) == (staff, str(clerk.pk))
        assert added.after == {"user": "clerk", "groups": ["Compliance"]}
        assert removed.actor is None and removed.actor_name == "system"

    def test_changes_from_the_group_side_and_clearing(self, compliance):
        clerk, other = person("clerk"), person("other")

        compliance.user_set.add(clerk, other)
        clerk.groups.clear()

        events = AuditEvent.objects.filter(verb__startswith="user.groups_").order_by("sequence")
        assert [(e.verb, e.after["user"]) for e in events] == [
            ("user.groups_added", "clerk"),
            ("user.groups_added", "other"),
            ("user.groups_removed", "clerk"),
        ]

    def test_direct_permission_grants(self, staff):
        clerk = person("clerk")
        permission = Permission.objects.get(codename="export_audit")

        clerk.user_permissions.add(permission)
        permission.group_set.add(Group.objects.create(name="Ad hoc"))

        assert AuditEvent.objects.get(verb="user.permissions_added").after == {
            "permissions": ["archive.export_audit"]
        }
        assert AuditEvent.objects.get(verb="group.permissions_added").after == {
            "permissions": ["archive.export_audit"]
        }

    def test_membership_changes_in_the_admin_name_the_admin(self, client, staff, compliance):
        from django.urls import reverse

        clerk = person("clerk")
        client.force_login(staff)
        response = client.post(
            reverse("admin:auth_user_change", args=[clerk.pk]),
            {
                "username": "clerk",
                "is_active": "on",
                "is_staff": "on",
                "is_superuser": "on",
                "groups": [compliance.pk],
                "date_joined_0": "2025-01-01",
                "date_joined_1": "00:00:00",
                "initial-date_joined_0": "2025-01-01",
                "initial-date_joined_1": "00:00:00",
            },
        )

        assert response.status_code == 302, response.content.decode()[:3000]
        joined = AuditEvent.objects.get(verb="user.groups_added")
        flags = AuditEvent.objects.get(verb="user.access_changed")
        assert joined.actor == staff and joined.after["groups"] == ["Compliance"]
        assert flags.actor == staff
        assert (flags.before, flags.after) == (
            {"is_superuser": False},
            {"user": "clerk", "is_superuser": True},
        )
