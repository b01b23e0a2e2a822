"""What dedup tells the archive about assets, through the archive's declared hooks."""

from django.db.models import Q

from archive import hooks
from archive.models import Asset
from dedup.models import DuplicateCandidate, Fingerprint

_MASK = (1 << 64) - 1


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value & _MASK:016x}"


def asset_facts_fingerprint(*, asset_ids: list[int]) -> dict[int, dict]:
    """The fingerprint of each asset of a page, as the API shows it (one query)."""
    rows = Fingerprint.objects.filter(asset__in=asset_ids).values(
        "asset_id", "phash", "dhash", "low_information", "hash_version", "error"
    )
    return {
        row["asset_id"]: {
            "fingerprint": {
                "phash": _hex(row["phash"]),
                "dhash": _hex(row["dhash"]),
                "low_information": row["low_information"],
                "hash_version": row["hash_version"],
                "error": row["error"],
            }
        }
        for row in rows
    }


def assets_paired_by_kind(*, kind: str):
    """Ids of assets in a candidate pair of kind, as a subquery."""
    pairs = DuplicateCandidate.objects.filter(kind=kind)
    either = Q(pk__in=pairs.values("asset_a")) | Q(pk__in=pairs.values("asset_b"))
    return Asset.objects.filter(either).values("pk")


def facts_register() -> None:
    hooks.asset_facts.register(asset_facts_fingerprint)
    hooks.assets_paired.register(assets_paired_by_kind)
