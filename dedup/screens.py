"""Plain-language facts for the review screens: the pair's summary, each side's facts, the
warnings shown next to the decision buttons and the evidence grouped with human units."""

from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from archive.models import Asset
from dedup.selectors import published_bytes_ids, reference_collections

SIMILAR = "similar"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}".rstrip("0").rstrip(".")


def pair_summary(*, kind: str, evidence: dict, asset_a: Asset, asset_b: Asset) -> str:
    """One sentence a person would write: what b is, relative to a."""
    if kind == "exact":
        return "a and b are the same file (identical bytes)."
    if kind == SIMILAR:
        reason = evidence.get("reason") or "the evidence shows two captures"
        return f"b is a different photograph by the evidence: {reason}."
    parts = ["b has the same pixels as a" if kind == "pixel" else "b is the same photograph"]
    if asset_b.size and asset_a.size and asset_a.size != asset_b.size:
        if asset_b.size < asset_a.size:
            parts.append(f"{_ratio(asset_a.size, asset_b.size)}× smaller file")
        else:
            parts.append(f"{_ratio(asset_b.size, asset_a.size)}× larger file")
    qa = (evidence.get("a") or {}).get("jpeg_quality")
    qb = (evidence.get("b") or {}).get("jpeg_quality")
    if qa and qb and qa != qb:
        parts.append(f"JPEG quality {qa} → {qb}")
    if asset_a.format != asset_b.format:
        parts.append(f"{asset_a.format} → {asset_b.format}")
    if asset_a.pixel_count and asset_a.pixel_count != asset_b.pixel_count:
        parts.append(f"{round(100 * asset_b.pixel_count / asset_a.pixel_count)} % of the pixels")
    crop = (evidence.get("pixels") or {}).get("crop_percent")
    if crop and crop >= 1:
        parts.append(f"cropped ({round(crop)} % of the area removed)")
    return ", ".join(parts) + "."


def side_facts(*, asset: Asset, label: str, reference: dict, published: set, holds) -> dict:
    exif = asset.exif or {}
    camera = " ".join(v for v in (exif.get("Make"), exif.get("Model")) if v)
    collections = sorted({asset.collection.name, *(s.collection.name for s in asset.sources.all())})
    return {
        "label": label,
        "dimensions": f"{asset.width} × {asset.height}",
        "size": filesizeformat(asset.size),
        "format": asset.format,
        "captured": exif.get("DateTimeOriginal") or exif.get("DateTime") or "",
        "camera": camera,
        "collections": collections,
        "reference": reference.get(asset.pk, ""),
        "published": asset.pk in published or any(e.published for e in asset.entries.all()),
        "held": sorted({h.matter_reference for h in holds}),
    }


def pair_warnings(*, sides: list[dict], licences, licence_url: str) -> list[dict]:
    """What a curator must know before deciding, each with the place to act on it."""
    warnings = []
    for side in sides:
        facts, asset = side["facts"], side["asset"]
        if facts["held"]:
            warnings.append(
                {
                    "code": "legal_hold",
                    "text": f"{side['label']} (#{asset.pk}) is under legal hold "
                    f"({', '.join(facts['held'])}): confirming is refused until it is released.",
                }
            )
        if facts["reference"]:
            warnings.append(
                {
                    "code": "reference",
                    "text": f"Collection {facts['reference']} is a reference collection: "
                    f"{side['label']} (#{asset.pk}) is always the canonical and is never replaced.",
                }
            )
        if asset.pk in side["published_bytes"]:
            warnings.append(
                {
                    "code": "published_last_copy",
                    "text": f"{side['label']} (#{asset.pk}) holds published bytes: if it is "
                    "replaced it is the last archival copy of published bytes and will be "
                    "kept for ever (quarantined, never purged).",
                }
            )
    if licences.conflict:
        warnings.append(
            {
                "code": "licence_conflict",
                "text": "Licence terms differ ("
                + ", ".join(licences.differing_fields)
                + "): someone with the licensing permission must sign off first.",
                "link": licence_url,
                "link_text": "Review and sign off the licences",
            }
        )
    return warnings


