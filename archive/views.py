"""Asset files and renditions for signed-in staff; thin views over selectors and storage."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from archive.errors import InvalidImage
from archive.models import Asset, AuditEvent
from archive.renditions import RENDITION_SIZES, rendition_get_or_create
from archive.storage import bytes_open


def _live_asset(asset_id: int) -> Asset:
    try:
        asset = Asset.objects.get(pk=asset_id)
    except Asset.DoesNotExist as exc:
        raise Http404("No such asset.") from exc
    return asset


def asset_canonical(asset: Asset) -> Asset:
    """Follow replaced_by to the asset that now stands for this one."""
    seen = {asset.pk}
    while asset.replaced_by_id is not None and asset.replaced_by_id not in seen:
        seen.add(asset.replaced_by_id)
        asset = Asset.objects.get(pk=asset.replaced_by_id)
    return asset


def _replaced_redirect(asset: Asset, view_name: str, **kwargs):
    # Temporary redirect: a consolidation can be undone within its restore window.
    canonical = asset_canonical(asset)
    if canonical.pk == asset.pk:
        return None
    return HttpResponseRedirect(reverse(view_name, kwargs={"asset_id": canonical.pk, **kwargs}))


def _purged_response(asset: Asset) -> HttpResponse:
    """410 Gone, saying when and why the bytes were purged (from the audit trail)."""
    event = (
        AuditEvent.objects.filter(
            verb="asset.purged", object_type="archive.asset", object_id=str(asset.pk)
        )
        .order_by("-sequence")
        .first()
    )
    when = f" on {event.created_at:%Y-%m-%d}" if event else ""
    why = f" ({event.reason})" if event and event.reason else ""
    message = f"This asset was purged{when}{why}; its record is kept."
    return HttpResponse(message, status=410, content_type="text/plain; charset=utf-8")


@staff_member_required
def asset_file(request, asset_id: int):
    asset = _live_asset(asset_id)
    if redirect := _replaced_redirect(asset, "archive:asset-file"):
        return redirect
    if asset.state == Asset.State.PURGED:
        return _purged_response(asset)
    fp = bytes_open(alias=asset.storage_alias, key=asset.storage_key)
    return FileResponse(fp, filename=asset.original_filename)


@staff_member_required
def asset_rendition(request, asset_id: int, size: str):
    if size not in RENDITION_SIZES:
        raise Http404("Unknown rendition size.")
    asset = _live_asset(asset_id)
    if redirect := _replaced_redirect(asset, "archive:asset-rendition", size=size):
        return redirect
    if asset.state == Asset.State.PURGED:
        return _purged_response(asset)
    try:
        key = rendition_get_or_create(asset=asset, size=size)
    except InvalidImage as exc:
        return HttpResponse(exc.message, status=422)
    response = FileResponse(storages["default"].open(key, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
