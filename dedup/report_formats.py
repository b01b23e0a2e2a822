"""Render a duplication report as JSON, CSV or a self-contained HTML page."""

import base64
import csv
import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string

from archive.audit_export import csv_cell_safe
from archive.errors import InvalidImage
from archive.models import Asset
from archive.renditions import rendition_render
from archive.storage import bytes_open

FORMATS = ("json", "csv", "html")
TOP_GROUPS = 12
THUMB_EDGE = 160
CSV_COLUMNS = [
    "a_id",
    "a_path",
    "a_sha256",
    "b_id",
    "b_path",
    "b_sha256",
    "kind",
    "phash",
    "dhash",
    "status",
    "reason",
]


def report_json(report: dict) -> str:
    return json.dumps(report, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False) + "\n"


def report_csv(report: dict) -> str:
    """One row per pair; paths and reasons come from files, so no cell starts a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for pair in report["pairs"]:
        a, b = pair["a"], pair["b"]
        cells = [
            a["id"],
            a["path"],
            a["sha256"],
            b["id"],
            b["path"],
            b["sha256"],
            pair["kind"],
            pair["distances"]["phash"],
            pair["distances"]["dhash"],
            pair.get("status", ""),
            pair["evidence"].get("reason", ""),
        ]
        writer.writerow([csv_cell_safe(cell) for cell in cells])
    return buffer.getvalue()


def _thumbnail(*, asset_id=None, path=None) -> str:
    """A data: URI thumbnail, made in memory so the report writes nothing to storage."""
    try:
        if asset_id is not None:
            asset = Asset.objects.get(pk=asset_id)
            with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as fp:
                data = rendition_render(fp=fp, edge=THUMB_EDGE)
        else:
            with open(path, "rb") as fp:
                data = rendition_render(fp=fp, edge=THUMB_EDGE)
    except (InvalidImage, OSError, Asset.DoesNotExist):
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _chart(by_collection: dict) -> list[dict]:
    peak = max(
        [row["reclaimable_bytes"] + row["bytes_avoided"] for row in by_collection.values()] + [1]
    )
    return [
        {
            "name": name,
            **row,
            "y": 24 * i + 14,
            "reclaimable_width": round(360 * row["reclaimable_bytes"] / peak, 1),
            "avoided_width": round(360 * row["bytes_avoided"] / peak, 1),
        }
        for i, (name, row) in enumerate(by_collection.items())
    ]


def _top_groups(report: dict) -> list[list[dict]]:
    sides = {}
    for pair in report["pairs"]:
        for side in (pair["a"], pair["b"]):
            sides[side["id"] if side["id"] is not None else side["path"]] = side
    groups = []
    for members in report["groups"][:TOP_GROUPS]:
        groups.append(
            [
                {
                    **sides[m],
                    "thumbnail": _thumbnail(asset_id=sides[m]["id"])
                    if sides[m]["id"] is not None
                    else _thumbnail(path=sides[m]["path"]),
                }
                for m in members
            ]
        )
    return groups


def report_html(report: dict) -> str:
    summary = report["summary"]
    chart = _chart(summary["by_collection"])
    return render_to_string(
        "dedup/report.html",
        {
            "summary": summary,
            "chart": chart,
            "chart_height": 24 * len(chart) + 10,
            "groups": _top_groups(report),
            "exact_groups": report["exact_groups"][:TOP_GROUPS],
            "pairs": report["pairs"][:200],
        },
    )


def report_render(*, report: dict, fmt: str) -> str:
    """The report in one of FORMATS."""
    return {"json": report_json, "csv": report_csv, "html": report_html}[fmt](report)
