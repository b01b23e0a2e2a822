"""Roles: one group per job, with exactly the permissions that job needs; role changes audited.

The mapping names permissions as "app_label.codename" strings, so it can name permissions
of apps the archive must not import. A child app adds its own by declaring them on its
AppConfig, which `role_permission_map` reads through the app registry:

    class DedupConfig(AppConfig):
        keepsake_role_permissions = {"Archivist": ["dedup.review_candidate"]}

`setup_roles` then gives each group exactly the merged set; names whose permission does
not exist yet (an app not migrated) are reported and skipped.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models.signals import m2m_changed

from archive.audit import audit_record
from archive.errors import ArchiveError

_VIEW_RECORDS = [
    "archive.view_collection",
    "archive.view_asset",
    "archive.view_assetsource",
    "archive.view_catalogueentry",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Curators describe records and (through dedup and retention) review and restore.
    "Archivist": [
        *_VIEW_RECORDS,
        "archive.change_collection",
        # Describing an asset that arrived without a record (API: POST /entries/).
        "archive.add_catalogueentry",
        "archive.change_catalogueentry",
        "archive.view_licence",
        "archive.view_legalhold",
        "archive.view_ingestrejection",
        # The intake gate: uploads that look like something held wait for a curator.
        "archive.view_intakeitem",
        "archive.decide_intakeitem",
    ],
    # Newsroom and licensing staff keep the licences and sign off conflicts.
    "Licensing": [
        *_VIEW_RECORDS,
        "archive.view_licence",
        "archive.add_licence",
        "archive.change_licence",
        "archive.view_licencesignoff",
        "archive.sign_off_licence",
        "archive.view_legalhold",
    ],
    # Compliance officers hold and release material and own the audit trail.
    "Compliance": [
        *_VIEW_RECORDS,
        "archive.view_licence",
        "archive.view_licencesignoff",
        "archive.view_legalhold",
        "archive.place_legal_hold",
        "archive.release_legal_hold",
        "archive.view_auditevent",
        "archive.export_audit",
        "archive.view_checkpoint",
        "archive.view_ingestrejection",
    ],
    # Operators ingest and watch the background work run. Schedules are not theirs to
    # write: a Schedule names code the workers import and call, so the periodic jobs come
    # only from `setup_schedules` (KEEPSAKE_SCHEDULES, intervals set by environment).
    "Operator": [
        "archive.view_collection",
        "archive.add_collection",
        "archive.view_asset",
        # Uploads through the API (POST /assets/); the ingest command needs no permission.
        "archive.add_asset",
        "archive.view_assetsource",
        "archive.view_ingestrejection",
        "archive.view_intakeitem",
        "django_q.view_schedule",
        "django_q.view_success",
        "django_q.view_failure",
        "django_q.view_ormq",
    ],
}


def role_permission_map() -> dict[str, set[str]]:
    """Every role with its permission names: the archive's plus what installed apps declare."""
    merged = {role: set(names) for role, names in ROLE_PERMISSIONS.items()}
    for config in apps.get_app_configs():
        for role, names in (getattr(config, "keepsake_role_permissions", None) or {}).items():
            merged.setdefault(role, set()).update(names)
    return merged


def permission_name(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _permissions_named(names: set[str]) -> tuple[list[Permission], list[str]]:
    found = {
        permission_name(p): p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in={name.partition(".")[2] for name in names}
        )
    }
    return [found[n] for n in sorted(names) if n in found], sorted(names - found.keys())


@dataclass
class RolesReport:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)


@transaction.atomic
def roles_setup(*, actor=None, strict: bool = False) -> RolesReport:
    """Create each role's group and give it exactly its permissions; safe to run again."""
    report = RolesReport()
    if strict:
        missing = {
            role: found[1]
            for role, names in role_permission_map().items()
            if (found := _permissions_named(names))[1]
        }
        if missing:
            raise ArchiveError(f"These permissions do not exist (not migrated yet?): {missing}")
    with role_change_actor(actor):
        for role, names in sorted(role_permission_map().items()):
            group, created = Group.objects.select_for_update(no_key=True).get_or_create(name=role)
            if created:
                report.created.append(role)
                audit_record(actor=actor, verb="group.created", obj=group, after={"name": role})
            permissions, missing = _permissions_named(names)
            if missing:
                report.missing[role] = missing
            before = set(group.permissions.values_list("pk", flat=True))
            # set() adds and removes only the difference; the m2m receiver audits it.
            group.permissions.set(permissions)
            if before != {p.pk for p in permissions} and not created:
                report.changed.append(role)
    return report


