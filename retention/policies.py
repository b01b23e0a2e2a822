"""Retention policies: versioned rules matched by role, publication, replacement, collection."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.models import Asset, CatalogueEntry
from retention.models import RetentionPolicy

# The rules an archive starts with (data migration 0002 and `seed_retention_policies`):
# originals and every published image's archival copy are kept forever; replaced
# duplicates wait out a 30-day restore window and may then be purged with approval.
DEFAULT_POLICIES = [
    {
        "key": "originals-keep-forever",
        "name": "Originals: keep forever",
        "role": Asset.Role.ORIGINAL,
        "replaced": False,
        "keep_forever": True,
    },
    {
        "key": "published-keep-forever",
        "name": "Published images' archival copies: keep forever",
        "published": True,
        "keep_forever": True,
    },
    {
        "key": "replaced-duplicates",
        "name": "Replaced duplicates: 30-day restore window, then purge with approval",
        "replaced": True,
        "quarantine_window_days": 30,
        "purge_after_window": True,
    },
]

POLICY_FIELDS = (
    "name",
    "role",
    "published",
    "replaced",
    "collection",
    "keep_forever",
    "cold_after_days",
    "quarantine_window_days",
    "purge_after_window",
)


def asset_published_q() -> Exists:
    """An expression true for assets some entry publishes, or whose bytes were ever published."""
    entries = CatalogueEntry.objects.filter(
        Q(asset=OuterRef("pk"), published=True) | Q(published_sha256=OuterRef("sha256"))
    )
    return Exists(entries)


def asset_is_published(*, asset: Asset) -> bool:
    return Asset.objects.filter(pk=asset.pk).filter(asset_published_q()).exists()


def _matches(policy: RetentionPolicy, *, asset: Asset, published: bool) -> bool:
    return (
        (not policy.role or policy.role == asset.role)
        and (policy.published is None or policy.published == published)
        and (policy.replaced is None or policy.replaced == (asset.replaced_by_id is not None))
        and (policy.collection_id is None or policy.collection_id == asset.collection_id)
    )


def policies_current() -> list[RetentionPolicy]:
    return list(RetentionPolicy.objects.filter(is_current=True).order_by("pk"))


def policies_matching(
    *, asset: Asset, policies: list[RetentionPolicy] | None = None, published: bool | None = None
) -> list[RetentionPolicy]:
    """Current policies matching asset, most specific first."""
    if published is None:
        published = asset_is_published(asset=asset)
    found = [
        p
        for p in (policies if policies is not None else policies_current())
        if _matches(p, asset=asset, published=published)
    ]
    return sorted(found, key=lambda p: (-p.specificity, p.pk))


def policy_effective(*, asset: Asset, **kwargs) -> RetentionPolicy | None:
    """The most specific current policy for asset, or None when none matches."""
    matching = policies_matching(asset=asset, **kwargs)
    return matching[0] if matching else None


def quarantine_window_days(*, asset: Asset) -> int:
    """Days of restore window a quarantine of asset gets: its policy's, else the default."""
    matching = [p for p in policies_matching(asset=asset) if p.quarantine_window_days]
    if not matching:
        return settings.KEEPSAKE_RESTORE_WINDOW_DAYS
    return matching[0].quarantine_window_days


def _snapshot(policy: RetentionPolicy) -> dict:
    return {
        "key": policy.key,
        "version": policy.version,
        **{
            name: getattr(policy, f"{name}_id" if name == "collection" else name)
            for name in POLICY_FIELDS
        },
    }


def _require(actor, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise ArchiveError(
            "You do not have permission to change retention policies.", code="permission_denied"
        )


@transaction.atomic
def policy_create(*, key: str, actor, reason: str = "", **fields) -> RetentionPolicy:
    """Create version 1 of a new retention policy."""
    _require(actor, "retention.add_retentionpolicy")
    policy = RetentionPolicy(key=key, version=1, created_by=actor, reason=reason, **fields)
    policy.full_clean()
    try:
        # Two people creating the same key at once: the unique constraint keeps one.
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:
        raise ArchiveError(f"A policy called {key} exists already.", code="conflict") from exc
    audit_record(
        actor=actor, verb="policy.created", obj=policy, after=_snapshot(policy), reason=reason
    )
    return policy


@transaction.atomic
def policy_change(
    *, policy: RetentionPolicy, actor, reason: str = "", **changes
) -> RetentionPolicy:
    """Write a new version of policy with changes; the old version stays for the record."""
    _require(actor, "retention.change_retentionpolicy")
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ArchiveError(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
    # Lock the current version so two edits make versions n+1 and n+2, never two n+1.
    current = RetentionPolicy.objects.select_for_update(no_key=True).get(
        key=policy.key, is_current=True
    )
    if current.pk != policy.pk:
        raise ArchiveError(
            f"{policy} is not the current version any more; reload it.", code="conflict"
        )
    new = RetentionPolicy(
        key=current.key,
        version=current.version + 1,
        created_by=actor,
        reason=reason,
        **{name: getattr(current, name) for name in POLICY_FIELDS},
    )
    for name, value in changes.items():
        setattr(new, name, value)
    current.is_current, current.superseded_at = False, timezone.now()
    current.save(update_fields=["is_current", "superseded_at"])
    new.full_clean()
    new.save()
    audit_record(
        actor=actor,
        verb="policy.changed",
        obj=new,
        before=_snapshot(current),
        after=_snapshot(new),
        reason=reason,
    )
    return new


def _seed_one(spec: dict, actor) -> RetentionPolicy | None:
    fields = {k: v for k, v in spec.items() if k != "key"}
    policy = RetentionPolicy(key=spec["key"], created_by=actor, reason="default policy", **fields)
    policy.full_clean(validate_constraints=False)
    try:
        # Two seeders at once (two deploys): the unique constraint keeps one of each.
        with transaction.atomic():
            policy.save()
            audit_record(
                actor=actor,
                verb="policy.created",
                obj=policy,
                after=_snapshot(policy),
                reason=policy.reason,
            )
    except IntegrityError:
        return None
    return policy


def policies_seed_defaults(*, actor=None) -> list[RetentionPolicy]:
    """Create each default policy that does not exist yet (under any version); idempotent."""
    existing = set(RetentionPolicy.objects.values_list("key", flat=True))
    created = [_seed_one(spec, actor) for spec in DEFAULT_POLICIES if spec["key"] not in existing]
    return [policy for policy in created if policy is not None]


def policy_history(*, key: str) -> QuerySet:
    return RetentionPolicy.objects.filter(key=key).order_by("-version")
