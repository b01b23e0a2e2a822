"""The release notice: what changed since the previous release, as JSON and as HTML."""

from django.template.loader import render_to_string

from archive.models import Asset


def _canonical_of(asset_id: int) -> int | None:
    """The asset at the end of asset_id's replaced_by chain, None if it was never replaced."""
    seen, current = [asset_id], asset_id
    while True:
        above = Asset.objects.filter(pk=current).values_list("replaced_by", flat=True).first()
        if above is None or above in seen:
            return None if current == asset_id else current
        seen.append(above)
        current = above


def _changed_fields(before: dict, after: dict) -> list[str]:
    changed = []
    for key in sorted(set(before) | set(after)):
        if key == "records":
            continue
        if before.get(key) != after.get(key):
            changed.append(key)
    old = {r["entry"]: r for r in before.get("records", [])}
    new = {r["entry"]: r for r in after.get("records", [])}
    for entry in sorted(set(old) | set(new)):
        if entry not in new:
            changed.append(f"record {entry} removed")
        elif entry not in old:
            changed.append(f"record {entry} added")
        else:
            changed += [
                f"record {entry}: {name}"
                for name in sorted(set(old[entry]) | set(new[entry]))
                if old[entry].get(name) != new[entry].get(name)
            ]
    return changed


def _removed(item: dict, current: dict[int, dict], left_out: dict[int, str]) -> dict:
    row = {
        "asset": item["asset"],
        "sha256": item["sha256"],
        "path": item["path"],
        "records": [r["entry"] for r in item["metadata"]["records"]],
    }
    canonical = _canonical_of(item["asset"])
    if canonical is not None:
        replacement = current.get(canonical)
        row.update(
            reason="duplicate",
            canonical=canonical,
            canonical_path=replacement["path"] if replacement else None,
            canonical_sha256=replacement["sha256"] if replacement else None,
        )
        if replacement is None:
            row["note"] = "the canonical file is not in this release"
    else:
        row["reason"] = left_out.get(item["asset"], "no longer in the released collections")
    return row


def notice_build(
    *,
    dataset: str,
    version: int,
    released_at: str,
    previous,
    items: list[dict],
    left_out: list[dict],
) -> dict:
    """What a portal posts: files removed (duplicates with their canonical), added, changed."""
    before = {item["asset"]: item for item in (previous.items if previous else [])}
    current = {item["asset"]: item for item in items}
    reasons = {}
    for row in left_out:
        reasons.setdefault(row["asset"], row["reason"])
    removed = [_removed(before[pk], current, reasons) for pk in sorted(set(before) - set(current))]
    added = [
        {"asset": pk, "path": current[pk]["path"], "sha256": current[pk]["sha256"]}
        for pk in sorted(set(current) - set(before))
    ]
    changed = []
    for pk in sorted(set(current) & set(before)):
        fields = _changed_fields(before[pk]["metadata"], current[pk]["metadata"])
        if fields:
            changed.append({"asset": pk, "path": current[pk]["path"], "changed": fields})
    return {
        "dataset": dataset,
        "version": version,
        "released_at": released_at,
        "previous_version": previous.version if previous else None,
        "files": len(items),
        "records": sum(len(item["metadata"]["records"]) for item in items),
        "removed_as_duplicates": [r for r in removed if r["reason"] == "duplicate"],
        "removed": [r for r in removed if r["reason"] != "duplicate"],
        "added": added,
        "changed_metadata": changed,
        "left_out": left_out,
    }


def notice_html(notice: dict) -> str:
    return render_to_string("dedup/release_notice.html", {"notice": notice})