def sides_build(assets: list[Asset], holds_of) -> list[dict]:
    ids = [a.pk for a in assets]
    reference = reference_collections(asset_ids=ids)
    published = published_bytes_ids(asset_ids=ids)
    sides = []
    for label, asset in zip("ab", assets, strict=True):
        holds = holds_of(asset)
        sides.append(
            {
                "label": label,
                "asset": asset,
                "holds": holds,
                "published_bytes": published,
                "facts": side_facts(
                    asset=asset, label=label, reference=reference, published=published, holds=holds
                ),
                "entries": list(
                    asset.entries.select_related("collection").prefetch_related("licences")
                ),
                "sources": list(asset.sources.select_related("collection")),
                "web": reverse("archive:asset-rendition", args=[asset.pk, "web"]),
                "file": reverse("archive:asset-file", args=[asset.pk]),
                "admin": reverse("admin:archive_asset_change", args=[asset.pk]),
            }
        )
    return sides


EVIDENCE_GROUPS = [
    (
        "Files",
        "side",
        [
            ("width", "width", "px"),
            ("height", "height", "px"),
            ("pixels", "pixels", ""),
            ("format", "format", ""),
            ("lossless", "lossless", ""),
            ("jpeg_quality", "JPEG quality", ""),
            ("size", "file size", "bytes"),
            ("mode", "colour mode", ""),
            ("frames", "frames", ""),
        ],
    ),
    (
        "EXIF",
        "pair",
        [
            ("capture_time", "capture time", ""),
            ("camera", "camera", ""),
            ("body_serial", "body serial", ""),
            ("exposure_bias", "exposure bias", "EV"),
            ("exposure_time", "exposure time", "s"),
            ("image_number", "image number", ""),
            ("orientation", "orientation", ""),
        ],
    ),
]
PIXEL_ROWS = [
    ("ssim", "structural similarity (1 = identical)"),
    ("correlation", "correlation"),
    ("crop_percent", "area cropped away (%)"),
    ("blocks_differing", "blocks that differ"),
    ("mean_abs_difference", "mean brightness difference (0–255)"),
    ("luma_shift_ev", "brightness shift of b (EV)"),
    ("chroma_difference", "colour difference"),
    ("identical", "identical pixel by pixel"),
    ("error", "note"),
]


def _human(value, unit: str):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "bytes" and isinstance(value, int):
        return filesizeformat(value)
    if unit and value not in (None, ""):
        return f"{value} {unit}"
    return value


def evidence_groups(evidence: dict) -> list[dict]:
    """The evidence as groups of (label, a, b) rows; rows where neither side says are left out."""
    groups = []
    a, b = evidence.get("a") or {}, evidence.get("b") or {}
    exif = evidence.get("exif") or {}
    for title, shape, rows in EVIDENCE_GROUPS:
        shown = []
        for key, label, unit in rows:
            if shape == "side":
                va, vb = a.get(key), b.get(key)
            else:
                va, vb = exif.get(f"{key}_a"), exif.get(f"{key}_b")
            if va is None and vb is None:
                continue
            shown.append((label, _human(va, unit), _human(vb, unit)))
        if shape == "pair" and exif.get("seconds_apart") is not None:
            shown.append(("seconds apart", exif["seconds_apart"], ""))
        if shown:
            groups.append({"title": title, "rows": shown})
    pixels = evidence.get("pixels") or {}
    shown = [
        (label, _human(pixels[key], ""), "")
        for key, label in PIXEL_ROWS
        if pixels.get(key) is not None
    ]
    if shown:
        groups.append(
            {"title": "Pixels (both decoded at reduced scale and aligned)", "rows": shown}
        )
    return groups
