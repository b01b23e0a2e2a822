"""Writes to the archive records; every state change is audited in its own transaction."""

from django.db import transaction

from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.models import CatalogueEntry, Collection


@transaction.atomic
def collection_get_or_create(*, name: str, actor=None) -> Collection:
    """Return the collection called name, creating (and auditing) it when new."""
    name = name.strip()
    if not name:
        raise ArchiveError("A collection needs a name.")
    collection, created = Collection.objects.get_or_create(name=name)
    if created:
        audit_record(actor=actor, verb="collection.created", obj=collection, after={"name": name})
    return collection


def entry_snapshot(entry: CatalogueEntry) -> dict:
    return {
        "asset": entry.asset_id,
        "collection": entry.collection_id,
        "title": entry.title,
        "description": entry.description,
        "accession_number": entry.accession_number,
        "creator": entry.creator,
        "date_start": entry.date_start,
        "date_end": entry.date_end,
        "subjects": entry.subjects,
        "published": entry.published,
        "published_at": entry.published_at,
        "published_sha256": entry.published_sha256,
    }


def _field_values(obj) -> dict:
    return {
        f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname != "id"
    }


@transaction.atomic
def record_save(*, obj, actor, reason: str = ""):
    """Validate and save a descriptive record (entry, licence, hold) with its audit event."""
    model = type(obj)
    before = None
    if obj.pk is not None:
        before = _field_values(model.objects.select_for_update(no_key=True).get(pk=obj.pk))
    obj.full_clean()
    obj.save()
    after = _field_values(obj)
    changed = {k: v for k, v in after.items() if before is None or before.get(k) != v}
    if before is not None and not changed:
        return obj
    verb = f"{model._meta.model_name}.{'created' if before is None else 'changed'}"
    audit_record(
        actor=actor,
        verb=verb,
        obj=obj,
        before={k: before[k] for k in changed} if before else None,
        after=changed,
        reason=reason,
    )
    return obj