# --- Auditing role changes ------------------------------------------------------------
# Group memberships and permission grants change through the admin, the shell or
# setup_roles; an m2m_changed receiver sees all of them. The acting user is not part of
# the signal, so the admin (and setup_roles) name it for the duration of the change.

_role_actor: ContextVar = ContextVar("keepsake_role_actor", default=None)


@contextmanager
def role_change_actor(actor) -> Iterator[None]:
    """Attribute role changes made inside the block to actor in the audit trail."""
    token = _role_actor.set(actor)
    try:
        yield
    finally:
        _role_actor.reset(token)


def _record(*, verb: str, obj, after: dict) -> None:
    with transaction.atomic():
        audit_record(actor=_role_actor.get(), verb=verb, obj=obj, after=after)


def _changed_ids(*, instance, action: str, pk_set, related) -> tuple[str, set | None]:
    """The change ("added"/"removed") and the related ids, or None while nothing changed."""
    if action == "pre_clear":
        instance._keepsake_cleared = set(related.values_list("pk", flat=True))
        return "", None
    if action == "post_clear":
        return "removed", getattr(instance, "_keepsake_cleared", set())
    if action in ("post_add", "post_remove") and pk_set:
        return ("added" if action == "post_add" else "removed"), set(pk_set)
    return "", None


def m2m_changed_audit_memberships(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Audit users joining or leaving groups, from either side of the relation."""
    user_model = get_user_model()
    related = instance.user_set if reverse else instance.groups
    change, ids = _changed_ids(instance=instance, action=action, pk_set=pk_set, related=related)
    if not ids:
        return
    if reverse:  # group.user_set.add(...): one event per user
        for user in user_model.objects.filter(pk__in=ids).order_by("pk"):
            _record(
                verb=f"user.groups_{change}",
                obj=user,
                after={"user": user.get_username(), "groups": [instance.name]},
            )
        return
    names = sorted(Group.objects.filter(pk__in=ids).values_list("name", flat=True))
    _record(
        verb=f"user.groups_{change}",
        obj=instance,
        after={"user": instance.get_username(), "groups": names},
    )


def _permission_names(ids) -> list[str]:
    permissions = Permission.objects.select_related("content_type").filter(pk__in=ids)
    return sorted(permission_name(p) for p in permissions)


def m2m_changed_audit_permissions(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Audit permissions granted to or taken from groups and users, from either side."""
    if reverse:  # permission.group_set.add(...) / permission.user_set.add(...)
        related = getattr(instance, f"{model._meta.model_name}_set")
    else:
        related = instance.permissions if isinstance(instance, Group) else instance.user_permissions
    change, ids = _changed_ids(instance=instance, action=action, pk_set=pk_set, related=related)
    if not ids:
        return
    if not reverse:
        verb = f"{instance._meta.model_name}.permissions_{change}"
        _record(verb=verb, obj=instance, after={"permissions": _permission_names(ids)})
        return
    for holder in model.objects.filter(pk__in=ids).order_by("pk"):
        verb = f"{model._meta.model_name}.permissions_{change}"
        _record(verb=verb, obj=holder, after={"permissions": [permission_name(instance)]})


USER_ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser")


@transaction.atomic
def user_access_change_record(*, user, before: dict | None, actor) -> None:
    """Audit a change of a user's access flags (active, staff, superuser)."""
    after = {name: getattr(user, name) for name in USER_ACCESS_FIELDS}
    if before == after:
        return
    changed = [name for name in USER_ACCESS_FIELDS if before is None or before[name] != after[name]]
    audit_record(
        actor=actor,
        verb="user.created" if before is None else "user.access_changed",
        obj=user,
        before={name: before[name] for name in changed} if before else None,
        after={"user": user.get_username(), **{name: after[name] for name in changed}},
    )


def roles_receivers_connect() -> None:
    """Connect the role-change receivers (called from the archive's AppConfig.ready)."""
    user_model = get_user_model()
    m2m_changed.connect(
        m2m_changed_audit_memberships,
        sender=user_model.groups.through,
        dispatch_uid="keepsake_audit_memberships",
    )
    for through in (Group.permissions.through, user_model.user_permissions.through):
        m2m_changed.connect(
            m2m_changed_audit_permissions,
            sender=through,
            dispatch_uid=f"keepsake_audit_permissions_{through._meta.label_lower}",
        )
