"""People for permission tests: users holding exactly the permissions or role named."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from archive.roles import roles_setup


def person(username: str, *permissions: str, staff: bool = True):
    """A user granted exactly the given "app_label.codename" permissions."""
    user = get_user_model().objects.create_user(username, password="x", is_staff=staff)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    # A fresh instance: Django caches permissions on the object it checked them on.
    return get_user_model().objects.get(pk=user.pk)


def role_member(role: str, username: str | None = None):
    """A staff user whose only permissions come from the role's group."""
    if not Group.objects.filter(name=role).exists():
        roles_setup()
    user = get_user_model().objects.create_user(
        username or role.lower(), password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)


def compliance_officer(username: str = "officer"):
    """May place and release holds (and see what they hold), nothing about the audit trail."""
    return person(
        username,
        "archive.place_legal_hold",
        "archive.release_legal_hold",
        "archive.view_legalhold",
        "archive.view_asset",
        "archive.view_catalogueentry",
        "archive.view_collection",
    )


def licensing_officer(username: str = "rights"):
    return person(
        username, "archive.sign_off_licence", "archive.view_licence", "archive.view_asset"
    )
