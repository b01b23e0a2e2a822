"""Synthetic fingerprints for index tests: many assets without decoding any image."""

import random

from archive.models import Asset
from dedup.imaging import HASH_VERSION, signed64
from dedup.index import phash_bands
from dedup.models import Fingerprint


def flip_bits(code: int, count: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), count):
        code ^= 1 << bit
    return code


def synthetic_fingerprints(*, collection, codes: list[int], low_information=()) -> list[int]:
    """Create one asset and fingerprint per code (unsigned); return the asset ids in order."""
    offset = Asset.objects.count()
    assets = Asset.objects.bulk_create(
        Asset(
            sha256=f"{offset + i:064x}",
            size=1,
            format="JPEG",
            width=1,
            height=1,
            storage_key=f"synthetic/{offset + i}",
            collection=collection,
            original_path=f"synthetic/{offset + i}.jpg",
            original_filename=f"{offset + i}.jpg",
        )
        for i in range(len(codes))
    )
    Fingerprint.objects.bulk_create(
        Fingerprint(
            asset=asset,
            sha256=asset.sha256,
            phash=signed64(code),
            dhash=signed64(code),
            low_information=i in low_information,
            hash_version=HASH_VERSION,
            **{f"phash_b{b}": v for b, v in enumerate(phash_bands(phash=code))},
        )
        for i, (asset, code) in enumerate(zip(assets, codes, strict=True))
    )
    return [asset.pk for asset in assets]
