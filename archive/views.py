"""Asset files and renditions for users who may view assets; thin views over storage.

An original is served as the format the probe detected (Asset.format), never as the type
its uploaded name suggests: a valid PNG called `report.html` is a PNG. Only the raster
types browsers render as plain pictures are inline; everything else is an attachment.
Every answer carries `X-Content-Type-Options: nosniff` and `Content-Security-Policy:
sandbox`, so even a misjudged file cannot run script on the admin's origin.
"""

import functools
import os

from django.contrib.auth.decorators import login_required, permission_required
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from PIL import Image

from archive import hooks
from archive.errors import InvalidImage
from archive.models import Asset, AuditEvent
from archive.renditions import RENDITION_SIZES, rendition_get_or_create
from archive.storage import bytes_open

# Formats a browser shows as a picture and nothing else; SVG, HTML and XML never qualify
# (Pillow does not read them, and the probe's format is all that is trusted here).
INLINE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif"}
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def asset_view_required(view):
    """Signed-in users holding archive.view_asset (as the API asks); others are refused."""

    @functools.wraps(view)
    @login_required(login_url=reverse_lazy("admin:login"))
    @permission_required("archive.view_asset", raise_exception=True)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        for name, value in FILE_HEADERS.items():
            response[name] = value
        return response

    return wrapped


def _content_type(fmt: str) -> str:
    Image.init()
    mime = INLINE_FORMATS.get(fmt) or Image.MIME.get(fmt, "")
    if not mime.startswith("image/") or any(k in mime for k in ("svg", "xml", "html")):
        return "application/octet-stream"
    return mime


def download_name(asset: Asset) -> str:
    """The uploaded name, with the detected format's extension when the name claims another."""
    stem = (
        os.path.basename((asset.original_filename or "").replace("\\", "/")) or f"asset-{asset.pk}"
    )
    ext = EXTENSIONS.get(asset.format) or f".{asset.format.lower() or 'bin'}"
    if stem.lower().endswith(ext) or (ext == ".jpg" and stem.lower().endswith(".jpeg")):
        return stem
    return stem + ext


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


def _unreadable_response(asset: Asset) -> HttpResponse:
    """503: the record says the bytes are held but storage cannot give them; alert on it.

    Not 410 (that is a purge, intended and recorded); a missing file is a fault an
    operator must look at, so the child apps re-check the bytes and record the failure
    (retention files a failed fixity check, shown as an alert in the admin).
    """
    for recheck in hooks.asset_bytes_unreadable:
        recheck(asset=asset)
    message = (
        f"The stored bytes of asset {asset.pk} are missing or unreadable; "
        "a fixity alert was recorded for the operators."
    )
    return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")


@asset_view_required
def asset_file(request, asset_id: int):
    asset = _live_asset(asset_id)
    if redirect := _replaced_redirect(asset, "archive:asset-file"):
        return redirect
    if asset.state == Asset.State.PURGED:
        return _purged_response(asset)
    try:
        fp = bytes_open(alias=asset.storage_alias, key=asset.storage_key)
    except OSError:
        return _unreadable_response(asset)
    return FileResponse(
        fp,
        as_attachment=asset.format not in INLINE_FORMATS,
        filename=download_name(asset),
        content_type=_content_type(asset.format),
    )


@asset_view_required
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
    except OSError:
        return _unreadable_response(asset)
    response = FileResponse(storages["default"].open(key, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
