"""Writes to the archive records; every state change is audited in its own transaction."""

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.holds import hold_refusals_audited, record_hold_check
from archive.lifecycle import assets_lock
from archive.models import CatalogueEntry, Collection, Licence

# A record may move to another asset (through its entry) while it waits for the locks;
# it is looked up again this many times before the save gives up with a conflict.
_RELOCK_ATTEMPTS = 3


@audited
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


def _field_values(obj, names=None) -> dict:
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname != "id" and (names is None or f.attname in names)
    }


def _record_assets(model, *, pk: int | None = None, values: dict | None = None) -> set[int]:
    """The assets a record describes: an entry's asset, a licence's entry's asset."""
    values = values or {}
    if model is CatalogueEntry:
        if "asset_id" in values:
            return {values["asset_id"]}
        return set(CatalogueEntry.objects.filter(pk=pk).values_list("asset_id", flat=True))
    if model is Licence:
        if "entry_id" in values:
            entries = CatalogueEntry.objects.filter(pk=values["entry_id"])
        else:
            entries = CatalogueEntry.objects.filter(licences=pk)
        return set(entries.values_list("asset_id", flat=True))
    return set()


def _attnames(model, changes: dict) -> dict:
    """The changes keyed by column (`collection` -> `collection_id`), values as stored."""
    columns = {}
    for name, value in changes.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist as exc:
            raise ArchiveError(f"{model.__name__} has no field {name}.", code="invalid") from exc
        if not field.concrete or field.primary_key:
            raise ArchiveError(f"{name} cannot be changed here.", code="invalid")
        if isinstance(value, models.Model):
            value = value.pk
        columns[field.attname] = value
    return columns


def _locked_row(model, *, pk: int, columns: dict):
    """Lock the assets the record describes (before and after), then the record itself."""
    for _attempt in range(_RELOCK_ATTEMPTS):
        assets = _record_assets(model, pk=pk) | _record_assets(model, values=columns)
        # The one lock order: assets by primary key first, then the record (a consolidation
        # locks the asset and then repoints its entries).
        assets_lock(assets)
        row = model.objects.select_for_update(no_key=True).get(pk=pk)
        described = _record_assets(model, pk=pk)
        if described <= assets:
            return row, described
    raise ArchiveError("The record moved while it was being saved; try again.", code="conflict")


def _record_create(*, obj, changes: dict, actor, reason: str):
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    audit_record(
        actor=actor,
        verb=f"{obj._meta.model_name}.created",
        obj=obj,
        after=_field_values(obj),
        reason=reason,
    )
    return obj


def _record_change(*, obj, changes: dict | None, actor, reason: str):
    model, pk = type(obj), obj.pk
    # Without changes, every field of obj counts and those equal to the locked row drop
    # out below: right for a copy read a moment ago, but a stale copy would write its
    # stale values back, so every interface (API, admin) passes `changes`.
    columns = _attnames(model, changes) if changes is not None else _field_values(obj)
    row, described = _locked_row(model, pk=pk, columns=columns)
    before = _field_values(row, columns)
    changed = {name: value for name, value in columns.items() if before[name] != value}
    if not changed:
        return row
    record_hold_check(
        record=row,
        asset_ids=described,
        fields=[model._meta.get_field(n).name for n in sorted(changed)],
        actor=actor,
    )
    for name, value in changed.items():
        setattr(row, name, value)
    row.full_clean()
    row.save(update_fields=sorted(changed))
    after = _field_values(row, changed)
    audit_record(
        actor=actor,
        verb=f"{model._meta.model_name}.changed",
        obj=row,
        before={name: before[name] for name in after},
        after=after,
        reason=reason,
    )
    return row


@hold_refusals_audited()
@audited
def record_save(*, obj, actor, reason: str = "", changes: dict | None = None):
    """Create a descriptive record (entry, licence, collection) or change one, audited.

    A new obj (no primary key) is saved with changes applied. For an existing record
    `changes` (field -> value) are applied to the row as locked, and only the columns
    they change are written: the caller's copy of the other fields may be stale and is
    never written back, so concurrent edits of different fields all survive. (Without
    changes, obj's fields that differ from the locked row are its changes.) A record
    under an active legal hold is not changed (see archive.holds.record_hold_check).
    """
    if obj.pk is None:
        return _record_create(obj=obj, changes=changes or {}, actor=actor, reason=reason)
    return _record_change(obj=obj, changes=changes, actor=actor, reason=reason)
