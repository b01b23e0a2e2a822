"""Licences across a group of assets: compare their terms side by side, sign off conflicts.

A group is the set of assets a decision is about (a duplicate pair or cluster). Its
records are every catalogue entry pointing at any of them; each entry carries zero or more
licences. Entries whose sets of licence terms differ are a licence conflict, and nothing
may consolidate or remove the group until a user with `archive.sign_off_licence` signs it
off. A sign-off names the exact group and a fingerprint of the exact terms it was made
on, so any later licence change (or a new record) makes the conflict unresolved again.
The fingerprint comes from the person's screen, not from the database at submission:
a sign-off on terms that changed while the person was reading them is refused.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from archive.actors import SYSTEM, actor_require
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.models import Asset, CatalogueEntry, Licence, LicenceSignOff

# The fields that make up a licence's terms, in the order the comparison shows them.
TERM_FIELDS = (
    "licence_type",
    "holder",
    "territory",
    "valid_from",
    "valid_until",
    "restrictions",
    "credit_line",
    "agreement_reference",
)


class LicenceFlag(StrEnum):
    EXPIRED = "expired"  # valid_until is past
    NOT_YET_VALID = "not_yet_valid"  # valid_from is in the future
    RESTRICTED = "restricted"  # usage restrictions recorded
    UNKNOWN_TERMS = "unknown_terms"  # licence type unknown
    UNLICENSED = "unlicensed"  # a record with no licence at all


@dataclass(frozen=True)
class LicenceColumn:
    """One licence of one record (or the absence of any), as shown side by side."""

    asset_id: int
    entry_id: int
    entry_title: str
    licence_id: int | None
    terms: dict | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class LicenceComparison:
    """Every licence on every record behind a group of assets, and whether they conflict."""

    asset_ids: tuple[int, ...]
    columns: tuple[LicenceColumn, ...]
    conflict: bool
    differing_fields: tuple[str, ...]
    group_key: str
    terms_fingerprint: str

    def rows(self) -> list[tuple[str, list, bool]]:
        """Field by field: (field, the value in each column, whether the values differ)."""
        table = []
        for name in TERM_FIELDS:
            values = [column.terms.get(name) if column.terms else None for column in self.columns]
            table.append((name, values, name in self.differing_fields))
        return table

    def as_json(self) -> list[dict]:
        return json.loads(json.dumps([asdict(c) for c in self.columns], cls=DjangoJSONEncoder))


def _canonical(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def licence_group_key(*, asset_ids: Iterable[int]) -> str:
    """A stable name for a set of assets, whatever order they come in."""
    return _sha256(",".join(str(pk) for pk in sorted(set(asset_ids))))


def licence_terms(licence: Licence) -> dict:
    return {name: getattr(licence, name) for name in TERM_FIELDS}


def licence_flags(*, licence: Licence | None, on: dt.date) -> tuple[str, ...]:
    """What deserves a warning about one licence (None: a record without a licence) on a day."""
    if licence is None:
        return (LicenceFlag.UNLICENSED.value,)
    flags = []
    if licence.valid_until is not None and licence.valid_until < on:
        flags.append(LicenceFlag.EXPIRED.value)
    if licence.valid_from is not None and licence.valid_from > on:
        flags.append(LicenceFlag.NOT_YET_VALID.value)
    if licence.restrictions.strip():
        flags.append(LicenceFlag.RESTRICTED.value)
    if licence.licence_type == Licence.Type.UNKNOWN:
        flags.append(LicenceFlag.UNKNOWN_TERMS.value)
    return tuple(flags)


def _asset_ids(assets: Iterable[Asset]) -> tuple[int, ...]:
    ids = tuple(sorted({asset.pk for asset in assets}))
    if not ids:
        raise ArchiveError("Name at least one asset.")
    return ids


def _columns(asset_ids: tuple[int, ...], on: dt.date) -> list[LicenceColumn]:
    entries = (
        CatalogueEntry.objects.filter(asset__in=asset_ids)
        .prefetch_related("licences")
        .order_by("asset_id", "pk")
    )
    columns = []
    for entry in entries:
        licences = sorted(entry.licences.all(), key=lambda licence: licence.pk) or [None]
        for licence in licences:
            columns.append(
                LicenceColumn(
                    asset_id=entry.asset_id,
                    entry_id=entry.pk,
                    entry_title=entry.title,
                    licence_id=licence.pk if licence else None,
                    terms=licence_terms(licence) if licence else None,
                    flags=licence_flags(licence=licence, on=on),
                )
            )
    return columns


def _conflict(columns: list[LicenceColumn]) -> tuple[bool, tuple[str, ...]]:
    # Records, not single licences, are compared: two records each holding the same staff
    # and agency licences agree, even though their two licences differ from each other.
    per_entry: dict[int, set[str]] = {}
    for column in columns:
        per_entry.setdefault(column.entry_id, set()).add(_canonical(column.terms))
    if len({frozenset(terms) for terms in per_entry.values()}) <= 1:
        return False, ()
    differing = tuple(
        name
        for name in TERM_FIELDS
        if len({_canonical(c.terms.get(name) if c.terms else None) for c in columns}) > 1
    )
    return True, differing


def licence_terms_compare(
    *, assets: Iterable[Asset], on: dt.date | None = None
) -> LicenceComparison:
    """Show every licence of every record pointing at any of assets, and whether they conflict."""
    asset_ids = _asset_ids(assets)
    columns = _columns(asset_ids, on or timezone.localdate())
    conflict, differing = _conflict(columns)
    # The fingerprint covers which record holds which terms, so a changed licence, a new
    # licence or a new record each make an earlier sign-off stale. Which asset a record
    # points at is left out: consolidating the group repoints records without changing
    # any terms, and must not undo the sign-off it was made under.
    fingerprint = _sha256(
        _canonical(
            {
                "assets": asset_ids,
                "licences": sorted(
                    [[c.entry_id, c.licence_id, c.terms] for c in columns],
                    key=lambda column: (column[0], column[1] or 0),
                ),
            }
        )
    )
    return LicenceComparison(
        asset_ids=asset_ids,
        columns=tuple(columns),
        conflict=conflict,
        differing_fields=differing,
        group_key=licence_group_key(asset_ids=asset_ids),
        terms_fingerprint=fingerprint,
    )


def licence_sign_off_current(*, comparison: LicenceComparison) -> LicenceSignOff | None:
    """The sign-off made on exactly these terms for exactly this group, if any."""
    return LicenceSignOff.objects.filter(
        group_key=comparison.group_key, terms_fingerprint=comparison.terms_fingerprint
    ).first()


def licence_conflict_unresolved(*, assets: Iterable[Asset]) -> bool:
    """Whether the records behind assets carry differing licence terms nobody signed off."""
    comparison = licence_terms_compare(assets=assets)
    return comparison.conflict and licence_sign_off_current(comparison=comparison) is None


def asset_licence_flags(
    *, assets: Iterable[Asset], on: dt.date | None = None
) -> dict[int, tuple[str, ...]]:
    """Per asset, the warnings (expired, restricted, …) of the licences of its records."""
    asset_ids = _asset_ids(assets)
    flags: dict[int, set[str]] = {pk: set() for pk in asset_ids}
    for column in _columns(asset_ids, on or timezone.localdate()):
        flags[column.asset_id].update(column.flags)
    return {pk: tuple(sorted(found)) for pk, found in flags.items()}


def _shown_terms_check(*, comparison: LicenceComparison, terms_fingerprint: str) -> None:
    if not (terms_fingerprint or "").strip():
        raise ArchiveError(
            "A licence sign-off names the terms it was made on (their fingerprint, as shown).",
            code="invalid",
        )
    if terms_fingerprint.strip() != comparison.terms_fingerprint:
        # A sign-off accepts what the person read; terms that changed since were not read.
        raise ArchiveError(
            "The licence terms of these records changed after they were shown to you "
            "(a licence or a record was added, edited or removed). Review the terms as they "
            "are now and sign off again.",
            code="conflict",
        )


@audited
def licence_conflict_sign_off(
    *, assets: Iterable[Asset], terms_fingerprint: str, reason: str, actor
) -> LicenceSignOff:
    """Record that a user with the licensing permission accepts the differing terms shown.

    terms_fingerprint is the `LicenceComparison.terms_fingerprint` of the comparison the
    person was shown; the sign-off is refused (code "conflict") when the terms are no
    longer those, and otherwise stores exactly those terms.
    """
    actor_require(actor, "archive.sign_off_licence", "sign off licence conflicts")
    if actor is SYSTEM:
        # Accepting differing terms is a person's judgement, and names that person.
        raise ArchiveError("Only a person signs off licence conflicts.", code="permission_denied")
    if not reason.strip():
        raise ArchiveError("A licence sign-off needs a reason.")
    comparison = licence_terms_compare(assets=assets)
    _shown_terms_check(comparison=comparison, terms_fingerprint=terms_fingerprint)
    if not comparison.conflict:
        raise ArchiveError("These records carry the same licence terms: nothing to sign off.")
    if licence_sign_off_current(comparison=comparison) is not None:
        raise ArchiveError("This licence conflict is already signed off on these terms.")
    sign_off = LicenceSignOff(
        group_key=comparison.group_key,
        asset_ids=list(comparison.asset_ids),
        terms_fingerprint=comparison.terms_fingerprint,
        terms=comparison.as_json(),
        reason=reason.strip(),
        signed_by=actor,
    )
    sign_off.full_clean(validate_constraints=False)
    try:
        # Two people signing off the same terms at once: the unique constraint keeps one.
        with transaction.atomic():
            sign_off.save()
    except IntegrityError as exc:
        raise ArchiveError("This licence conflict is already signed off on these terms.") from exc
    audit_record(
        actor=actor,
        verb="licence.conflict_signed_off",
        obj=sign_off,
        after={
            "assets": list(comparison.asset_ids),
            "differing_fields": list(comparison.differing_fields),
            "terms_fingerprint": comparison.terms_fingerprint,
        },
        reason=sign_off.reason,
    )
    return sign_off
